import type { Namespace, Socket } from 'socket.io';
import { ChatError } from '../../core/errors.ts';
import type { LobbyEvent, Room } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';

/** socket.io-parser's PacketType.EVENT. */
const EVENT = 2;

export type Ack = (answer: object) => void;

/** A pre-encoded packet, written as it is to every socket (Socket.IO's broadcast does the same). */
export interface Encoded {
  packets: unknown[];
  options: { preEncoded: true };
}

/** What Socket.IO's Client offers to write packets encoded once (its broadcast path). */
interface PacketWriter {
  _packet(packets: unknown[], options: object): void;
}

/** socket.io-adapter's `_encode`: the packet, plus a ready WebSocket frame for every ws socket. */
interface PacketEncoder {
  _encode(packet: object, options: object): unknown[];
}

/** An event of namespace `nsp`, encoded once for every socket it goes to. */
export function encode(nsp: Namespace, type: string, data: unknown): Encoded {
  const options = { preEncoded: true as const };
  const adapter = nsp.adapter as unknown as PacketEncoder;
  const packets = adapter._encode({ type: EVENT, nsp: nsp.name, data: [type, data] }, options);
  return { packets, options };
}

/** Writes a pre-encoded event to one socket. */
export function writeEncoded(socket: Socket, encoded: Encoded): void {
  (socket.client as unknown as PacketWriter)._packet(encoded.packets, encoded.options);
}

/** A Room as the book's lobby (`main.html`) reads it: its id as `_id`, and a `password` flag. */
export type BookRoom = Room & { _id: string; password: boolean };

/**
 * PROTOCOL.md, Socket.IO: the lobby on `/room` speaks the book's payloads, so the book's own page
 * works unchanged. `newRoom` and `roomUpdate` carry the Room plus `_id` and `password` (whether it
 * has one, never its text); `removeRoom` carries the bare id (the book compares `data-id === data`).
 */
export function bookLobbyPayload(event: LobbyEvent): BookRoom | string {
  if (event.type === 'removeRoom') return event.data.id;
  return { ...event.data, _id: event.data.id, password: event.data.hasPassword };
}

/** An event's payload and, when its last argument is one, its acknowledgement. */
export function takeAck(args: unknown[]): [unknown, Ack | undefined] {
  const last = args.at(-1);
  if (typeof last !== 'function') return [args[0], undefined];
  return [args.length > 1 ? args[0] : undefined, last as Ack];
}

/** A namespace middleware refusal: the client's `connect_error` has `message` and `data`. */
export function connectRefusal(message: string, status: number, sentence: string): Error {
  return Object.assign(new Error(message), { data: { status, error: sentence } });
}

/**
 * `join` takes a room id (as in the book) or `{room, after?}`. A payload of the wrong shape is a
 * 400; a room that is not an id (an object included) names no room: 404, as everywhere.
 */
export function joinInput(payload: unknown): { room: string; after?: number } {
  if (typeof payload === 'string') return { room: validate.roomId(payload) };
  const fields = record(payload, 'join takes a room id, or {room, after}.');
  return { room: validate.roomId(fields.room), after: validate.cursor(fields.after) };
}

export function chatInput(payload: unknown): { room: string; body: Record<string, unknown> } {
  const fields = record(payload, 'chat takes {room, chat, toId?}.');
  return {
    room: validate.roomId(fields.room),
    body: { chat: fields.chat, toId: fields.toId, to: fields.to },
  };
}

function record(payload: unknown, sentence: string): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new ChatError(400, sentence);
  }
  return payload as Record<string, unknown>;
}

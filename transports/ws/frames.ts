import { ChatError } from '../../core/errors.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import { encodeOnce } from '../transport.ts';

/** A frame from a client: a JSON object with a `type` (PROTOCOL.md, Raw WebSocket). */
export type Frame = Record<string, unknown>;

export const ORIGIN_REFUSED = 'Connections from another site are refused (Origin check).';
export const NOT_A_FRAME =
  'A frame must be a JSON object in a text frame, such as {"type":"subscribe"}.';
export const UNKNOWN_TYPE = 'The frame type must be subscribe, unsubscribe or chat.';
export const NO_TARGET = 'Name a room ("room": ID) or the lobby ("lobby": true), not both.';
const BAD_REF = 'ref must be a string of at most 64 characters or a number.';

/** A text frame's JSON object, or a 400 ChatError for anything else (binary, not JSON, not an object). */
export function parseFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Frame {
  let frame: unknown;
  try {
    frame = isBinary ? undefined : JSON.parse(String(data));
  } catch {
    frame = undefined;
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    throw new ChatError(400, NOT_A_FRAME);
  }
  return frame as Frame;
}

/** The room and cursor of a room `subscribe` frame (400, or 404 for a room that is no id). */
export function roomTarget(frame: Frame): { room: string; after: number | undefined } {
  if (frame.room === undefined) throw new ChatError(400, NO_TARGET);
  return { room: validate.roomId(frame.room), after: validate.cursor(frame.after) };
}

/** Whether a frame names the lobby alone; a frame naming neither or both is a 400. */
export function namesLobby(frame: Frame): boolean {
  if (frame.lobby === true && frame.room === undefined) return true;
  if (frame.lobby !== undefined || frame.room === undefined) throw new ChatError(400, NO_TARGET);
  return false;
}

/** A chat frame's `ref`, echoed in its `sent` answer and its `error` (400 when malformed). */
export function refOf(frame: Frame): string | number | undefined {
  const { ref } = frame;
  if (ref === undefined) return undefined;
  if ((typeof ref === 'string' && ref.length <= 64) || Number.isSafeInteger(ref)) {
    return ref as string | number;
  }
  throw new ChatError(400, BAD_REF);
}

/** `{"type","id"?,"data"}` as UTF-8, once per event, the same Buffer for every socket. */
export const encodeEvent = encodeOnce((event: RoomEvent | LobbyEvent) => encodeFrame(event));

export function encodeFrame(frame: { type: string; id?: number; data: unknown }): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

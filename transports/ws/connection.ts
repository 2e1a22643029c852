import { type RawData, WebSocket } from 'ws';
import type { RoomSubscriber, Subscription, Visitor } from '../../core/chat.ts';
import type { Language } from '../../core/language.ts';
import { logger } from '../../core/log.ts';
import type { RoomEvent } from '../../core/model.ts';
import { SendBound } from '../transport.ts';
import { encodeEvent, encodeFrame, type Frame } from './frames.ts';

const debug = logger('ws');

/**
 * One room subscription of a socket, and its subscriber: it forwards events while it is the
 * socket's one for the room. A class, so that every subscription shares one `onEvent` and `onEnd`
 * (per-subscription arrows cost a closure each, and under tsx a `name` dictionary each).
 */
export class RoomFollow implements RoomSubscriber {
  readonly room: string;
  readonly connection: WsConnection;
  subscription: Subscription | null = null;

  constructor(connection: WsConnection, room: string) {
    this.connection = connection;
    this.room = room;
  }

  /** Whether it is the socket's subscription to its room (not replaced, not ended). */
  get current(): boolean {
    return this.connection.follows(this);
  }

  onEvent(event: RoomEvent): void {
    if (this.current) this.connection.sendEvent(encodeEvent(event));
  }

  /** The core has closed the subscription; the socket stays open for its other ones. */
  onEnd(): void {
    this.connection.forget(this);
  }
}

/** What a connection needs of its transport: its frames, its end, its counters, its wording. */
export interface ConnectionHooks {
  message(connection: WsConnection, data: RawData, isBinary: boolean): void;
  closed(connection: WsConnection): void;
  countEvent(): void;
  /** The bound cut the connection off. */
  countCutOff(): void;
  refusal(what: string, error: unknown, language: Language): { error: string; status: number };
}

/**
 * The server's WebSocket class (ws's `WebSocket` option): it carries its connection, so that
 * every socket shares the same four listeners instead of four closures of its own.
 */
export class LabSocket extends WebSocket {
  connection: WsConnection | null = null;
}

// ws calls its listeners with the socket as `this`: one of ours, made by the server.
function socketOnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const connection = (this as LabSocket).connection;
  connection?.hooks.message(connection, data, isBinary);
}

function socketOnClose(this: WebSocket): void {
  const connection = (this as LabSocket).connection;
  connection?.hooks.closed(connection);
}

function socketOnPong(this: WebSocket): void {
  (this as LabSocket).connection?.answered();
}

// Oversized frames (1009) and broken peers end here; the socket closes by itself after.
function socketOnError(error: Error): void {
  debug('socket error: %s', error.message);
}

/**
 * One upgraded socket: its visitor (read once from the upgrade's session), its room subscriptions
 * and the lobby at most, the bound on its unsent output and its heartbeat.
 */
export class WsConnection {
  readonly socket: LabSocket;
  readonly visitor: Visitor;
  /** The language its upgrade asked for (`?lang=`, else Accept-Language): its `error` frames say it. */
  readonly language: Language;
  /**
   * Its subscription to each room it follows: most sockets follow one, held in a field; a Map
   * (some 190 bytes) only from the second on.
   */
  #room: RoomFollow | null = null;
  #rooms: Map<string, RoomFollow> | null = null;
  lobby: { close(): void } | null = null;
  /** Answered the last ping (the ws README's heartbeat). */
  #alive = true;
  /** A replay the client asked for is being written: one burst, allowed on top of the bound. */
  #replaying = false;
  readonly #bound: SendBound;
  readonly hooks: ConnectionHooks;

  constructor(
    socket: LabSocket,
    visitor: Visitor,
    language: Language,
    maxQueueBytes: number,
    hooks: ConnectionHooks,
  ) {
    this.socket = socket;
    this.visitor = visitor;
    this.language = language;
    this.#bound = new SendBound(maxQueueBytes);
    this.hooks = hooks;
    socket.connection = this;
    socket.on('message', socketOnMessage);
    socket.on('close', socketOnClose);
    socket.on('pong', socketOnPong);
    socket.on('error', socketOnError);
  }

  /** It answered the last ping. */
  answered(): void {
    this.#alive = true;
  }

  /** The socket's subscription to `room`, if it follows it. */
  following(room: string): RoomFollow | undefined {
    if (this.#room?.room === room) return this.#room;
    return this.#rooms?.get(room);
  }

  /** `follow` becomes the socket's subscription to its room, in place of any earlier one. */
  adopt(follow: RoomFollow): void {
    if (this.#rooms?.has(follow.room)) this.#rooms.set(follow.room, follow);
    else if (this.#room === null || this.#room.room === follow.room) this.#room = follow;
    else {
      this.#rooms ??= new Map();
      this.#rooms.set(follow.room, follow);
    }
  }

  /** Whether `follow` is the socket's subscription to its room (not replaced, not ended). */
  follows(follow: RoomFollow): boolean {
    return this.following(follow.room) === follow;
  }

  forget(follow: RoomFollow): void {
    follow.subscription?.close();
    if (!this.follows(follow)) return;
    if (this.#room === follow) this.#room = null;
    else this.#rooms!.delete(follow.room);
  }

  /** Every subscription of the socket ends (it closed). */
  forgetAll(): void {
    if (this.#room) this.forget(this.#room);
    for (const follow of this.#rooms?.values() ?? []) this.forget(follow);
    this.lobby?.close();
    this.lobby = null;
  }

  sendEvent(frame: Buffer): void {
    if (this.send(frame)) this.hooks.countEvent();
  }

  /**
   * Every frame counts against the bound, events and answers alike: a client that floods bad
   * frames and never reads would otherwise grow a queue of `error` frames without end.
   */
  send(frame: Buffer): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(frame, { binary: false });
    const queued = this.socket.bufferedAmount;
    if (!this.#replaying && this.#bound.exceeded(queued)) {
      // A client that stops reading is cut off, not buffered without end; it resumes by seq.
      debug('dropping a socket with %d bytes unsent', queued);
      this.hooks.countCutOff();
      this.socket.terminate();
    }
    return true;
  }

  /** An `error` frame (the transport's one error mapping), with what it is about. */
  sendError(error: unknown, about: Frame = {}): void {
    const data = { ...this.hooks.refusal('a ws frame', error, this.language), ...about };
    this.send(encodeFrame({ type: 'error', data }));
  }

  /** Writes a replay the client asked for, then allows it on top of the bound. */
  burst(write: () => void): void {
    const queued = this.socket.bufferedAmount;
    if (!this.#bound.mayBurst(queued)) {
      debug('dropping a socket that asks for a replay with %d bytes unread', queued);
      this.hooks.countCutOff();
      this.socket.terminate();
      return;
    }
    this.#replaying = true;
    try {
      write();
    } finally {
      this.#replaying = false;
    }
    this.#bound.allowBurst(this.socket.bufferedAmount);
  }

  /**
   * The ws README's heartbeat, one connection at a time (spread over the period): end it if it
   * did not answer the previous ping, else ping it.
   */
  ping(): void {
    if (!this.#alive) {
      debug('ending a socket that did not answer a ping');
      this.socket.terminate();
      return;
    }
    this.#alive = false;
    this.socket.ping();
  }
}

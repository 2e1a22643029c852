import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type Router from '@koa/router';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ChatService, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError, GENERIC_ERROR, isChatError } from '../../core/errors.ts';
import { logError, logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import { SpreadHeartbeat } from '../heartbeat.ts';
import type { HttpContext } from '../context.ts';
import { NO_SESSION, refusalHeaders, refuseUpgrade } from '../errors.ts';
import type { WireMeter } from '../meter.ts';
import {
  encodeOnce,
  meterStats,
  SendBound,
  type Transport,
  type TransportStats,
} from '../transport.ts';

const debug = logger('ws');

export const WS_PATH = '/ws';
/** PROTOCOL: frames over 64 KiB close the connection (1009, done by ws itself). */
const MAX_PAYLOAD = 64 * 1024;

export interface WsOptions {
  /** Ping interval; a socket that did not answer the previous ping is ended (PROTOCOL: 30 s). */
  heartbeatMs?: number;
  /** A socket whose unsent output passes this many bytes is ended (it resumes by seq). */
  maxQueueBytes?: number;
}

/** One room subscription of a socket. */
interface RoomFollow {
  room: string;
  subscription: Subscription | null;
  /** Frames that came while the subscription opened; null once `subscribed` is out. */
  early: Buffer[] | null;
  /** False once replaced, unsubscribed or ended: it forwards nothing more. */
  live: boolean;
  /** `kicked` or `removeRoom` came: the core closed the subscription. */
  finished: boolean;
}

/** One upgraded socket: several room subscriptions and the lobby at most. */
interface Connection {
  socket: WebSocket;
  /** Read once from the upgrade request's session. */
  visitor: Visitor;
  /** Answered the last ping (the ws README's heartbeat). */
  alive: boolean;
  rooms: Map<string, RoomFollow>;
  lobby: { close(): void } | null;
  /** The bound on its unsent output. */
  bound: SendBound;
}

type Frame = Record<string, unknown>;

/**
 * Raw WebSocket at `/ws`: one socket carries room subscriptions, the lobby and chat frames, all
 * JSON text (PROTOCOL.md, Raw WebSocket). The upgrade is refused on a foreign Origin (403) or
 * without a session (401) before any WebSocket exists; after that, every refusal or bad frame is
 * an `error` frame and the connection stays open.
 */
export class WsTransport implements Transport {
  readonly name = 'ws' as const;
  readonly #connections = new Set<Connection>();
  readonly #heartbeatMs: number;
  readonly #maxQueueBytes: number;
  #wss: WebSocketServer | undefined;
  #chat: ChatService | undefined;
  #heartbeat: SpreadHeartbeat<Connection> | undefined;
  #meter: WireMeter | undefined;
  #eventsOut = 0;
  #closing = false;

  constructor(options: WsOptions = {}) {
    this.#heartbeatMs = options.heartbeatMs ?? 30_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  /**
   * A plain GET /ws answers what the upgrade would (401, 403, else 426): a browser cannot read
   * the status of a refused upgrade, so the client asks here, as the SSE client probes its URL.
   */
  mount(router: Router, http: HttpContext): void {
    router.get(WS_PATH, (ctx) => {
      if (!http.originAllowed(ctx.req)) throw new ChatError(403, ORIGIN_REFUSED);
      http.visitor(ctx);
      // Past the limit on open connections, the upgrade would be refused with 429.
      http.limits.openConnection(ctx.req.socket.remoteAddress)();
      ctx.status = 426;
      ctx.set('Upgrade', 'websocket');
      ctx.body = { error: 'Open a WebSocket at this address.' };
    });
  }

  attach(server: Server, http: HttpContext): void {
    this.#chat = http.chat;
    this.#meter = http.meter('ws');
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_PAYLOAD,
      clientTracking: false,
      perMessageDeflate: false,
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#serverOnUpgrade(server, http, req, socket, head),
    );
    this.#heartbeat = new SpreadHeartbeat(this.#heartbeatMs, (connection) =>
      this.#ping(connection),
    );
  }

  stats(): TransportStats {
    return meterStats(this.#meter, this.#connections.size, this.#eventsOut);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#heartbeat?.stop();
    const closed = [...this.#connections].map(
      ({ socket }) =>
        new Promise<void>((done) => {
          socket.once('close', () => done());
          socket.close(1001, 'The server is shutting down.');
          // A peer that does not answer the closing handshake is not waited for.
          setTimeout(() => socket.terminate(), 1000).unref();
        }),
    );
    await Promise.all(closed);
    this.#wss?.close();
  }

  #serverOnUpgrade(
    server: Server,
    http: HttpContext,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    if (req.url?.split('?')[0] !== WS_PATH) {
      // Another listener may own this path (Socket.IO's /socket.io/); if none, nobody will answer.
      if (server.listenerCount('upgrade') === 1)
        refuseUpgrade(socket, 404, 'There is nothing here.');
      return;
    }
    if (!http.originAllowed(req)) {
      refuseUpgrade(socket, 403, ORIGIN_REFUSED);
      return;
    }
    let visitor: Visitor | null;
    try {
      visitor = http.visitorOfRequest(req);
    } catch (error) {
      logError('reading the session of an upgrade', error);
      refuseUpgrade(socket, 500, GENERIC_ERROR);
      return;
    }
    if (!visitor || this.#closing) {
      refuseUpgrade(socket, visitor ? 503 : 401, visitor ? SHUTTING_DOWN : NO_SESSION);
      return;
    }
    let release: () => void;
    try {
      release = http.limits.openConnection(req.socket.remoteAddress);
    } catch (error) {
      refuseUpgrade(socket, 429, (error as Error).message, refusalHeaders(error));
      return;
    }
    // Released when the TCP socket closes, whether or not it became a WebSocket.
    socket.once('close', release);
    this.#meter?.trackSocket(socket as Socket);
    this.#wss!.handleUpgrade(req, socket, head, (ws) => this.#open(ws, visitor));
  }

  #open(socket: WebSocket, visitor: Visitor): void {
    const connection: Connection = {
      socket,
      visitor,
      alive: true,
      rooms: new Map(),
      lobby: null,
      bound: new SendBound(this.#maxQueueBytes),
    };
    this.#connections.add(connection);
    this.#heartbeat?.add(connection);
    socket.on('pong', () => {
      connection.alive = true;
    });
    socket.on('message', (data, isBinary) => this.#socketOnMessage(connection, data, isBinary));
    // Oversized frames (1009) and broken peers end here; the socket closes by itself after.
    socket.on('error', (error) => debug('socket error: %s', error.message));
    socket.on('close', () => this.#socketOnClose(connection));
  }

  #socketOnClose(connection: Connection): void {
    this.#connections.delete(connection);
    this.#heartbeat?.delete(connection);
    for (const follow of connection.rooms.values()) this.#forget(connection, follow);
    connection.lobby?.close();
    connection.lobby = null;
  }

  #socketOnMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    let frame: unknown;
    try {
      frame = isBinary ? undefined : JSON.parse(String(data));
    } catch {
      frame = undefined;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.#sendError(connection, new ChatError(400, NOT_A_FRAME));
      return;
    }
    const fields = frame as Frame;
    switch (fields.type) {
      case 'subscribe':
        if (fields.lobby !== undefined) this.#subscribeLobby(connection, fields);
        else this.#subscribeRoom(connection, fields).catch((e) => logError('a ws subscribe', e));
        return;
      case 'unsubscribe':
        this.#unsubscribe(connection, fields);
        return;
      case 'chat':
        this.#post(connection, fields).catch((error) => logError('a ws chat frame', error));
        return;
      default:
        this.#sendError(connection, new ChatError(400, UNKNOWN_TYPE));
    }
  }

  /** Subscribing again to a room the socket follows replaces that subscription (a resume). */
  async #subscribeRoom(connection: Connection, frame: Frame): Promise<void> {
    const about = typeof frame.room === 'string' ? { room: frame.room } : {};
    let room: string;
    let after: number | undefined;
    try {
      if (frame.room === undefined) throw new ChatError(400, NO_TARGET);
      room = validate.roomId(frame.room);
      after = validate.cursor(frame.after);
    } catch (error) {
      this.#sendError(connection, error, about);
      return;
    }
    const previous = connection.rooms.get(room);
    // Muted now, closed once the new one is open: the member never leaves in between.
    if (previous) previous.live = false;
    const follow: RoomFollow = { room, subscription: null, early: [], live: true, finished: false };
    connection.rooms.set(room, follow);
    let subscription: Subscription;
    try {
      subscription = await this.#chat!.subscribe(connection.visitor, room, { after }, (event) =>
        this.#roomEvent(connection, follow, event),
      );
    } catch (error) {
      // A subscription replaced or unsubscribed meanwhile fails silently: the client moved on.
      const wanted = follow.live;
      this.#forget(connection, follow);
      if (previous) this.#forget(connection, previous);
      if (wanted) this.#sendError(connection, error, about);
      return;
    }
    follow.subscription = subscription;
    if (previous) this.#forget(connection, previous);
    if (!follow.live) {
      subscription.close();
      return;
    }
    const early = follow.early ?? [];
    follow.early = null;
    this.#sendFrame(connection, encodeFrame({ type: 'subscribed', data: { room } }));
    for (const frame of early) this.#sendEvent(connection, frame, false);
    // The replay is one burst the client asked for: allow it on top of the bound.
    connection.bound.allowBurst(connection.socket.bufferedAmount);
    if (follow.finished) this.#forget(connection, follow);
  }

  #roomEvent(connection: Connection, follow: RoomFollow, event: RoomEvent): void {
    if (!follow.live) return;
    const frame = encodeEvent(event);
    if (follow.early) follow.early.push(frame);
    else this.#sendEvent(connection, frame);
    if (event.type === 'kicked' || event.type === 'removeRoom') {
      // The core has closed the subscription; the socket stays open for its other ones.
      follow.finished = true;
      if (!follow.early) this.#forget(connection, follow);
    }
  }

  #subscribeLobby(connection: Connection, frame: Frame): void {
    if (frame.lobby !== true || frame.room !== undefined) {
      this.#sendError(connection, new ChatError(400, NO_TARGET));
      return;
    }
    connection.lobby?.close();
    connection.lobby = this.#chat!.subscribeLobby((event) =>
      this.#sendEvent(connection, encodeEvent(event)),
    );
    this.#sendFrame(connection, encodeFrame({ type: 'subscribed', data: { lobby: true } }));
  }

  /** Ends a subscription; one the socket does not hold is no error. */
  #unsubscribe(connection: Connection, frame: Frame): void {
    if (frame.lobby === true && frame.room === undefined) {
      connection.lobby?.close();
      connection.lobby = null;
      return;
    }
    if (frame.lobby !== undefined || frame.room === undefined) {
      this.#sendError(connection, new ChatError(400, NO_TARGET));
      return;
    }
    const follow = typeof frame.room === 'string' ? connection.rooms.get(frame.room) : undefined;
    if (follow) this.#forget(connection, follow);
  }

  /** A chat frame: `sent` answers it when it carries `ref`; else the own `chat` event does. */
  async #post(connection: Connection, frame: Frame): Promise<void> {
    const { ref } = frame;
    if (ref !== undefined && !isRef(ref)) {
      this.#sendError(connection, new ChatError(400, BAD_REF));
      return;
    }
    const about = ref === undefined ? {} : { ref };
    try {
      const message = await this.#chat!.post(connection.visitor, frame.room as string, {
        chat: frame.chat,
        toId: frame.toId,
        to: frame.to,
      });
      if (ref !== undefined) {
        this.#sendFrame(connection, encodeFrame({ type: 'sent', data: { ref, message } }));
      }
    } catch (error) {
      this.#sendError(connection, error, about);
    }
  }

  #forget(connection: Connection, follow: RoomFollow): void {
    follow.live = false;
    follow.subscription?.close();
    if (connection.rooms.get(follow.room) === follow) connection.rooms.delete(follow.room);
  }

  #sendEvent(connection: Connection, frame: Buffer, bounded = true): void {
    if (this.#sendFrame(connection, frame, bounded)) this.#eventsOut += 1;
  }

  /**
   * Every frame counts against the bound, events and answers alike: a client that floods bad
   * frames and never reads would otherwise grow a queue of `error` frames without end.
   */
  #sendFrame(connection: Connection, frame: Buffer, bounded = true): boolean {
    if (connection.socket.readyState !== WebSocket.OPEN) return false;
    connection.socket.send(frame, { binary: false });
    const queued = connection.socket.bufferedAmount;
    if (bounded && connection.bound.exceeded(queued)) {
      // A client that stops reading is cut off, not buffered without end; it resumes by seq.
      debug('dropping a socket with %d bytes unsent', queued);
      connection.socket.terminate();
    }
    return true;
  }

  /** The edge's one error mapping: ChatError keeps its status; anything else is a logged 500. */
  #sendError(connection: Connection, error: unknown, about: Frame = {}): void {
    let data: Frame;
    if (isChatError(error)) {
      data = { error: error.message, status: error.status, ...about };
    } else {
      logError('a ws frame', error);
      data = { error: GENERIC_ERROR, status: 500, ...about };
    }
    this.#sendFrame(connection, encodeFrame({ type: 'error', data }));
  }

  /**
   * The ws README's heartbeat, one connection at a time (spread over the period): end it if it
   * did not answer the previous ping, else ping it.
   */
  #ping(connection: Connection): void {
    if (!connection.alive) {
      debug('ending a socket that did not answer a ping');
      connection.socket.terminate();
      return;
    }
    connection.alive = false;
    connection.socket.ping();
  }
}

const ORIGIN_REFUSED = 'Connections from another site are refused (Origin check).';
const SHUTTING_DOWN = 'The server is shutting down; try again in a moment.';
const NOT_A_FRAME = 'A frame must be a JSON object in a text frame, such as {"type":"subscribe"}.';
const UNKNOWN_TYPE = 'The frame type must be subscribe, unsubscribe or chat.';
const NO_TARGET = 'Name a room ("room": ID) or the lobby ("lobby": true), not both.';
const BAD_REF = 'ref must be a string of at most 64 characters or a number.';

function isRef(value: unknown): value is string | number {
  return (typeof value === 'string' && value.length <= 64) || Number.isSafeInteger(value);
}

/** `{"type","id"?,"data"}` as UTF-8, once per event, the same Buffer for every socket. */
const encodeEvent = encodeOnce((event: RoomEvent | LobbyEvent) => encodeFrame(event));

function encodeFrame(frame: { type: string; id?: number; data: unknown }): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

import { type Server as HttpServer, type IncomingMessage, ServerResponse } from 'node:http';
import { type Namespace, Server, type Socket } from 'socket.io';
import type { Subscription, Visitor } from '../../core/chat.ts';
import { ChatError, GENERIC_ERROR, isChatError } from '../../core/errors.ts';
import { logError, logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
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

const debug = logger('socketio');

export interface SocketIoOptions {
  /** Socket.IO's own heartbeat: when given (tests), pingInterval = pingTimeout = heartbeatMs. */
  heartbeatMs?: number;
  /**
   * A connection whose packets wait unsent past this many bytes (a client that stops reading, or a
   * poller that stops polling) is closed; it reconnects and resumes by seq.
   */
  maxQueueBytes?: number;
}

const PREFIX = '/socket.io/';
/** socket.io-parser's PacketType.EVENT. */
const EVENT = 2;
const CHAT_EVENTS: ReadonlySet<unknown> = new Set(['join', 'leave', 'chat']);
const SHUTTING_DOWN = 'The server is shutting down; try again in a moment.';

type EngineSocket = Socket['conn'];
type Ack = (answer: object) => void;

/** A pre-encoded packet, written as it is to every socket (Socket.IO's broadcast does the same). */
interface Encoded {
  packets: unknown[];
  options: { preEncoded: true };
}

/**
 * What waits unsent on one engine.io connection: the packets engine.io buffers (counted as it
 * creates them, every packet: events, acknowledgements, pings) until it flushes them to the
 * transport, plus what the websocket transport has handed to its socket and the peer has not read.
 */
interface Outbox {
  buffered: number;
  bound: SendBound;
  /** A replay the client asked for is being written: it is checked once it is all out. */
  burst: boolean;
}

/** A room this socket joined: held events until the join is acknowledged, then live. */
interface Joined {
  subscription: Subscription | null;
  early: RoomEvent[] | null;
  cancelled: boolean;
}

/**
 * Socket.IO at `/socket.io`: the lobby on namespace `/room`, rooms on `/chat` (`join`, `leave`,
 * `chat`, each with an optional acknowledgement). The handshake is refused for a foreign Origin;
 * `/chat` needs the session cookie (`connect_error` "unauthorized" otherwise). Every join goes
 * through `chat.subscribe`, the one resume path: Socket.IO's rooms are not used, since whispers,
 * resume and membership are the core's.
 */
export class SocketIoTransport implements Transport {
  readonly name = 'socketio' as const;
  readonly #heartbeatMs: number | undefined;
  readonly #maxQueueBytes: number;
  readonly #outboxes = new WeakMap<EngineSocket, Outbox>();
  /** Handshakes counted as open connections, until their engine connection closes. */
  readonly #handshakes = new WeakMap<IncomingMessage, () => void>();
  #io: Server | undefined;
  #meter: WireMeter | undefined;
  #encodeRoom: ((event: RoomEvent) => Encoded) | undefined;
  #encodeLobby: ((event: LobbyEvent) => Encoded) | undefined;
  #eventsOut = 0;
  #closing = false;

  constructor(options: SocketIoOptions = {}) {
    this.#heartbeatMs = options.heartbeatMs;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  attach(server: HttpServer, http: HttpContext): void {
    const heartbeat =
      this.#heartbeatMs === undefined
        ? {}
        : { pingInterval: this.#heartbeatMs, pingTimeout: this.#heartbeatMs };
    // Socket.IO takes the server's 'request' listeners over: `/socket.io/` goes to engine.io, every
    // other path on to koa.
    const io = new Server(server, {
      path: PREFIX.slice(0, -1),
      serveClient: false,
      cors: undefined,
      maxHttpBufferSize: 64 * 1024,
      ...heartbeat,
      // Called for handshakes only, polling and websocket alike.
      allowRequest: (req, callback) => {
        if (this.#closing) return callback(SHUTTING_DOWN, false);
        const allowed = http.originAllowed(req);
        callback(
          allowed ? null : 'Requests from another site are refused (Origin check).',
          allowed,
        );
      },
    });
    this.#io = io;
    // Later requests of a session (polls, the upgrade to websocket) carry its sid and skip
    // allowRequest: refuse a foreign Origin there too (engine.io answers 400).
    io.engine.use((req: IncomingMessage, res: unknown, next: (error?: Error) => void) => {
      const handshake = !new URL(req.url ?? '/', 'http://localhost').searchParams.has('sid');
      if (handshake) this.#countOpen(http, req, res, next);
      else next(http.originAllowed(req) ? undefined : new Error('foreign origin'));
    });
    io.engine.on('connection', (conn: EngineSocket) => this.#engineOnConnection(conn));

    // Engine.io answers its requests and upgrades before koa sees them: meter them here, first.
    const meter = http.meter('socketio');
    this.#meter = meter;
    server.prependListener('request', (req, res) => {
      if (req.url?.startsWith(PREFIX)) meter.track(req, res);
    });
    server.prependListener('upgrade', (req: IncomingMessage) => {
      if (req.url?.startsWith(PREFIX)) meter.trackSocket(req.socket);
    });

    const rooms = io.of('/chat');
    const lobby = io.of('/room');
    this.#encodeRoom = encodeOnce((event: RoomEvent) => encode(rooms, event.type, event.data));
    this.#encodeLobby = encodeOnce((event: LobbyEvent) => encode(lobby, event.type, event.data));

    rooms.use((socket, next) => {
      try {
        const visitor = http.visitorOfRequest(socket.request);
        if (visitor) {
          socket.data.visitor = visitor;
          return next();
        }
        next(refusal('unauthorized', 401, NO_SESSION));
      } catch (error) {
        logError('reading the session of a Socket.IO handshake', error);
        next(refusal('server error', 500, GENERIC_ERROR));
      }
    });
    rooms.on('connection', (socket) => this.#chatOnConnection(http, socket));
    lobby.on('connection', (socket) => this.#lobbyOnConnection(http, socket));
  }

  /**
   * A handshake (polling or websocket) counts against its address's open connections; past the
   * limit it is answered 429 here, and engine.io (which could only say 400 or 403) never sees it.
   */
  #countOpen(
    http: HttpContext,
    req: IncomingMessage,
    res: unknown,
    next: (error?: Error) => void,
  ): void {
    let release: () => void;
    try {
      release = http.limits.openConnection(req.socket.remoteAddress);
    } catch (error) {
      const { message } = error as ChatError;
      if (!(res instanceof ServerResponse)) {
        refuseUpgrade(req.socket, 429, message, refusalHeaders(error));
        return;
      }
      res.writeHead(429, { ...refusalHeaders(error), 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: message }));
      return;
    }
    this.#handshakes.set(req, release);
    // A handshake that made no connection (refused by engine.io) lets go when it is answered.
    (res as ServerResponse).once('close', () => {
      if (this.#handshakes.get(req) !== release) return;
      this.#handshakes.delete(req);
      release();
    });
    next();
  }

  stats(): TransportStats {
    return meterStats(this.#meter, this.#io?.engine.clientsCount ?? 0, this.#eventsOut);
  }

  async close(): Promise<void> {
    this.#closing = true;
    // Closing the engine connections (not disconnecting the sockets) lets clients reconnect.
    this.#io?.engine.close();
  }

  #chatOnConnection(http: HttpContext, socket: Socket): void {
    const visitor = socket.data.visitor as Visitor;
    const joined = new Map<string, Joined>();
    socket.on('error', (error) => debug('a socket failed: %s', error.message));
    socket.on('disconnect', () => {
      for (const entry of joined.values()) cancel(entry);
      joined.clear();
    });
    socket.onAny((event, ...args) => {
      if (!CHAT_EVENTS.has(event)) {
        takeAck(args)[1]?.({
          error: 'Unknown event: /chat takes join, leave and chat.',
          status: 400,
        });
      }
    });
    socket.on('join', (...args: unknown[]) => {
      const [payload, ack] = takeAck(args);
      this.#join(http, socket, joined, payload)
        .then(
          (entry) => {
            ack?.({ ok: true });
            // Events that came while the join was opening go out right after its acknowledgement.
            const early = entry.early ?? [];
            entry.early = null;
            this.#burst(socket.conn, () => {
              for (const event of early) this.#write(socket, this.#encodeRoom!(event));
            });
          },
          (error: unknown) => ack?.(describe(error)),
        )
        .catch((error: unknown) => logError('answering a Socket.IO join', error));
    });
    handle(socket, 'leave', async (payload) => {
      const room = validate.roomId(typeof payload === 'string' ? payload : undefined);
      const entry = joined.get(room);
      if (entry) {
        cancel(entry);
        joined.delete(room);
      }
      return { ok: true };
    });
    handle(socket, 'chat', async (payload) => {
      const { room, body } = chatInput(payload);
      return { message: await http.chat.post(visitor, room, body) };
    });
  }

  /** Opens (or replaces) this socket's subscription to a room; resolves once it is live. */
  async #join(
    http: HttpContext,
    socket: Socket,
    joined: Map<string, Joined>,
    payload: unknown,
  ): Promise<Joined> {
    const { room, after } = joinInput(payload);
    const previous = joined.get(room);
    if (previous) cancel(previous);
    const entry: Joined = { subscription: null, early: [], cancelled: false };
    joined.set(room, entry);
    const visitor = socket.data.visitor as Visitor;
    try {
      entry.subscription = await http.chat.subscribe(visitor, room, { after }, (event) => {
        if (entry.early) entry.early.push(event);
        else this.#write(socket, this.#encodeRoom!(event));
        // The core has closed the subscription after these.
        if (event.type === 'kicked' || event.type === 'removeRoom') forget(joined, room, entry);
      });
    } catch (error) {
      forget(joined, room, entry);
      throw error;
    }
    if (entry.cancelled || !socket.connected || this.#closing) {
      entry.subscription.close();
      forget(joined, room, entry);
      if (this.#closing) throw new ChatError(503, SHUTTING_DOWN);
      throw new ChatError(409, 'This join was replaced by a later join or leave of the room.');
    }
    return entry;
  }

  #lobbyOnConnection(http: HttpContext, socket: Socket): void {
    socket.on('error', (error) => debug('a socket failed: %s', error.message));
    socket.onAny((_event, ...args) => {
      takeAck(args)[1]?.({ error: 'The /room namespace only streams the room list.', status: 400 });
    });
    const subscription = http.chat.subscribeLobby((event) => {
      this.#write(socket, this.#encodeLobby!(event));
    });
    socket.on('disconnect', () => subscription.close());
  }

  /** Every packet engine.io creates for a connection counts against its bound. */
  #engineOnConnection(conn: EngineSocket): void {
    const release = this.#handshakes.get(conn.request);
    this.#handshakes.delete(conn.request);
    if (release) conn.once('close', release);
    const outbox: Outbox = { buffered: 0, bound: new SendBound(this.#maxQueueBytes), burst: false };
    this.#outboxes.set(conn, outbox);
    conn.on('packetCreate', (packet: { data?: unknown }) => {
      outbox.buffered += packetBytes(packet.data);
      if (!outbox.burst) this.#check(conn, outbox);
    });
    // The buffer went to the transport: the websocket's socket holds it now (see `unsent`).
    conn.on('flush', () => {
      outbox.buffered = 0;
    });
  }

  /** Writes a replay the client asked for, then allows it on top of the bound. */
  #burst(conn: EngineSocket, write: () => void): void {
    const outbox = this.#outboxes.get(conn);
    if (!outbox) {
      write();
      return;
    }
    outbox.burst = true;
    try {
      write();
    } finally {
      outbox.burst = false;
    }
    outbox.bound.allowBurst(unsent(conn, outbox));
  }

  /** A connection whose unsent packets pass the bound is cut off; it resumes by seq. */
  #check(conn: EngineSocket, outbox: Outbox): void {
    const queued = unsent(conn, outbox);
    if (!outbox.bound.exceeded(queued) || conn.readyState !== 'open') return;
    debug('closing a connection with %d bytes unsent', queued);
    // Not now: engine.io is in the middle of creating a packet for this connection.
    process.nextTick(() => {
      const transport = conn.transport as { socket?: { terminate?(): void } };
      conn.close(true);
      transport.socket?.terminate?.();
    });
  }

  /** Writes a pre-encoded event (a bound check follows through `packetCreate`). */
  #write(socket: Socket, encoded: Encoded): void {
    if (socket.conn.readyState !== 'open' || !socket.connected) return;
    (socket.client as unknown as PacketWriter)._packet(encoded.packets, encoded.options);
    this.#eventsOut += 1;
  }
}

/** Bytes waiting for `conn`: engine.io's buffer, and the websocket's unsent frames. */
function unsent(conn: EngineSocket, outbox: Outbox): number {
  const transport = conn.transport as { name: string; socket?: { bufferedAmount?: number } };
  const socket = transport.name === 'websocket' ? (transport.socket?.bufferedAmount ?? 0) : 0;
  return outbox.buffered + socket;
}

/** A packet's size: socket.io-parser's string, or a binary attachment. */
function packetBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** What Socket.IO's Client offers to write packets encoded once (its broadcast path). */
interface PacketWriter {
  _packet(packets: unknown[], options: object): void;
}

/** socket.io-adapter's `_encode`: the packet, plus a ready WebSocket frame for every ws socket. */
interface PacketEncoder {
  _encode(packet: object, options: object): unknown[];
}

function encode(nsp: Namespace, type: string, data: unknown): Encoded {
  const options = { preEncoded: true as const };
  const adapter = nsp.adapter as unknown as PacketEncoder;
  const packets = adapter._encode({ type: EVENT, nsp: nsp.name, data: [type, data] }, options);
  return { packets, options };
}

/** Runs a client event; its answer, or its refusal, goes to the acknowledgement if any. */
function handle(socket: Socket, name: string, run: (payload: unknown) => Promise<object>): void {
  socket.on(name, (...args: unknown[]) => {
    const [payload, ack] = takeAck(args);
    run(payload)
      .then(
        (answer) => ack?.(answer),
        (error: unknown) => ack?.(describe(error)),
      )
      .catch((error: unknown) => logError(`answering a Socket.IO ${name}`, error));
  });
}

/** An event's payload and, when its last argument is one, its acknowledgement. */
function takeAck(args: unknown[]): [unknown, Ack | undefined] {
  const last = args.at(-1);
  if (typeof last !== 'function') return [args[0], undefined];
  return [args.length > 1 ? args[0] : undefined, last as Ack];
}

function describe(error: unknown): { error: string; status: number } {
  if (isChatError(error)) return { error: error.message, status: error.status };
  logError('a Socket.IO event', error);
  return { error: GENERIC_ERROR, status: 500 };
}

/** A namespace middleware refusal: the client's `connect_error` has `message` and `data`. */
function refusal(message: string, status: number, sentence: string): Error {
  return Object.assign(new Error(message), { data: { status, error: sentence } });
}

function cancel(entry: Joined): void {
  entry.cancelled = true;
  entry.subscription?.close();
}

function forget(joined: Map<string, Joined>, room: string, entry: Joined): void {
  if (joined.get(room) === entry) joined.delete(room);
}

/**
 * `join` takes a room id (as in the book) or `{room, after?}`. A payload of the wrong shape is a
 * 400; a room that is not an id (an object included) names no room: 404, as everywhere.
 */
function joinInput(payload: unknown): { room: string; after?: number } {
  if (typeof payload === 'string') return { room: validate.roomId(payload) };
  const fields = record(payload, 'join takes a room id, or {room, after}.');
  return { room: validate.roomId(fields.room), after: validate.cursor(fields.after) };
}

function chatInput(payload: unknown): { room: string; body: Record<string, unknown> } {
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

import type { EventEmitter } from 'node:events';
import { type Server as HttpServer, type IncomingMessage, ServerResponse } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { RoomSubscriber, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError, GENERIC_ERROR } from '../../core/errors.ts';
import { type Language, requestLanguage } from '../../core/language.ts';
import { logError, logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import type { HttpContext } from '../context.ts';
import { NO_SESSION, refusalHeaders, refuseUpgrade, SHUTTING_DOWN } from '../errors.ts';
import { encodeOnce, type QueueSizes, TransportServer } from '../transport.ts';
import { type EngineSocket, Outboxes } from './outbox.ts';
import {
  type Ack,
  bookLobbyPayload,
  chatInput,
  connectRefusal,
  type Encoded,
  encode,
  joinInput,
  takeAck,
  writeEncoded,
} from './packets.ts';

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
/** The client scripts Socket.IO serves itself (`serveClient`), as the book's pages load them. */
const CLIENT_SCRIPT =
  /^\/socket\.io\/socket\.io(?:\.esm|\.msgpack)?(?:\.min)?\.js(?:\.map)?(?:\?|$)/;

/**
 * One room a socket joined, and the subscriber of its subscription: a class, so that every join
 * shares one `onEvent` and `onEnd` (per-join arrows cost a closure each, and under tsx a `name`
 * dictionary each). It is the socket's entry for the room until a later join or leave replaces it.
 */
class Joined implements RoomSubscriber {
  subscription: Subscription | null = null;
  readonly room: string;
  /** The socket's entry for another room (see `ChatData.joined`). */
  next: Joined | undefined = undefined;
  readonly #socket: Socket;
  /** The transport's one writer of room events. */
  readonly #write: (socket: Socket, event: RoomEvent) => void;

  constructor(socket: Socket, room: string, write: (socket: Socket, event: RoomEvent) => void) {
    this.#socket = socket;
    this.room = room;
    this.#write = write;
  }

  onEvent(event: RoomEvent): void {
    this.#write(this.#socket, event);
  }

  onEnd(): void {
    forget(this.#socket, this);
  }
}

/** What the transport keeps of a `/chat` socket: in its `data`, not in closures of its own. */
interface ChatData {
  /** The handshake's: every acknowledgement's refusal says it. */
  language: Language;
  visitor: Visitor;
  /**
   * The socket's newest entry, linked to the ones before it through `next`: a room or two, and a
   * list of entries costs nothing of its own (an array of one costs 56 B per socket, a Map about
   * 300 B).
   */
  joined: Joined | undefined;
}

function chatData(socket: Socket): ChatData {
  return socket.data as ChatData;
}

/**
 * `/chat`'s listeners, one set for every socket (Socket.IO calls them with the socket as `this`):
 * closures per socket would cost a Context and a closure each.
 */
interface ChatListeners {
  disconnect(this: Socket): void;
  /**
   * Every client event, `join`, `leave` and `chat` included: a listener of its own for each would
   * grow the socket's `_events` dictionary past three names (from 160 to 256 B).
   */
  event(this: Socket, event: unknown, ...args: unknown[]): void;
}

type AnyListener = ChatListeners['event'];

/**
 * What `socket.onAny(listener)` does, without its cost: Socket.IO starts the socket's catch-all
 * list empty and pushes onto it, which V8 grows to 17 slots (184 B per socket). Every `/chat`
 * socket shares one frozen list instead; Socket.IO only reads it (`onevent` copies it), and any
 * change to it would throw rather than reach the other sockets.
 */
function listenToAny(socket: Socket, listeners: readonly AnyListener[]): void {
  (socket as unknown as { _anyListeners: readonly AnyListener[] })._anyListeners = listeners;
}

// Broken packets and the like end here; Socket.IO closes the socket by itself.
function socketOnError(error: Error): void {
  debug('a socket failed: %s', error.message);
}

/**
 * Socket.IO gives every socket a noop `error` listener (an `error` with none would throw); ours
 * takes its place rather than joining it, which would make a list of two per socket (64 B).
 */
function listenToErrors(socket: Socket): void {
  socket.removeAllListeners('error');
  socket.on('error', socketOnError);
}

/**
 * Socket.IO at `/socket.io`: the lobby on namespace `/room`, rooms on `/chat` (`join`, `leave`,
 * `chat`, each with an optional acknowledgement). The handshake is refused for a foreign Origin;
 * `/chat` needs the session cookie (`connect_error` "unauthorized" otherwise). Every join goes
 * through `chat.subscribe`, the one resume path: Socket.IO's rooms are not used, since whispers,
 * resume and membership are the core's.
 */
export class SocketIoTransport extends TransportServer {
  readonly name = 'socketio' as const;
  readonly #heartbeatMs: number | undefined;
  readonly #outboxes: Outboxes;
  /** Handshakes counted as open connections, until their engine connection closes. */
  readonly #handshakes = new WeakMap<IncomingMessage, () => void>();
  #io: Server | undefined;
  #encodeRoom: ((event: RoomEvent) => Encoded) | undefined;
  #encodeLobby: ((event: LobbyEvent) => Encoded) | undefined;

  constructor(options: SocketIoOptions = {}) {
    super();
    this.#heartbeatMs = options.heartbeatMs;
    this.#outboxes = new Outboxes(options.maxQueueBytes ?? 1024 * 1024, () => this.countCutOff());
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
      // `/socket.io/socket.io.js` and its kin, from socket.io's own copy of the client (`client-dist`).
      serveClient: true,
      cors: undefined,
      maxHttpBufferSize: 64 * 1024,
      ...heartbeat,
      // Called for handshakes only, polling and websocket alike.
      allowRequest: (req, callback) => {
        if (this.readyState !== 'open') return callback(SHUTTING_DOWN, false);
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
    this.#outboxes.watch(io.engine);
    // Engine.io writes its own answers, the websocket 101 too: every one of them gets these.
    if (Object.keys(http.responseHeaders).length > 0) {
      io.engine.on('headers', (headers: Record<string, string>) =>
        Object.assign(headers, http.responseHeaders),
      );
    }

    // Engine.io answers its requests and upgrades before koa sees them: meter them here, first.
    const meter = this.useHttp(http);
    // The client script is the transport's too: a book page pays for it before it connects.
    server.prependListener('request', (req, res) => {
      if (!req.url?.startsWith(PREFIX)) return;
      meter.track(req, res);
      // Koa, which sets it on everything it answers, never sees the script.
      if (CLIENT_SCRIPT.test(req.url)) res.setHeader('X-Content-Type-Options', 'nosniff');
    });
    server.prependListener('upgrade', (req: IncomingMessage) => {
      if (req.url?.startsWith(PREFIX)) meter.trackSocket(req.socket);
    });

    const rooms = io.of('/chat');
    const lobby = io.of('/room');
    this.#encodeRoom = encodeOnce((event: RoomEvent) => encode(rooms, event.type, event.data));
    this.#encodeLobby = encodeOnce((event: LobbyEvent) =>
      encode(lobby, event.type, bookLobbyPayload(event)),
    );

    rooms.use((socket, next) => {
      // The handshake's `?lang=` (the client's `query`), else its Accept-Language: every
      // acknowledgement's refusal says it.
      socket.data.language = requestLanguage(socket.request);
      try {
        const visitor = http.visitorOfRequest(socket.request);
        if (visitor) {
          socket.data.visitor = visitor;
          return next();
        }
        const { error } = this.refusal(
          'a Socket.IO handshake',
          new ChatError(401, NO_SESSION, { code: 'noSession' }),
          socket.data.language,
        );
        next(connectRefusal('unauthorized', 401, error));
      } catch (error) {
        logError('reading the session of a Socket.IO handshake', error);
        next(connectRefusal('server error', 500, GENERIC_ERROR));
      }
    });
    const listeners = this.#listenersOfChat(http);
    const anyListeners = Object.freeze([listeners.event]);
    rooms.on('connection', (socket) => this.#chatOnConnection(socket, listeners, anyListeners));
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
      release = http.limits.openConnectionOf(req.socket);
    } catch (error) {
      const { error: message } = this.refusal('a Socket.IO handshake', error, requestLanguage(req));
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

  /** Engine.io's sessions: a sid lives in this process only (Socket.IO's long polling). */
  localSessions(): EventEmitter | undefined {
    return this.#io?.engine;
  }

  protected connectionCount(): number {
    return this.#io?.engine.clientsCount ?? 0;
  }

  /** An engine.io connection's queue: its packets not flushed, and its websocket's unsent frames. */
  protected queues(): QueueSizes {
    return this.#outboxes.queues();
  }

  protected async shutdown(): Promise<void> {
    // Closing the engine connections (not disconnecting the sockets) lets clients reconnect.
    this.#io?.engine.close();
  }

  #chatOnConnection(
    socket: Socket,
    listeners: ChatListeners,
    anyListeners: readonly AnyListener[],
  ): void {
    chatData(socket).joined = undefined;
    listenToErrors(socket);
    socket.on('disconnect', listeners.disconnect);
    listenToAny(socket, anyListeners);
  }

  #listenersOfChat(http: HttpContext): ChatListeners {
    const transport = this;
    return {
      disconnect() {
        const data = chatData(this);
        let entry = data.joined;
        // Taken off the socket first: a `forget` on the way finds nothing to unlink.
        data.joined = undefined;
        for (; entry; entry = entry.next) cancel(entry);
      },
      event(event, ...args) {
        switch (event) {
          case 'join':
            transport.#onJoin(http, this, args);
            return;
          case 'leave':
            transport.#answer(this, 'leave', args, async (payload) => {
              const room = validate.roomId(typeof payload === 'string' ? payload : undefined);
              const entry = joinedRoom(this, room);
              if (entry) {
                cancel(entry);
                forget(this, entry);
              }
              return { ok: true };
            });
            return;
          case 'chat':
            transport.#answer(this, 'chat', args, async (payload) => {
              const { room, body } = chatInput(payload);
              return { message: await http.chat.post(chatData(this).visitor, room, body) };
            });
            return;
          default:
            transport.#acknowledge(this, takeAck(args)[1], {
              error: 'Unknown event: /chat takes join, leave and chat.',
              status: 400,
            });
        }
      },
    };
  }

  #onJoin(http: HttpContext, socket: Socket, args: unknown[]): void {
    const [payload, ack] = takeAck(args);
    this.#join(http, socket, payload)
      .then(
        (subscription) => {
          this.#acknowledge(socket, ack, { ok: true });
          // The replay and what came while the join was opening follow its acknowledgement.
          this.#outboxes.burst(socket.conn, () => subscription.start());
        },
        (error: unknown) =>
          this.#acknowledge(
            socket,
            ack,
            this.refusal('a Socket.IO join', error, chatData(socket).language),
          ),
      )
      .catch((error: unknown) => logError('answering a Socket.IO join', error));
  }

  /** Runs a client event; its answer, or its refusal, goes to the acknowledgement if any. */
  #answer(
    socket: Socket,
    name: string,
    args: unknown[],
    run: (payload: unknown) => Promise<object>,
  ): void {
    const [payload, ack] = takeAck(args);
    run(payload)
      .then(
        (answer) => this.#acknowledge(socket, ack, answer),
        (error: unknown) =>
          this.#acknowledge(
            socket,
            ack,
            this.refusal(`a Socket.IO ${name}`, error, chatData(socket).language),
          ),
      )
      .catch((error: unknown) => logError(`answering a Socket.IO ${name}`, error));
  }

  /** Opens (or replaces) this socket's subscription to a room; resolves once it is live. */
  async #join(http: HttpContext, socket: Socket, payload: unknown): Promise<Subscription> {
    const { room, after } = joinInput(payload);
    const previous = joinedRoom(socket, room);
    if (previous) cancel(previous);
    const entry = new Joined(socket, room, this.#writeRoomEvent);
    enter(socket, entry);
    let subscription: Subscription;
    try {
      subscription = await http.chat.openSubscription(
        chatData(socket).visitor,
        room,
        { after },
        entry,
      );
    } catch (error) {
      forget(socket, entry);
      throw error;
    }
    entry.subscription = subscription;
    if (joinedRoom(socket, room) !== entry || !socket.connected || this.readyState !== 'open') {
      subscription.close();
      forget(socket, entry);
      this.refuseWhileClosing();
      throw new ChatError(409, 'This join was replaced by a later join or leave of the room.');
    }
    return subscription;
  }

  #lobbyOnConnection(http: HttpContext, socket: Socket): void {
    listenToErrors(socket);
    socket.onAny((_event, ...args) => {
      this.#acknowledge(socket, takeAck(args)[1], {
        error: 'The /room namespace only streams the room list.',
        status: 400,
      });
    });
    const subscription = http.chat.subscribeLobby((event) => {
      this.#write(socket, this.#encodeLobby!(event));
    });
    socket.on('disconnect', () => subscription.close());
  }

  /** A connection's handshake lets go of its count when the connection closes. */
  #engineOnConnection(conn: EngineSocket): void {
    const release = this.#handshakes.get(conn.request);
    this.#handshakes.delete(conn.request);
    // `on`, not `once` (a wrapper and its state per connection): it closes once, releases once.
    if (release) conn.on('close', release);
  }

  readonly #writeRoomEvent = (socket: Socket, event: RoomEvent): void =>
    this.#write(socket, this.#encodeRoom!(event));

  /** Writes a pre-encoded event, within the connection's bound. */
  #write(socket: Socket, encoded: Encoded): void {
    if (socket.conn.readyState !== 'open' || !socket.connected) return;
    writeEncoded(socket, encoded);
    this.#outboxes.wrote(socket.conn);
    this.countEvents();
  }

  /** Answers a client event, if it asked for an answer, within the connection's bound. */
  #acknowledge(socket: Socket, ack: Ack | undefined, answer: object): void {
    if (!ack) return;
    ack(answer);
    this.#outboxes.wrote(socket.conn);
  }
}

function cancel(entry: Joined): void {
  entry.subscription?.close();
}

/** The socket's entry for `room`, if it joined it. */
function joinedRoom(socket: Socket, room: string): Joined | undefined {
  let entry = chatData(socket).joined;
  while (entry && entry.room !== room) entry = entry.next;
  return entry;
}

/** `entry` becomes the socket's entry for its room. */
function enter(socket: Socket, entry: Joined): void {
  const previous = joinedRoom(socket, entry.room);
  if (previous) forget(socket, previous);
  const data = chatData(socket);
  entry.next = data.joined;
  data.joined = entry;
}

/** The socket's entry for its room is gone, if it is still `entry`. */
function forget(socket: Socket, entry: Joined): void {
  const data = chatData(socket);
  if (data.joined === entry) {
    data.joined = entry.next;
    return;
  }
  let before = data.joined;
  while (before && before.next !== entry) before = before.next;
  if (before) before.next = entry.next;
}

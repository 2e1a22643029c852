import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type Router from '@koa/router';
import { type RawData, WebSocketServer } from 'ws';
import type { ChatService, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError } from '../../core/errors.ts';
import { type Language, requestLanguage } from '../../core/language.ts';
import { NOTHING_TO_RELEASE } from '../../core/limits.ts';
import { logError } from '../../core/log.ts';
import type { HttpContext } from '../context.ts';
import { NO_SESSION, refusalHeaders, refuseUpgrade } from '../errors.ts';
import { SpreadHeartbeat } from '../heartbeat.ts';
import { type QueueSizes, queueSizes, TransportServer } from '../transport.ts';
import { type ConnectionHooks, LabSocket, RoomFollow, WsConnection } from './connection.ts';
import {
  encodeEvent,
  encodeFrame,
  type Frame,
  NO_TARGET,
  namesLobby,
  ORIGIN_REFUSED,
  parseFrame,
  refOf,
  roomTarget,
  UNKNOWN_TYPE,
} from './frames.ts';

export const WS_PATH = '/ws';
/** PROTOCOL: frames over 64 KiB close the connection (1009, done by ws itself). */
const MAX_PAYLOAD = 64 * 1024;

export interface WsOptions {
  /** Ping interval; a socket that did not answer the previous ping is ended (PROTOCOL: 30 s). */
  heartbeatMs?: number;
  /** A socket whose unsent output passes this many bytes is ended (it resumes by seq). */
  maxQueueBytes?: number;
}

/**
 * Raw WebSocket at `/ws`: one socket carries room subscriptions, the lobby and chat frames, all
 * JSON text (PROTOCOL.md, Raw WebSocket). The upgrade is refused on a foreign Origin (403) or
 * without a session (401) before any WebSocket exists; after that, every refusal or bad frame is
 * an `error` frame and the connection stays open.
 */
export class WsTransport extends TransportServer {
  readonly name = 'ws' as const;
  readonly #connections = new Set<WsConnection>();
  readonly #heartbeatMs: number;
  readonly #maxQueueBytes: number;
  #wss: WebSocketServer | undefined;
  #chat: ChatService | undefined;
  #heartbeat: SpreadHeartbeat<WsConnection> | undefined;
  /** Every connection's counters and error wording: one object, not closures per socket. */
  readonly #hooks: ConnectionHooks = {
    message: (connection, data, isBinary) => this.#socketOnMessage(connection, data, isBinary),
    closed: (connection) => {
      this.#connections.delete(connection);
      this.#heartbeat?.delete(connection);
      connection.forgetAll();
    },
    countEvent: () => this.countEvents(),
    countCutOff: () => this.countCutOff(),
    refusal: (what, error, language) => this.refusal(what, error, language),
  };

  constructor(options: WsOptions = {}) {
    super();
    this.#heartbeatMs = options.heartbeatMs ?? 30_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  /**
   * A plain GET /ws answers what the upgrade would (401, 403, else 426): a browser cannot read
   * the status of a refused upgrade, so the client asks here, as the SSE client probes its URL.
   */
  mount(router: Router, http: HttpContext): void {
    router.get(WS_PATH, (ctx) => {
      this.#admit(http, ctx.req).release();
      ctx.status = 426;
      ctx.set('Upgrade', 'websocket');
      ctx.body = { error: 'Open a WebSocket at this address.' };
    });
  }

  attach(server: Server, http: HttpContext): void {
    this.#chat = http.chat;
    this.useHttp(http);
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_PAYLOAD,
      clientTracking: false,
      perMessageDeflate: false,
      WebSocket: LabSocket,
    });
    const extra = Object.entries(http.responseHeaders).map(([name, value]) => `${name}: ${value}`);
    if (extra.length > 0) this.#wss.on('headers', (lines: string[]) => lines.push(...extra));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#serverOnUpgrade(server, http, req, socket, head),
    );
    this.#heartbeat = new SpreadHeartbeat(this.#heartbeatMs, (connection) => connection.ping());
  }

  protected connectionCount(): number {
    return this.#connections.size;
  }

  /** A socket's queue: ws's `bufferedAmount` (its frames not yet taken by the kernel). */
  protected queues(): QueueSizes {
    return queueSizes(this.#connections, (connection) => connection.socket.bufferedAmount);
  }

  protected async shutdown(): Promise<void> {
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
    let admitted: { visitor: Visitor; release: () => void };
    try {
      admitted = this.#admit(http, req);
    } catch (error) {
      const { status, error: sentence } = this.refusal(
        'admitting an upgrade',
        error,
        requestLanguage(req),
      );
      refuseUpgrade(socket, status, sentence, refusalHeaders(error));
      return;
    }
    const { visitor, release } = admitted;
    // Released when the TCP socket closes, whether or not it became a WebSocket. With limits off
    // nothing is counted: no listener (a `once` wrapper and a longer listener array, ~300 bytes).
    if (release !== NOTHING_TO_RELEASE) socket.once('close', release);
    this.meter?.trackSocket(socket as Socket);
    const language = requestLanguage(req);
    this.#wss!.handleUpgrade(req, socket, head, (ws) =>
      this.#open(ws as LabSocket, visitor, language),
    );
  }

  /**
   * What an upgrade must pass, in order, each a ChatError: a foreign Origin (403), no session
   * (401), a server shutting down (503), too many open connections from its address (429). Gives
   * the visitor and the release of its connection count.
   */
  #admit(http: HttpContext, req: IncomingMessage): { visitor: Visitor; release: () => void } {
    if (!http.originAllowed(req)) throw new ChatError(403, ORIGIN_REFUSED);
    const visitor = http.visitorOfRequest(req);
    if (!visitor) throw new ChatError(401, NO_SESSION, { code: 'noSession' });
    this.refuseWhileClosing();
    return { visitor, release: http.limits.openConnectionOf(req.socket) };
  }

  #open(socket: LabSocket, visitor: Visitor, language: Language): void {
    const connection = new WsConnection(
      socket,
      visitor,
      language,
      this.#maxQueueBytes,
      this.#hooks,
    );
    this.#connections.add(connection);
    this.#heartbeat?.add(connection);
  }

  #socketOnMessage(connection: WsConnection, data: RawData, isBinary: boolean): void {
    let fields: Frame;
    try {
      fields = parseFrame(data, isBinary);
    } catch (error) {
      connection.sendError(error);
      return;
    }
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
        connection.sendError(new ChatError(400, UNKNOWN_TYPE));
    }
  }

  /** Subscribing again to a room the socket follows replaces that subscription (a resume). */
  async #subscribeRoom(connection: WsConnection, frame: Frame): Promise<void> {
    const about = typeof frame.room === 'string' ? { room: frame.room } : {};
    let room: string;
    let after: number | undefined;
    try {
      ({ room, after } = roomTarget(frame));
    } catch (error) {
      connection.sendError(error, about);
      return;
    }
    const previous = connection.following(room);
    // From now on only the new one forwards; the old one closes once the new one is open, so
    // the member never leaves in between.
    const follow = new RoomFollow(connection, room);
    connection.adopt(follow);
    let subscription: Subscription;
    try {
      subscription = await this.#chat!.openSubscription(
        connection.visitor,
        room,
        { after },
        follow,
      );
    } catch (error) {
      // A subscription replaced or unsubscribed meanwhile fails silently: the client moved on.
      const wanted = follow.current;
      connection.forget(follow);
      if (previous) connection.forget(previous);
      if (wanted) connection.sendError(error, about);
      return;
    }
    follow.subscription = subscription;
    if (previous) connection.forget(previous);
    if (!follow.current) {
      subscription.close();
      return;
    }
    connection.send(encodeFrame({ type: 'subscribed', data: { room } }));
    connection.burst(() => subscription.start());
  }

  #subscribeLobby(connection: WsConnection, frame: Frame): void {
    if (frame.lobby !== true || frame.room !== undefined) {
      connection.sendError(new ChatError(400, NO_TARGET));
      return;
    }
    connection.lobby?.close();
    connection.lobby = this.#chat!.subscribeLobby((event) =>
      connection.sendEvent(encodeEvent(event)),
    );
    connection.send(encodeFrame({ type: 'subscribed', data: { lobby: true } }));
  }

  /** Ends a subscription; one the socket does not hold is no error. */
  #unsubscribe(connection: WsConnection, frame: Frame): void {
    let lobby: boolean;
    try {
      lobby = namesLobby(frame);
    } catch (error) {
      connection.sendError(error);
      return;
    }
    if (lobby) {
      connection.lobby?.close();
      connection.lobby = null;
      return;
    }
    const follow = typeof frame.room === 'string' ? connection.following(frame.room) : undefined;
    if (follow) connection.forget(follow);
  }

  /** A chat frame: `sent` answers it when it carries `ref`; else the own `chat` event does. */
  async #post(connection: WsConnection, frame: Frame): Promise<void> {
    let ref: string | number | undefined;
    try {
      ref = refOf(frame);
    } catch (error) {
      connection.sendError(error);
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
        connection.send(encodeFrame({ type: 'sent', data: { ref, message } }));
      }
    } catch (error) {
      connection.sendError(error, about);
    }
  }
}

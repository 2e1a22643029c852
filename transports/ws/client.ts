import type { Message } from '../../core/model.ts';
import { ClientError, type ClientOptions, errorFrom, readJson } from '../client.ts';
import { Backoff, ClientBase } from '../client-base.ts';

/** What this client uses of a WebSocket: the browser's, or the `ws` package's in Node. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export type SocketConstructor = new (
  url: string,
  options?: { headers: Record<string, string> },
) => SocketLike;

/**
 * In a page, `WebSocket` and `fetch` default to the browser's. In Node, pass the `ws` package's
 * WebSocket; with `cookie` the upgrade carries the session cookie as a header (the second
 * argument of the `ws` constructor, which a browser's WebSocket never gets).
 */
export interface WsClientOptions extends ClientOptions {
  WebSocket?: SocketConstructor | typeof WebSocket;
  fetch?: typeof fetch;
  /** How long `send` waits for the server's `sent` frame. */
  sendTimeoutMs?: number;
}

const OPEN = 1;
const RETRY_MS = [250, 500, 1000, 2000];
/** A socket that is not open by then is given up and tried again. */
const CONNECT_TIMEOUT_MS = 10_000;

interface PendingSend {
  frame: string;
  written: boolean;
  resolve(message: Message): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface ServerFrame {
  type: string;
  id?: number;
  data: Record<string, unknown>;
}

/**
 * Raw WebSocket at `/ws`: one socket for the room, the lobby and sends (`chat` frames with a
 * `ref`, answered by `sent` or `error`). After a drop it reconnects with backoff and subscribes
 * again with `after: lastSeq`, and refetches the room list for the lobby. A browser cannot read
 * why an upgrade was refused, so a socket that never opens asks `GET /ws` (401, 403, or 426 when
 * the upgrade would be accepted) before trying again. A stream is live (`open`) from its
 * `subscribed` frame on the current socket: frames of a room left or replaced come before it.
 */
export class WsClient extends ClientBase {
  override readonly transport = 'ws' as const;
  readonly #WebSocket: SocketConstructor;
  readonly #sendTimeoutMs: number;
  readonly #backoff = new Backoff(RETRY_MS);
  #socket: SocketLike | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sends = new Map<string, PendingSend>();
  #nextRef = 1;

  constructor(options: WsClientOptions = {}) {
    const WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketClass) {
      throw new Error('WsClient needs a WebSocket: in Node, pass the ws package one');
    }
    super(options);
    this.#WebSocket = WebSocketClass as SocketConstructor;
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  }

  override connectRoom(room: string, options: { after?: number } = {}): Promise<void> {
    // Subscribing again to the same room replaces the subscription on the server by itself.
    if (this.state !== 'closed' && this.room !== undefined && this.room !== room) {
      this.#write({ type: 'unsubscribe', room: this.room });
    }
    return super.connectRoom(room, options);
  }

  override async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    const room = this.roomToSend();
    const ref = `r${this.#nextRef++}`;
    const to = options.toId === undefined ? {} : { toId: options.toId };
    const frame = JSON.stringify({ type: 'chat', room, chat, ref, ...to });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#sends.delete(ref);
        reject(
          new ClientError(
            504,
            'The server did not confirm the message in time; it may have been sent.',
            'unconfirmed',
          ),
        );
      }, this.#sendTimeoutMs);
      const pending: PendingSend = { frame, written: false, resolve, reject, timer };
      this.#sends.set(ref, pending);
      // While disconnected it waits for the next socket (see #socketOnOpen).
      if (this.#isOpen()) this.#writeSend(pending);
      else this.#connect();
    });
  }

  protected override openRoom(): void {
    if (this.#isOpen()) this.#subscribeRoom();
    else this.#connect();
  }

  protected override openLobby(): void {
    if (this.#isOpen()) this.#write({ type: 'subscribe', lobby: true });
    else this.#connect();
  }

  protected override dropConnections(): void {
    // As a network failure would: the close handler reconnects and resumes.
    this.#socket?.close();
  }

  protected override closeConnections(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
    this.#failSends(
      new ClientError(
        503,
        'The client was closed before the server confirmed the message.',
        'closed',
      ),
    );
  }

  // ---- the socket ---------------------------------------------------------------------------

  #connect(): void {
    if (this.#socket || this.#retryTimer !== undefined) return;
    const language = this.options.language;
    const path = language ? `/ws?lang=${encodeURIComponent(language)}` : '/ws';
    const url = this.url(path).replace(/^http/, 'ws');
    const cookie = this.options.cookie;
    const socket = cookie
      ? new this.#WebSocket(url, { headers: { cookie } })
      : new this.#WebSocket(url);
    this.#socket = socket;
    let opened = false;
    // A server that takes the connection but never answers the upgrade must not hang the client.
    const timeout = setTimeout(() => socket.close(), CONNECT_TIMEOUT_MS);
    socket.addEventListener('open', () => {
      clearTimeout(timeout);
      if (socket !== this.#socket) return;
      opened = true;
      this.#socketOnOpen();
    });
    socket.addEventListener('message', (event) => {
      if (socket === this.#socket) this.#socketOnMessage(event.data);
    });
    // Every error is followed by a close, which decides what comes next.
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', () => {
      clearTimeout(timeout);
      if (socket !== this.#socket) return;
      this.#socket = undefined;
      this.#socketOnClose(opened);
    });
  }

  #socketOnOpen(): void {
    this.#backoff.reset();
    if (this.lobbyState !== 'closed') this.#write({ type: 'subscribe', lobby: true });
    if (this.state !== 'closed') this.#subscribeRoom();
    for (const pending of this.#sends.values()) this.#writeSend(pending);
  }

  #socketOnClose(opened: boolean): void {
    // Whether the server stored them is unknown: the caller decides (the room stream will tell).
    for (const [ref, pending] of this.#sends) {
      if (!pending.written) continue;
      this.#sends.delete(ref);
      clearTimeout(pending.timer);
      pending.reject(
        new ClientError(
          503,
          'The connection was lost before the server confirmed the message.',
          'lost',
        ),
      );
    }
    if (!this.#wanted()) return;
    this.roomLost();
    this.lobbyLost();
    if (opened) {
      this.#retry();
      return;
    }
    void this.#probe().then((error) => {
      if (this.#socket || this.#retryTimer !== undefined) return;
      if (error) {
        // The upgrade itself was refused (no session, foreign Origin): nothing to retry.
        this.#failSends(error);
        this.refused(error, 'room', 'lobby');
      } else {
        this.#retry();
      }
    });
  }

  #retry(): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#wanted()) this.#connect();
    }, this.#backoff.next());
  }

  /** Whether a socket is needed: a stream followed, or a send waiting. */
  #wanted(): boolean {
    return this.state !== 'closed' || this.lobbyState !== 'closed' || this.#sends.size > 0;
  }

  /**
   * A browser reports a refused upgrade as a bare close: ask `GET /ws` for the status and
   * sentence. Null when the server would accept the upgrade now (or cannot be reached).
   */
  async #probe(): Promise<ClientError | null> {
    const cookie = this.options.cookie;
    try {
      const response = await this.fetch(this.url('/ws'), {
        headers: { accept: 'application/json', ...(cookie ? { cookie } : {}) },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (![401, 403, 404].includes(response.status)) return null;
      return errorFrom(response.status, await readJson(response));
    } catch {
      return null;
    }
  }

  // ---- frames -------------------------------------------------------------------------------

  #socketOnMessage(raw: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(raw)) as ServerFrame;
    } catch {
      return;
    }
    const { type, data } = frame;
    if (typeof data !== 'object' || data === null) return;
    const roomLive = this.state === 'open';
    const lobbyLive = this.lobbyState === 'open';
    switch (type) {
      case 'subscribed':
        if (data.lobby === true) this.#lobbySubscribed();
        else if (data.room === this.room && this.state !== 'closed') this.roomOpened();
        return;
      case 'sent':
        this.#settleSend(data.ref, (pending) => pending.resolve(data.message as Message));
        return;
      case 'error':
        this.#serverError(data);
        return;
      case 'removeRoom':
        // The same frame comes once per subscription that sees it: the room's first, the lobby's.
        if (roomLive && data.id === this.room) this.roomEvent(type, data);
        else if (lobbyLive) this.lobbyEvent(type, data);
        return;
      default:
        if (roomLive) this.roomEvent(type, data, frame.id);
        if (lobbyLive) this.lobbyEvent(type, data);
    }
  }

  #lobbySubscribed(): void {
    if (this.lobbyState === 'closed') return;
    const socket = this.#socket;
    void this.lobbyOpened(() => socket === this.#socket && this.lobbyState === 'open');
  }

  #serverError(data: Record<string, unknown>): void {
    const error = new ClientError(
      typeof data.status === 'number' ? data.status : 500,
      typeof data.error === 'string' ? data.error : 'The server refused a frame.',
    );
    if (data.ref !== undefined) {
      this.#settleSend(data.ref, (pending) => pending.reject(error));
    } else if (data.room !== undefined) {
      // A refusal of the room (404, 403, 409), at connectRoom or when resuming after a drop.
      if (data.room === this.room) this.refused(error, 'room');
    } else {
      this.emit('error', error);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  #subscribeRoom(): void {
    const after = this.cursor;
    this.#write(
      after === undefined
        ? { type: 'subscribe', room: this.room }
        : { type: 'subscribe', room: this.room, after },
    );
  }

  #writeSend(pending: PendingSend): void {
    if (pending.written || !this.#isOpen()) return;
    pending.written = true;
    this.#socket!.send(pending.frame);
  }

  #settleSend(ref: unknown, settle: (pending: PendingSend) => void): void {
    if (typeof ref !== 'string') return;
    const pending = this.#sends.get(ref);
    if (!pending) return;
    this.#sends.delete(ref);
    clearTimeout(pending.timer);
    settle(pending);
  }

  #failSends(error: Error): void {
    for (const pending of this.#sends.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#sends.clear();
  }

  #write(frame: Record<string, unknown>): void {
    if (this.#isOpen()) this.#socket!.send(JSON.stringify(frame));
  }

  #isOpen(): boolean {
    return this.#socket !== undefined && this.#socket.readyState === OPEN;
  }
}

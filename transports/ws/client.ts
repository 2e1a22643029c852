import type { LobbyEventType, Message, Room } from '../../core/model.ts';
import {
  type ChatClient,
  ClientError,
  type ClientEvents,
  type ClientListener,
  type ClientOptions,
  type ClientState,
  errorFrom,
  Listeners,
  readJson,
} from '../client.ts';
import { LobbyMirror } from '../lobby-mirror.ts';

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
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 2000;
/** A socket that is not open by then is given up and tried again. */
const CONNECT_TIMEOUT_MS = 10_000;
const STORED_TYPES: ReadonlySet<string> = new Set(['chat', 'join', 'exit', 'owner']);
const ROOM_TYPES: ReadonlySet<string> = new Set([...STORED_TYPES, 'members', 'kicked']);
const LOBBY_TYPES: ReadonlySet<string> = new Set(['newRoom', 'roomUpdate']);

interface Pending {
  resolve(): void;
  reject(error: ClientError): void;
}

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
 * the upgrade would be accepted) before trying again.
 */
export class WsClient implements ChatClient {
  readonly transport = 'ws' as const;
  readonly #options: WsClientOptions;
  readonly #WebSocket: SocketConstructor;
  readonly #fetch: typeof fetch;
  readonly #sendTimeoutMs: number;
  readonly #listeners = new Listeners();
  #socket: SocketLike | undefined;
  #retryMs = RETRY_MIN_MS;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #state: ClientState = 'closed';
  #lastSeq = 0;
  /** The room followed (and sent to); `#roomWanted` says whether to subscribe to it again. */
  #room: string | undefined;
  #roomWanted = false;
  /** `subscribed` came on this socket: room events count from then on. */
  #roomLive = false;
  #roomPending: Pending | undefined;
  /** Where the next room subscription resumes: `after` of connectRoom, then the last stored seq. */
  #cursor: number | undefined;
  #lobbyWanted = false;
  #lobbyLive = false;
  #lobbyPending: Pending | undefined;
  readonly #lobbyMirror = new LobbyMirror((type, data) =>
    this.#listeners.emit(type, data as never),
  );
  /** The lobby was subscribed once on some socket: a later `subscribed` is a resync. */
  #lobbyKnown = false;
  readonly #sends = new Map<string, PendingSend>();
  #nextRef = 1;

  constructor(options: WsClientOptions = {}) {
    const WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketClass) {
      throw new Error('WsClient needs a WebSocket: in Node, pass the ws package one');
    }
    this.#options = options;
    this.#WebSocket = WebSocketClass as SocketConstructor;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#sendTimeoutMs = options.sendTimeoutMs ?? 10_000;
  }

  get state(): ClientState {
    return this.#state;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  on<K extends keyof ClientEvents>(type: K, listener: ClientListener<K>): () => void {
    return this.#listeners.on(type, listener);
  }

  connectRoom(room: string, options: { after?: number } = {}): Promise<void> {
    // Subscribing again to the same room replaces the subscription on the server by itself.
    if (this.#roomWanted && this.#room !== undefined && this.#room !== room) {
      this.#write({ type: 'unsubscribe', room: this.#room });
    }
    this.#room = room;
    this.#roomWanted = true;
    this.#roomLive = false;
    this.#cursor = options.after;
    this.#lastSeq = 0;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.#roomPending = { resolve, reject };
      if (this.#isOpen()) this.#subscribeRoom();
      else this.#connect();
    });
  }

  connectLobby(): Promise<void> {
    this.#lobbyWanted = true;
    this.#lobbyLive = false;
    this.#lobbyKnown = false;
    this.#lobbyMirror.clear();
    return new Promise((resolve, reject) => {
      this.#lobbyPending = { resolve, reject };
      if (this.#isOpen()) this.#write({ type: 'subscribe', lobby: true });
      else this.#connect();
    });
  }

  send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    const room = this.#room;
    if (room === undefined) return Promise.reject(new Error('send needs a room: call connectRoom'));
    const ref = `r${this.#nextRef++}`;
    const to = options.toId === undefined ? {} : { toId: options.toId };
    const frame = JSON.stringify({ type: 'chat', room, chat, ref, ...to });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#sends.delete(ref);
        reject(new Error('The server did not confirm the message in time; it may have been sent.'));
      }, this.#sendTimeoutMs);
      const pending: PendingSend = { frame, written: false, resolve, reject, timer };
      this.#sends.set(ref, pending);
      // While disconnected it waits for the next socket (see #socketOnOpen).
      if (this.#isOpen()) this.#writeSend(pending);
      else this.#connect();
    });
  }

  drop(): void {
    // As a network failure would: the close handler reconnects and resumes.
    this.#socket?.close();
  }

  close(): void {
    this.#roomWanted = false;
    this.#lobbyWanted = false;
    this.#roomLive = false;
    this.#lobbyLive = false;
    this.#room = undefined;
    this.#lobbyMirror.clear();
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close();
    this.#failSends(new Error('The client was closed before the server confirmed the message.'));
    this.#setState('closed');
  }

  // ---- the socket ---------------------------------------------------------------------------

  #connect(): void {
    if (this.#socket || this.#retryTimer !== undefined) return;
    const url = `${this.#base().replace(/^http/, 'ws')}/ws`;
    const cookie = this.#options.cookie;
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
    this.#retryMs = RETRY_MIN_MS;
    if (this.#lobbyWanted) this.#write({ type: 'subscribe', lobby: true });
    if (this.#roomWanted) this.#subscribeRoom();
    for (const pending of this.#sends.values()) this.#writeSend(pending);
  }

  #socketOnClose(opened: boolean): void {
    this.#roomLive = false;
    this.#lobbyLive = false;
    // Whether the server stored them is unknown: the caller decides (the room stream will tell).
    for (const [ref, pending] of this.#sends) {
      if (!pending.written) continue;
      this.#sends.delete(ref);
      clearTimeout(pending.timer);
      pending.reject(new Error('The connection was lost before the server confirmed the message.'));
    }
    if (!this.#roomWanted && !this.#lobbyWanted && this.#sends.size === 0) {
      this.#setState('closed');
      return;
    }
    if (this.#roomWanted) this.#setState('connecting');
    if (opened) {
      this.#retry();
      return;
    }
    void this.#probe().then((error) => {
      if (this.#socket || this.#retryTimer !== undefined) return;
      if (error) this.#refused(error);
      else this.#retry();
    });
  }

  #retry(): void {
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#roomWanted || this.#lobbyWanted || this.#sends.size > 0) this.#connect();
    }, delay);
  }

  /** The upgrade itself was refused (no session, foreign Origin): nothing to retry. */
  #refused(error: ClientError): void {
    const pending = [this.#roomPending, this.#lobbyPending];
    const wanted = this.#roomWanted || this.#lobbyWanted;
    this.#roomPending = undefined;
    this.#lobbyPending = undefined;
    this.#roomWanted = false;
    this.#lobbyWanted = false;
    this.#failSends(error);
    this.#setState('closed');
    const waiting = pending.filter((p) => p !== undefined);
    for (const p of waiting) p.reject(error);
    if (waiting.length === 0 && wanted) this.#listeners.emit('error', error);
  }

  /**
   * A browser reports a refused upgrade as a bare close: ask `GET /ws` for the status and
   * sentence. Null when the server would accept the upgrade now (or cannot be reached).
   */
  async #probe(): Promise<ClientError | null> {
    const cookie = this.#options.cookie;
    try {
      const response = await this.#fetch(`${this.#base()}/ws`, {
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
    const data = frame.data;
    if (typeof data !== 'object' || data === null) return;
    switch (frame.type) {
      case 'subscribed':
        if (data.lobby === true) this.#lobbySubscribed();
        else if (data.room === this.#room && this.#roomWanted) this.#roomSubscribed();
        return;
      case 'sent':
        this.#settleSend(data.ref, (pending) => pending.resolve(data.message as Message));
        return;
      case 'error':
        this.#serverError(data);
        return;
      case 'removeRoom':
        // The same frame comes once per subscription that sees it: the room's first, the lobby's.
        if (this.#roomLive && data.id === this.#room) this.#roomEvent(frame);
        else if (this.#lobbyLive) this.#lobbyEvent(frame);
        return;
      default:
        if (ROOM_TYPES.has(frame.type)) this.#roomEvent(frame);
        else if (LOBBY_TYPES.has(frame.type)) this.#lobbyEvent(frame);
    }
  }

  #roomSubscribed(): void {
    this.#roomLive = true;
    this.#setState('open');
    this.#roomPending?.resolve();
    this.#roomPending = undefined;
  }

  #roomEvent(frame: ServerFrame): void {
    // Frames of a room left or replaced come before `subscribed`: only the live room counts.
    if (!this.#roomLive) return;
    const { type, data } = frame;
    if (STORED_TYPES.has(type)) {
      const seq = (data as unknown as Message).seq ?? frame.id;
      if (this.#cursor !== undefined && seq <= this.#cursor) return;
      this.#cursor = seq;
      this.#lastSeq = Math.max(this.#lastSeq, seq);
    }
    if (type === 'kicked' || type === 'removeRoom') {
      // The server ended this subscription; the socket stays for the lobby and sends.
      this.#roomWanted = false;
      this.#roomLive = false;
      this.#setState('closed');
    }
    this.#listeners.emit(type as keyof ClientEvents, data as never);
  }

  #lobbyEvent(frame: ServerFrame): void {
    if (!this.#lobbyLive) return;
    const data = frame.data as unknown as Room;
    this.#lobbyMirror.event(frame.type as LobbyEventType, data);
  }

  #lobbySubscribed(): void {
    if (!this.#lobbyWanted) return;
    this.#lobbyLive = true;
    const socket = this.#socket;
    void this.#lobbyMirror.resync(
      (query) =>
        this.#fetch(`${this.#base()}/api/rooms${query}`, {
          headers: { accept: 'application/json' },
        }),
      { quiet: !this.#lobbyKnown, current: () => socket === this.#socket && this.#lobbyLive },
    );
    this.#lobbyKnown = true;
    this.#lobbyPending?.resolve();
    this.#lobbyPending = undefined;
  }

  #serverError(data: Record<string, unknown>): void {
    const error = new ClientError(
      typeof data.status === 'number' ? data.status : 500,
      typeof data.error === 'string' ? data.error : 'The server refused a frame.',
    );
    if (data.ref !== undefined) {
      this.#settleSend(data.ref, (pending) => pending.reject(error));
    } else if (data.room !== undefined) {
      if (data.room !== this.#room || !this.#roomWanted) return;
      // A refusal of the room (404, 403, 409), at connectRoom or when resuming after a drop.
      this.#roomWanted = false;
      this.#roomLive = false;
      this.#setState('closed');
      const pending = this.#roomPending;
      this.#roomPending = undefined;
      if (pending) pending.reject(error);
      else this.#listeners.emit('error', error);
    } else {
      this.#listeners.emit('error', error);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  #subscribeRoom(): void {
    this.#roomLive = false;
    const after = this.#cursor;
    this.#write(
      after === undefined
        ? { type: 'subscribe', room: this.#room }
        : { type: 'subscribe', room: this.#room, after },
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

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#listeners.emit('state', state);
  }

  #base(): string {
    return this.#options.baseUrl ?? globalThis.location?.origin ?? '';
  }
}

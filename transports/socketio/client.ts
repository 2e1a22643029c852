import { Manager, type Socket } from 'socket.io-client';
import type { Message, Room } from '../../core/model.ts';
import {
  type ChatClient,
  ClientError,
  type ClientEvents,
  type ClientListener,
  type ClientOptions,
  type ClientState,
  Listeners,
  LOBBY_EVENT_TYPES,
  ROOM_EVENT_TYPES,
} from '../client.ts';
import { LobbyMirror } from '../lobby-mirror.ts';

/**
 * In a page every option may be left out (the browser sends the session cookie itself). In Node,
 * `baseUrl` and `cookie` matter: the cookie rides on every poll, POST and upgrade.
 */
export interface SocketIoClientOptions extends ClientOptions {
  /** Socket.IO's transports; by default its own: long polling first, then the upgrade. */
  transports?: ('polling' | 'websocket')[];
  /** How long `send` waits for its acknowledgement (default 10 s). */
  ackTimeoutMs?: number;
  /** Socket.IO's first reconnection delay (it doubles up to 5 s, randomised). */
  reconnectionDelayMs?: number;
}

const STORED_TYPES: ReadonlySet<string> = new Set(['chat', 'join', 'exit', 'owner']);
/** How long a join waits for its acknowledgement before it is asked again. */
const JOIN_TIMEOUT_MS = 10_000;

interface Pending {
  resolve(): void;
  reject(error: ClientError): void;
}

/**
 * Socket.IO, as in the book: one Manager (one engine connection, reconnecting by itself) carries
 * the namespaces `/chat` (the room: `join`, `chat`, `leave`) and `/room` (the lobby). On every
 * (re)connect the client joins again with `{room, after: lastSeq}` and drops any stored event it
 * has already seen, so a drop loses nothing and repeats nothing.
 */
export class SocketIoClient implements ChatClient {
  readonly transport = 'socketio' as const;
  readonly #options: SocketIoClientOptions;
  readonly #ackTimeoutMs: number;
  readonly #listeners = new Listeners();
  #manager: Manager | undefined;
  #chat: Socket | undefined;
  #lobby: Socket | undefined;
  #state: ClientState = 'closed';
  #lastSeq = 0;
  #room: string | undefined;
  /** Whether the room should be joined (again, after a reconnect). */
  #joined = false;
  /** Where the next join resumes: `after` of connectRoom, then the last stored seq. */
  #cursor: number | undefined;
  /** Counts joins: an acknowledgement of an earlier one is ignored. */
  #joinAttempt = 0;
  #pendingRoom: Pending | undefined;
  #pendingLobby: Pending | undefined;
  readonly #lobbyMirror = new LobbyMirror((type, data) =>
    this.#listeners.emit(type, data as never),
  );
  #lobbyOpened = false;

  constructor(options: SocketIoClientOptions = {}) {
    this.#options = options;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  }

  get state(): ClientState {
    return this.#state;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** The engine.io transport the connection runs on now: `polling` or `websocket` (labs, tests). */
  get wire(): string | undefined {
    return this.#manager?.engine?.transport?.name;
  }

  on<K extends keyof ClientEvents>(type: K, listener: ClientListener<K>): () => void {
    return this.#listeners.on(type, listener);
  }

  connectRoom(room: string, options: { after?: number } = {}): Promise<void> {
    this.#closeRoom();
    this.#room = room;
    this.#joined = true;
    this.#cursor = options.after;
    this.#lastSeq = 0;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.#pendingRoom = { resolve, reject };
      const socket = this.#chatSocket();
      if (socket.connected) this.#join(socket);
      else socket.connect();
    });
  }

  connectLobby(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.#lobbySocket();
      if (socket.connected) return resolve();
      this.#pendingLobby = { resolve, reject };
      socket.connect();
    });
  }

  async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    const room = this.#room;
    if (room === undefined) throw new Error('send needs a room: call connectRoom first');
    const payload =
      options.toId === undefined ? { room, chat } : { room, chat, toId: options.toId };
    let answer: unknown;
    try {
      answer = await this.#chatSocket().timeout(this.#ackTimeoutMs).emitWithAck('chat', payload);
    } catch {
      throw new ClientError(504, 'The server did not acknowledge the message in time.');
    }
    const refused = refusalOf(answer);
    if (refused) throw refused;
    return (answer as { message: Message }).message;
  }

  drop(): void {
    // As a network failure would: the Manager sees its engine close and reconnects by itself.
    this.#manager?.engine?.close();
  }

  close(): void {
    this.#closeRoom();
    this.#room = undefined;
    this.#chat?.disconnect();
    this.#lobby?.disconnect();
    this.#chat = undefined;
    this.#lobby = undefined;
    this.#lobbyMirror.clear();
    this.#lobbyOpened = false;
    this.#manager = undefined;
  }

  #managerOf(): Manager {
    if (!this.#manager) {
      const { baseUrl, cookie, transports, reconnectionDelayMs } = this.#options;
      this.#manager = new Manager(baseUrl ?? globalThis.location?.origin, {
        path: '/socket.io',
        autoConnect: false,
        withCredentials: false,
        ...(transports ? { transports } : {}),
        ...(cookie ? { extraHeaders: { cookie } } : {}),
        ...(reconnectionDelayMs !== undefined ? { reconnectionDelay: reconnectionDelayMs } : {}),
      });
    }
    return this.#manager;
  }

  #chatSocket(): Socket {
    if (this.#chat) return this.#chat;
    const socket = this.#managerOf().socket('/chat');
    this.#chat = socket;
    socket.on('connect', () => this.#join(socket));
    socket.on('disconnect', () => {
      if (this.#joined) this.#setState('connecting');
    });
    socket.on('connect_error', (error) => {
      // Refused by the server (no session): Socket.IO will not try again. Otherwise it will.
      if (socket.active) return;
      this.#fail(
        refusalOf((error as { data?: unknown }).data) ?? new ClientError(401, error.message),
      );
    });
    for (const type of ROOM_EVENT_TYPES) {
      socket.on(type, (data: unknown) => this.#chatOnEvent(type, data));
    }
    return socket;
  }

  #join(socket: Socket): void {
    const room = this.#room;
    if (!this.#joined || room === undefined) return;
    const attempt = ++this.#joinAttempt;
    const payload = this.#cursor === undefined ? { room } : { room, after: this.#cursor };
    socket
      .timeout(JOIN_TIMEOUT_MS)
      .emit('join', payload, (error: Error | null, answer: unknown) => {
        if (attempt !== this.#joinAttempt) return;
        // No answer in time: ask again if still connected (a reconnect joins anyway).
        if (error) return socket.connected ? this.#join(socket) : undefined;
        const refused = refusalOf(answer);
        // A server shutting down: its engine closes next, and the reconnect joins again.
        if (refused?.status === 503) return;
        if (refused) return this.#fail(refused);
        this.#setState('open');
        this.#pendingRoom?.resolve();
        this.#pendingRoom = undefined;
      });
  }

  #chatOnEvent(type: (typeof ROOM_EVENT_TYPES)[number], data: unknown): void {
    if (!this.#joined || typeof data !== 'object' || data === null) return;
    if (STORED_TYPES.has(type)) {
      const message = data as Message;
      if (message.room !== this.#room) return;
      if (this.#cursor !== undefined && message.seq <= this.#cursor) return;
      this.#cursor = message.seq;
      this.#lastSeq = Math.max(this.#lastSeq, message.seq);
    } else if (type === 'kicked' || type === 'removeRoom') {
      if ((data as { id?: unknown }).id !== this.#room) return;
      // The server has ended the subscription: do not join again.
      this.#joined = false;
      this.#setState('closed');
    }
    this.#listeners.emit(type, data as never);
  }

  /** A refusal of the room: the pending connectRoom rejects, or the client reports it. */
  #fail(error: ClientError): void {
    this.#closeRoom();
    if (this.#pendingRoom) this.#pendingRoom.reject(error);
    else this.#listeners.emit('error', error);
    this.#pendingRoom = undefined;
  }

  #closeRoom(): void {
    if (this.#joined && this.#room !== undefined && this.#chat?.connected) {
      this.#chat.emit('leave', this.#room);
    }
    this.#joined = false;
    this.#joinAttempt += 1;
    this.#setState('closed');
  }

  #lobbySocket(): Socket {
    if (this.#lobby) return this.#lobby;
    const socket = this.#managerOf().socket('/room');
    this.#lobby = socket;
    socket.on('connect', () => {
      void this.#lobbyMirror.resync(
        (query) =>
          fetch(`${this.#options.baseUrl ?? ''}/api/rooms${query}`, {
            headers: { accept: 'application/json' },
          }),
        { quiet: !this.#lobbyOpened, current: () => socket === this.#lobby },
      );
      this.#lobbyOpened = true;
      this.#pendingLobby?.resolve();
      this.#pendingLobby = undefined;
    });
    socket.on('connect_error', (error) => {
      if (socket.active) return;
      const refused = new ClientError(500, error.message);
      if (this.#pendingLobby) this.#pendingLobby.reject(refused);
      else this.#listeners.emit('error', refused);
      this.#pendingLobby = undefined;
    });
    for (const type of LOBBY_EVENT_TYPES) {
      socket.on(type, (data: Room | { id: string }) => {
        if (typeof data === 'object' && data !== null) this.#lobbyMirror.event(type, data);
      });
    }
    return socket;
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#listeners.emit('state', state);
  }
}

/** `{error, status}` from an acknowledgement or a `connect_error`'s data, as a ClientError. */
function refusalOf(answer: unknown): ClientError | null {
  if (typeof answer !== 'object' || answer === null || !('error' in answer)) return null;
  const { error, status } = answer as { error: unknown; status: unknown };
  return new ClientError(
    typeof status === 'number' ? status : 500,
    typeof error === 'string' ? error : 'The server refused.',
  );
}

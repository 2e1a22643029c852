import { Manager, type Socket } from 'socket.io-client';
import type { Message } from '../../core/model.ts';
import { ClientError, type ClientOptions, LOBBY_EVENT_TYPES, ROOM_EVENT_TYPES } from '../client.ts';
import { ClientBase } from '../client-base.ts';

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

/** How long a join waits for its acknowledgement before it is asked again. */
const JOIN_TIMEOUT_MS = 10_000;

/**
 * Socket.IO, as in the book: one Manager (one engine connection, reconnecting by itself) carries
 * the namespaces `/chat` (the room: `join`, `chat`, `leave`) and `/room` (the lobby). On every
 * (re)connect the client joins again with `{room, after: lastSeq}` and drops any stored event it
 * has already seen, so a drop loses nothing and repeats nothing.
 */
export class SocketIoClient extends ClientBase {
  override readonly transport = 'socketio' as const;
  readonly #transports: SocketIoClientOptions['transports'];
  readonly #reconnectionDelayMs: number | undefined;
  readonly #ackTimeoutMs: number;
  #manager: Manager | undefined;
  #chat: Socket | undefined;
  #lobby: Socket | undefined;
  /** Counts joins: an acknowledgement of an earlier one is ignored. */
  #joinAttempt = 0;

  constructor(options: SocketIoClientOptions = {}) {
    super(options);
    this.#transports = options.transports;
    this.#reconnectionDelayMs = options.reconnectionDelayMs;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  }

  /** The engine.io transport the connection runs on now: `polling` or `websocket` (labs, tests). */
  get wire(): string | undefined {
    return this.#manager?.engine?.transport?.name;
  }

  override async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    const room = this.roomToSend();
    const payload =
      options.toId === undefined ? { room, chat } : { room, chat, toId: options.toId };
    let answer: unknown;
    try {
      answer = await this.#chatSocket().timeout(this.#ackTimeoutMs).emitWithAck('chat', payload);
    } catch {
      throw new ClientError(
        504,
        'The server did not acknowledge the message in time.',
        'unconfirmed',
      );
    }
    const refused = refusalOf(answer);
    if (refused) throw refused;
    return (answer as { message: Message }).message;
  }

  protected override openRoom(): void {
    const socket = this.#chatSocket();
    if (socket.connected) this.#join(socket);
    else socket.connect();
  }

  protected override stopRoom(leaving: boolean): void {
    if (leaving && this.room !== undefined && this.#chat?.connected) {
      this.#chat.emit('leave', this.room);
    }
    this.#joinAttempt += 1;
  }

  protected override openLobby(): void {
    const socket = this.#lobbySocket();
    if (socket.connected) void this.lobbyOpened(() => socket === this.#lobby);
    else socket.connect();
  }

  protected override dropConnections(): void {
    // As a network failure would: the Manager sees its engine close and reconnects by itself.
    this.#manager?.engine?.close();
  }

  protected override closeConnections(): void {
    this.#chat?.disconnect();
    this.#lobby?.disconnect();
    this.#chat = undefined;
    this.#lobby = undefined;
    this.#manager = undefined;
  }

  #managerOf(): Manager {
    if (!this.#manager) {
      const cookie = this.options.cookie;
      const transports = this.#transports;
      const reconnectionDelay = this.#reconnectionDelayMs;
      this.#manager = new Manager(this.url(''), {
        path: '/socket.io',
        autoConnect: false,
        withCredentials: false,
        ...(transports ? { transports } : {}),
        ...(cookie ? { extraHeaders: { cookie } } : {}),
        query: {
          ...(this.options.language ? { lang: this.options.language } : {}),
          ...(this.options.trace ? { trace: this.options.trace } : {}),
        },
        ...(reconnectionDelay !== undefined ? { reconnectionDelay } : {}),
      });
    }
    return this.#manager;
  }

  #chatSocket(): Socket {
    if (this.#chat) return this.#chat;
    const socket = this.#managerOf().socket('/chat');
    this.#chat = socket;
    socket.on('connect', () => this.#join(socket));
    socket.on('disconnect', () => this.roomLost());
    socket.on('connect_error', (error) => {
      // Refused by the server (no session): Socket.IO will not try again. Otherwise it will.
      if (socket.active) return;
      const data = (error as { data?: unknown }).data;
      this.refused(refusalOf(data) ?? new ClientError(401, error.message), 'room');
    });
    for (const type of ROOM_EVENT_TYPES) {
      socket.on(type, (data: unknown) => this.roomEvent(type, data));
    }
    return socket;
  }

  #join(socket: Socket): void {
    const room = this.room;
    if (this.state === 'closed' || room === undefined) return;
    const attempt = ++this.#joinAttempt;
    const payload = this.cursor === undefined ? { room } : { room, after: this.cursor };
    socket
      .timeout(JOIN_TIMEOUT_MS)
      .emit('join', payload, (error: Error | null, answer: unknown) => {
        if (attempt !== this.#joinAttempt) return;
        // No answer in time: ask again if still connected (a reconnect joins anyway).
        if (error) return socket.connected ? this.#join(socket) : undefined;
        const refused = refusalOf(answer);
        // A server shutting down: its engine closes next, and the reconnect joins again.
        if (refused?.status === 503) return;
        if (refused) return this.refused(refused, 'room');
        this.roomOpened();
      });
  }

  #lobbySocket(): Socket {
    if (this.#lobby) return this.#lobby;
    const socket = this.#managerOf().socket('/room');
    this.#lobby = socket;
    socket.on('connect', () => void this.lobbyOpened(() => socket === this.#lobby));
    socket.on('connect_error', (error) => {
      if (!socket.active) this.refused(new ClientError(500, error.message), 'lobby');
    });
    for (const type of LOBBY_EVENT_TYPES) {
      socket.on(type, (data: unknown) => this.lobbyEvent(type, labLobbyPayload(data)));
    }
    return socket;
  }
}

/**
 * `/room` speaks the book's payloads (PROTOCOL.md, Socket.IO): `removeRoom` is the bare id, and a
 * Room comes with `_id` and a `password` flag. This client reports what every transport's does:
 * `{id}`, and the Room alone.
 */
function labLobbyPayload(data: unknown): unknown {
  if (typeof data === 'string') return { id: data };
  if (typeof data !== 'object' || data === null) return data;
  const { _id, password, ...room } = data as { _id?: unknown; password?: unknown };
  return room;
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

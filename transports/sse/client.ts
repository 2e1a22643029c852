import type { Message, Room } from '../../core/model.ts';
import {
  type ChatClient,
  type ClientError,
  type ClientEvents,
  type ClientListener,
  type ClientOptions,
  type ClientState,
  errorFrom,
  Listeners,
  LOBBY_EVENT_TYPES,
  postChat,
  ROOM_EVENT_TYPES,
  readJson,
} from '../client.ts';
import { LobbyMirror } from '../lobby-mirror.ts';

/**
 * In a page, `EventSource` and `fetch` default to the browser's. In Node, pass the `eventsource`
 * package's EventSource; with `cookie` (and no `fetch` of your own) every request, the streams'
 * included, carries the session cookie.
 */
export interface SseClientOptions extends ClientOptions {
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
}

/** How long to wait before replacing a stream that its EventSource gave up on. */
const REOPEN_MS = 2000;
const STORED_TYPES: ReadonlySet<string> = new Set(['chat', 'join', 'exit', 'owner']);

interface Pending {
  resolve(): void;
  reject(error: ClientError): void;
}

/**
 * Server-Sent Events down (`/sse/room/:id`, `/sse/lobby`), POST up. The EventSource reconnects
 * by itself and resumes with `Last-Event-ID`; this client adds what EventSource cannot do: read
 * the status and sentence of a refusal (EventSource reports none, so it asks again with fetch),
 * drop and resume from `lastSeq` on demand, and refetch the room list when the lobby reconnects.
 */
export class SseClient implements ChatClient {
  readonly transport = 'sse' as const;
  readonly #options: ClientOptions;
  readonly #EventSource: typeof EventSource;
  readonly #fetch: typeof fetch;
  /** EventSource init: the `eventsource` package takes a `fetch`; the browser ignores it. */
  readonly #init: EventSourceInit | undefined;
  readonly #listeners = new Listeners();
  #state: ClientState = 'closed';
  #lastSeq = 0;
  #room: string | undefined;
  /** Where the next room stream resumes: `after` of connectRoom, then the last stored seq. */
  #cursor: number | undefined;
  #roomStream: EventSource | undefined;
  #lobbyStream: EventSource | undefined;
  readonly #lobbyMirror = new LobbyMirror((type, data) =>
    this.#listeners.emit(type, data as never),
  );

  constructor(options: SseClientOptions = {}) {
    const EventSourceClass = options.EventSource ?? globalThis.EventSource;
    if (!EventSourceClass) {
      throw new Error('SseClient needs an EventSource: in Node, pass the eventsource package one');
    }
    this.#options = { baseUrl: options.baseUrl, cookie: options.cookie };
    this.#EventSource = EventSourceClass;
    const plainFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);
    this.#fetch =
      options.fetch ?? (options.cookie ? withCookie(plainFetch, options.cookie) : plainFetch);
    const customFetch = options.fetch !== undefined || options.cookie !== undefined;
    this.#init = customFetch ? ({ fetch: this.#fetch } as EventSourceInit) : undefined;
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
    this.#closeRoom();
    this.#room = room;
    this.#cursor = options.after;
    this.#lastSeq = 0;
    return new Promise((resolve, reject) => this.#openRoom({ resolve, reject }));
  }

  connectLobby(): Promise<void> {
    this.#closeLobby();
    return new Promise((resolve, reject) => this.#openLobby({ resolve, reject }));
  }

  async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    if (this.#room === undefined) throw new Error('send needs a room: call connectRoom first');
    return postChat(this.#options, this.#room, chat, options.toId);
  }

  drop(): void {
    if (this.#roomStream) {
      this.#roomStream.close();
      this.#openRoom();
    }
    if (this.#lobbyStream) {
      this.#lobbyStream.close();
      this.#openLobby();
    }
  }

  close(): void {
    this.#closeRoom();
    this.#room = undefined;
    this.#closeLobby();
  }

  #openRoom(pending?: Pending): void {
    const room = this.#room;
    if (room === undefined) return;
    const query = this.#cursor === undefined ? '' : `?after=${this.#cursor}`;
    const url = `${this.#base()}/sse/room/${encodeURIComponent(room)}${query}`;
    const stream = new this.#EventSource(url, this.#init);
    this.#roomStream = stream;
    this.#setState('connecting');
    let opened = false;

    stream.addEventListener('open', () => {
      if (stream !== this.#roomStream) return;
      opened = true;
      this.#setState('open');
      pending?.resolve();
      pending = undefined;
    });
    for (const type of ROOM_EVENT_TYPES) {
      stream.addEventListener(type, (event) => this.#roomStreamOnEvent(stream, type, event));
    }
    stream.addEventListener('error', () => {
      if (stream !== this.#roomStream) return;
      if (opened && stream.readyState !== stream.CLOSED) {
        // A network drop: EventSource reconnects by itself with Last-Event-ID.
        this.#setState('connecting');
        return;
      }
      void this.#probe(url).then((error) => {
        if (stream !== this.#roomStream) return;
        if (error) {
          this.#closeRoom();
          if (pending) pending.reject(error);
          else this.#listeners.emit('error', error);
          pending = undefined;
        } else if (stream.readyState === stream.CLOSED) {
          this.#setState('connecting');
          setTimeout(() => {
            if (stream === this.#roomStream) this.#openRoom(pending);
          }, REOPEN_MS);
        }
      });
    });
  }

  #roomStreamOnEvent(stream: EventSource, type: string, event: Event): void {
    if (stream !== this.#roomStream) return;
    const data = parse(event);
    if (data === undefined) return;
    if (STORED_TYPES.has(type)) {
      const seq = (data as Message).seq ?? Number((event as MessageEvent).lastEventId);
      if (this.#cursor !== undefined && seq <= this.#cursor) return;
      this.#cursor = seq;
      this.#lastSeq = Math.max(this.#lastSeq, seq);
    }
    // The server ends the subscription after these; EventSource must not knock again.
    if (type === 'kicked' || type === 'removeRoom') this.#closeRoom();
    this.#listeners.emit(type as keyof ClientEvents, data as never);
  }

  #openLobby(pending?: Pending): void {
    const url = `${this.#base()}/sse/lobby`;
    const stream = new this.#EventSource(url, this.#init);
    this.#lobbyStream = stream;
    let opened = false;

    stream.addEventListener('open', () => {
      if (stream !== this.#lobbyStream) return;
      void this.#lobbyMirror.resync((query) => this.#fetchRooms(query), {
        quiet: !opened && pending !== undefined,
        current: () => stream === this.#lobbyStream,
      });
      opened = true;
      pending?.resolve();
      pending = undefined;
    });
    for (const type of LOBBY_EVENT_TYPES) {
      stream.addEventListener(type, (event) => {
        if (stream !== this.#lobbyStream) return;
        const data = parse(event) as Room | { id: string } | undefined;
        if (data !== undefined) this.#lobbyMirror.event(type, data);
      });
    }
    stream.addEventListener('error', () => {
      if (stream !== this.#lobbyStream) return;
      if (opened && stream.readyState !== stream.CLOSED) return;
      void this.#probe(url).then((error) => {
        if (stream !== this.#lobbyStream) return;
        if (error) {
          this.#closeLobby();
          if (pending) pending.reject(error);
          else this.#listeners.emit('error', error);
          pending = undefined;
        } else if (stream.readyState === stream.CLOSED) {
          setTimeout(() => {
            if (stream === this.#lobbyStream) this.#openLobby(pending);
          }, REOPEN_MS);
        }
      });
    });
  }

  #fetchRooms(query: string): Promise<Response> {
    return this.#fetch(`${this.#base()}/api/rooms${query}`, {
      headers: { accept: 'application/json' },
    });
  }

  /**
   * EventSource reports a refusal as a bare `error`: ask the same URL with fetch for the status
   * and sentence. Null when the server would accept the stream now (or cannot be reached).
   */
  async #probe(url: string): Promise<ClientError | null> {
    const controller = new AbortController();
    try {
      const response = await this.#fetch(url, {
        headers: { accept: 'text/event-stream' },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.ok) {
        controller.abort();
        return null;
      }
      return errorFrom(response.status, await readJson(response));
    } catch {
      return null;
    }
  }

  #closeRoom(): void {
    this.#roomStream?.close();
    this.#roomStream = undefined;
    this.#setState('closed');
  }

  #closeLobby(): void {
    this.#lobbyStream?.close();
    this.#lobbyStream = undefined;
    this.#lobbyMirror.clear();
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#listeners.emit('state', state);
  }

  #base(): string {
    return this.#options.baseUrl ?? '';
  }
}

function parse(event: Event): unknown {
  try {
    return JSON.parse((event as MessageEvent<string>).data);
  } catch {
    return undefined;
  }
}

function withCookie(base: typeof fetch, cookie: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('cookie', cookie);
    return base(input, { ...init, headers });
  };
}

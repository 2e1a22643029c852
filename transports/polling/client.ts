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
  LOBBY_EVENT_TYPES,
  postChat,
  ROOM_EVENT_TYPES,
  readJson,
} from '../client.ts';
import { LobbyMirror } from '../lobby-mirror.ts';

/**
 * In a page, `fetch` defaults to the browser's. In Node, `cookie` adds the session to every
 * request (unless you pass a `fetch` of your own).
 */
export interface PollingClientOptions extends ClientOptions {
  fetch?: typeof fetch;
  /** Seconds the server may hold each poll (PROTOCOL: default 25, at most 55); 0 is short polling. */
  wait?: number;
  /** Pause between an answer and the next poll, in ms (short polling in the lab); default 0. */
  interval?: number;
}

/** An answer that comes back empty long before `wait`: another poll of the session took its place. */
const DISPLACED_PAUSE_MS = 1000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];
/** Refusals that polling again will not cure. */
const FATAL = new Set([400, 401, 403, 404, 409]);
const ROOM_TYPES: ReadonlySet<string> = new Set(ROOM_EVENT_TYPES);
const LOBBY_TYPES: ReadonlySet<string> = new Set(LOBBY_EVENT_TYPES);

interface Answer {
  events: { type: string; id?: number; data: unknown }[];
  cursor: number;
}

/** One polling loop (the room's or the lobby's); a new connect or close() stops it. */
interface Loop {
  stopped: boolean;
  /** drop() aborted the poll in flight: poll again at once. */
  dropped: boolean;
  controller: AbortController | undefined;
  /** Ends a pause early. */
  wake: (() => void) | undefined;
}

interface Pending {
  resolve(): void;
  reject(error: ClientError): void;
}

/**
 * HTTP long polling down (`/poll/room/:id`, `/poll/lobby`), POST up. Each answer's `cursor` is
 * where the next poll starts, so a lost or aborted poll loses nothing: the server replays from
 * the cursor. The first room poll asks with `wait=0`, so `connectRoom` resolves at once.
 */
export class PollingClient implements ChatClient {
  readonly transport = 'polling' as const;
  readonly #options: ClientOptions;
  readonly #fetch: typeof fetch;
  readonly #wait: number;
  readonly #interval: number;
  readonly #listeners = new Listeners();
  #state: ClientState = 'closed';
  #lastSeq = 0;
  #room: string | undefined;
  /** Where the next room poll starts: `after` of connectRoom, then each answer's cursor. */
  #cursor: number | undefined;
  #roomLoop: Loop | undefined;
  #lobbyLoop: Loop | undefined;
  readonly #lobbyMirror = new LobbyMirror((type, data) => this.#emit(type, data as never));

  constructor(options: PollingClientOptions = {}) {
    this.#options = { baseUrl: options.baseUrl, cookie: options.cookie };
    const cookie = options.cookie;
    const plainFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);
    this.#fetch = options.fetch ?? (cookie ? withCookie(plainFetch, cookie) : plainFetch);
    this.#wait = options.wait ?? 25;
    this.#interval = options.interval ?? 0;
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
    this.#stopRoom();
    this.#room = room;
    this.#cursor = options.after;
    this.#lastSeq = 0;
    const loop = newLoop();
    this.#roomLoop = loop;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      void this.#runRoom(loop, room, { resolve, reject });
    });
  }

  connectLobby(): Promise<void> {
    this.#stopLobby();
    const loop = newLoop();
    this.#lobbyLoop = loop;
    return new Promise((resolve, reject) => {
      void this.#runLobby(loop, { resolve, reject });
    });
  }

  async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    if (this.#room === undefined) throw new Error('send needs a room: call connectRoom first');
    return postChat(this.#options, this.#room, chat, options.toId);
  }

  drop(): void {
    for (const loop of [this.#roomLoop, this.#lobbyLoop]) {
      if (!loop) continue;
      loop.dropped = true;
      loop.controller?.abort();
      loop.wake?.();
    }
    if (this.#roomLoop) this.#setState('connecting');
  }

  close(): void {
    this.#stopRoom();
    this.#room = undefined;
    this.#stopLobby();
  }

  async #runRoom(loop: Loop, room: string, pending: Pending | undefined): Promise<void> {
    let failures = 0;
    let wait = 0;
    while (!loop.stopped) {
      const query = new URLSearchParams({ wait: String(wait) });
      if (this.#cursor !== undefined) query.set('after', String(this.#cursor));
      const started = Date.now();
      const result = await this.#get(loop, `/poll/room/${encodeURIComponent(room)}?${query}`);
      if (loop.stopped) return;
      if (result === null) {
        // Back after a drop or a failure: the first poll answers at once, so the client is
        // open (and caught up) without waiting for the next event.
        wait = 0;
        if (loop.dropped) continue;
        this.#setState('connecting');
        await pause(loop, backoff(failures++));
        continue;
      }
      if (result instanceof ClientError) {
        if (!FATAL.has(result.status)) {
          // A server shutting down (503) or failing: not this client's fault; try again.
          this.#setState('connecting');
          wait = 0;
          await pause(loop, backoff(failures++));
          continue;
        }
        this.#stopRoom();
        if (pending) pending.reject(result);
        else this.#emit('error', result);
        return;
      }
      failures = 0;
      this.#setState('open');
      const going = this.#onRoomAnswer(result);
      pending?.resolve();
      pending = undefined;
      if (!going) return;
      const early = wait > 0 && result.events.length === 0 && Date.now() - started < wait * 500;
      await pause(loop, early ? DISPLACED_PAUSE_MS : this.#interval);
      wait = this.#wait;
    }
  }

  /** Emits an answer's events; false once the room ended for this client. */
  #onRoomAnswer(answer: Answer): boolean {
    for (const event of answer.events) {
      if (!ROOM_TYPES.has(event.type)) continue;
      if (typeof event.id === 'number') {
        if (this.#cursor !== undefined && event.id <= this.#cursor) continue;
        this.#lastSeq = Math.max(this.#lastSeq, event.id);
      }
      // The server ends the subscription after these; polling again would be refused.
      const final = event.type === 'kicked' || event.type === 'removeRoom';
      if (final) this.#stopRoom();
      this.#emit(event.type as keyof ClientEvents, event.data as never);
      if (final) return false;
    }
    this.#cursor = answer.cursor;
    return true;
  }

  async #runLobby(loop: Loop, pending: Pending | undefined): Promise<void> {
    let failures = 0;
    let cursor: number | undefined;
    while (!loop.stopped) {
      const query = new URLSearchParams({ wait: String(cursor === undefined ? 0 : this.#wait) });
      if (cursor !== undefined) query.set('cursor', String(cursor));
      const result = await this.#get(loop, `/poll/lobby?${query}`);
      if (loop.stopped) return;
      if (result === null || (result instanceof ClientError && !FATAL.has(result.status))) {
        if (!loop.dropped) await pause(loop, backoff(failures++));
        continue;
      }
      if (result instanceof ClientError) {
        this.#stopLobby();
        if (pending) pending.reject(result);
        else this.#emit('error', result);
        return;
      }
      failures = 0;
      const sent = cursor;
      cursor = result.cursor;
      // The first answer only places the cursor; a cursor that moved by more than the events
      // it brought means events were missed (fell off the server's log, or a restart).
      if (sent === undefined || sent + result.events.length !== result.cursor) {
        await this.#lobbyMirror.resync(
          (query) =>
            this.#fetch(`${this.#base()}/api/rooms${query}`, {
              headers: { accept: 'application/json' },
            }),
          { quiet: sent === undefined, current: () => !loop.stopped },
        );
        if (loop.stopped) return;
        pending?.resolve();
        pending = undefined;
        if (sent !== undefined) continue;
      }
      for (const event of result.events) {
        if (!LOBBY_TYPES.has(event.type)) continue;
        this.#lobbyMirror.event(event.type as LobbyEventType, event.data as Room | { id: string });
      }
      await pause(loop, this.#interval);
    }
  }

  /** One poll: the answer, the server's refusal, or null (network failure, drop, stop). */
  async #get(loop: Loop, path: string): Promise<Answer | ClientError | null> {
    loop.dropped = false;
    const controller = new AbortController();
    loop.controller = controller;
    try {
      const response = await this.#fetch(`${this.#base()}${path}`, {
        headers: { accept: 'application/json' },
        cache: 'no-store',
        signal: controller.signal,
      });
      const body = await readJson(response);
      if (!response.ok) return errorFrom(response.status, body);
      if (!isAnswer(body))
        return new ClientError(502, 'The server sent an answer of no known shape.');
      return body;
    } catch {
      return null;
    } finally {
      if (loop.controller === controller) loop.controller = undefined;
    }
  }

  /** A listener that throws must not stop the loop; its error surfaces as an uncaught one. */
  #emit<K extends keyof ClientEvents>(type: K, data: ClientEvents[K]): void {
    try {
      this.#listeners.emit(type, data);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  }

  #stopRoom(): void {
    if (this.#roomLoop) stop(this.#roomLoop);
    this.#roomLoop = undefined;
    this.#setState('closed');
  }

  #stopLobby(): void {
    if (this.#lobbyLoop) stop(this.#lobbyLoop);
    this.#lobbyLoop = undefined;
    this.#lobbyMirror.clear();
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#emit('state', state);
  }

  #base(): string {
    return this.#options.baseUrl ?? '';
  }
}

function newLoop(): Loop {
  return { stopped: false, dropped: false, controller: undefined, wake: undefined };
}

function stop(loop: Loop): void {
  loop.stopped = true;
  loop.controller?.abort();
  loop.wake?.();
}

/** Waits `ms`, or less if the loop is stopped or dropped meanwhile. */
function pause(loop: Loop, ms: number): Promise<void> {
  if (ms <= 0 || loop.stopped) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(wake, ms);
    function wake() {
      clearTimeout(timer);
      loop.wake = undefined;
      done();
    }
    loop.wake = wake;
  });
}

function backoff(failures: number): number {
  const ms = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]!;
  return ms / 2 + Math.random() * (ms / 2);
}

function isAnswer(body: unknown): body is Answer {
  if (typeof body !== 'object' || body === null) return false;
  const { events, cursor } = body as Record<string, unknown>;
  return Array.isArray(events) && typeof cursor === 'number';
}

function withCookie(base: typeof fetch, cookie: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('cookie', cookie);
    return base(input, { ...init, headers });
  };
}

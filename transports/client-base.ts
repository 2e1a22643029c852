import type { LobbyEventType, Message, Room, TransportName } from '../core/model.ts';
import {
  type ChatClient,
  type ClientError,
  type ClientEvents,
  type ClientListener,
  type ClientOptions,
  type ClientState,
  Listeners,
  LOBBY_EVENT_TYPES,
  postChat,
  ROOM_EVENT_TYPES,
  tracedPath,
} from './client.ts';
import { LobbyMirror } from './lobby-mirror.ts';

const ROOM_TYPES: ReadonlySet<string> = new Set(ROOM_EVENT_TYPES);
const LOBBY_TYPES: ReadonlySet<string> = new Set(LOBBY_EVENT_TYPES);
/** Room events that are stored, so carry a `seq`: the cursor counts these. */
const STORED_TYPES: ReadonlySet<string> = new Set(['chat', 'join', 'exit', 'owner']);

interface Pending {
  resolve(): void;
  reject(error: ClientError): void;
}

/** The streams a refusal can end. */
export type ClientStream = 'room' | 'lobby';

/**
 * The lifecycle every client shares, whatever its wire (engine.io's `Transport`, on the client
 * side): a client extends it and adds only how it opens, reads, sends and notices a drop.
 *
 * The base owns
 * - `state`, the room stream's (`closed` while no room is followed), and the lobby's `lobbyState`:
 *   whether a stream is followed is read from them, never from a flag of the wire's own; the wire
 *   sets neither, it reports (`roomOpened`, `roomLost`, `lobbyOpened`, `lobbyLost`, `refused`);
 * - `lastSeq` and `cursor` (where the next room subscription resumes), and the one de-duplication:
 *   a stored event whose `seq` is not past the cursor was seen already and is dropped;
 * - the dispatch of room and lobby events (`roomEvent`, `lobbyEvent`), with the final-event rule:
 *   `kicked` or `removeRoom` for the room ends the room subscription (the server has ended it);
 * - connectRoom's and connectLobby's promises (`roomOpened`, `lobbyOpened`, `refused`);
 * - the lobby mirror: every (re)open of the lobby reads the room list and reports what it missed;
 * - `fetch` with the session cookie (Node), URLs from `baseUrl`, and sends by POST;
 * - close() and drop(): which streams end, and the state they leave.
 *
 * The wire implements the hooks: `openRoom`/`stopRoom`, `openLobby`/`stopLobby` and
 * `dropConnections`, and may extend `closeConnections` and `send`.
 */
export abstract class ClientBase implements ChatClient {
  abstract readonly transport: TransportName;
  /** The server's origin and the session cookie (the options every client takes). */
  protected readonly options: ClientOptions;
  /** `fetch` as given, or the global one carrying `cookie` on every request when one is set. */
  protected readonly fetch: typeof fetch;
  /** Where the next room subscription resumes: `after` of connectRoom, then the last stored seq. */
  protected cursor: number | undefined;
  readonly #listeners = new Listeners();
  readonly #lobbyMirror = new LobbyMirror((type, data) => this.emit(type, data as never));
  #state: ClientState = 'closed';
  #lobbyState: ClientState = 'closed';
  /** The lobby was open once since connectLobby: a later open reports the changes it missed. */
  #lobbyKnown = false;
  #lastSeq = 0;
  #room: string | undefined;
  #roomPending: Pending | undefined;
  #lobbyPending: Pending | undefined;

  constructor(options: ClientOptions & { fetch?: typeof fetch }) {
    const { baseUrl, cookie, language, trace } = options;
    this.options = { baseUrl, cookie, language, trace };
    const plainFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);
    this.fetch = options.fetch ?? withHeaders(plainFetch, { cookie, 'accept-language': language });
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
    this.#endRoom(true);
    this.#room = room;
    this.cursor = options.after;
    this.#lastSeq = 0;
    this.#setState('connecting');
    return new Promise((resolve, reject) => {
      this.#roomPending = { resolve, reject };
      this.openRoom(room);
    });
  }

  connectLobby(): Promise<void> {
    this.#endLobby();
    this.#lobbyKnown = false;
    this.#lobbyState = 'connecting';
    return new Promise((resolve, reject) => {
      this.#lobbyPending = { resolve, reject };
      this.openLobby();
    });
  }

  /** POST /room/:id/chat, the way up of polling and SSE. */
  async send(chat: string, options: { toId?: string } = {}): Promise<Message> {
    return postChat(this.options, this.roomToSend(), chat, options.toId);
  }

  drop(): void {
    this.roomLost();
    this.dropConnections();
  }

  close(): void {
    this.#endRoom(true);
    this.#room = undefined;
    this.#endLobby();
    this.closeConnections();
  }

  // ---- what the wire implements -------------------------------------------------------------

  /** Subscribes to `room` from `cursor`; reports `roomOpened`, `roomEvent`, `refused`. */
  protected abstract openRoom(room: string): void;
  /**
   * Ends the room subscription on the wire. `leaving`: the client leaves of its own accord (tell
   * the server if the wire must); otherwise the server has ended it or refused it.
   */
  protected stopRoom(_leaving: boolean): void {}
  /** Subscribes to the lobby; reports `lobbyOpened`, `lobbyEvent`, `refused`. */
  protected abstract openLobby(): void;
  protected stopLobby(): void {}
  /** Ends the connections as a network failure would; the wire reconnects and resumes. */
  protected abstract dropConnections(): void;
  /** After close() has stopped both streams: what else the wire holds (a shared socket). */
  protected closeConnections(): void {}

  // ---- what the wire reports ----------------------------------------------------------------

  protected get room(): string | undefined {
    return this.#room;
  }

  protected get lobbyState(): ClientState {
    return this.#lobbyState;
  }

  /** The room stream is live: every later event will come. */
  protected roomOpened(): void {
    this.#setState('open');
    this.#roomPending?.resolve();
    this.#roomPending = undefined;
  }

  /** The room's connection went; the wire is getting it back. */
  protected roomLost(): void {
    if (this.#state !== 'closed') this.#setState('connecting');
  }

  /**
   * One room event as the wire read it (`id`: the seq the wire carries beside the data, if any).
   * Dropped: events of no room type, of another room, while no room is followed, and stored events
   * seen already. `kicked` and `removeRoom` end the subscription before they are reported.
   */
  protected roomEvent(type: string, data: unknown, id?: number): void {
    if (this.#state === 'closed' || !ROOM_TYPES.has(type) || !isObject(data)) return;
    if (STORED_TYPES.has(type)) {
      const message = data as Partial<Message>;
      if (message.room !== undefined && message.room !== this.#room) return;
      const seq = message.seq ?? id;
      if (typeof seq === 'number') {
        if (this.cursor !== undefined && seq <= this.cursor) return;
        this.cursor = seq;
        this.#lastSeq = Math.max(this.#lastSeq, seq);
      }
    } else if (type === 'kicked' || type === 'removeRoom') {
      if (data.id !== this.#room) return;
      // The server ends the subscription after these: asking again would be refused.
      this.#endRoom(false);
    }
    this.emit(type as keyof ClientEvents, data as never);
  }

  /**
   * The lobby stream is live (again): reads the room list and reports, as events, what changed
   * while it was away (the first time since connectLobby, only learns it). `current()` says
   * whether the connection that opened is still the one in use. Resolves once the list is read.
   */
  protected lobbyOpened(current: () => boolean): Promise<void> {
    const quiet = !this.#lobbyKnown;
    this.#lobbyKnown = true;
    this.#lobbyState = 'open';
    const resynced = this.#lobbyMirror.resync(
      (query) =>
        this.fetch(this.url(`/api/rooms${query}`), { headers: { accept: 'application/json' } }),
      { quiet, current },
    );
    this.#lobbyPending?.resolve();
    this.#lobbyPending = undefined;
    return resynced;
  }

  /** For a wire whose lobby events stop with its connection (until `lobbyOpened` again). */
  protected lobbyLost(): void {
    if (this.#lobbyState === 'open') this.#lobbyState = 'connecting';
  }

  protected lobbyEvent(type: string, data: unknown): void {
    if (this.#lobbyState === 'closed' || !LOBBY_TYPES.has(type) || !isObject(data)) return;
    this.#lobbyMirror.event(type as LobbyEventType, data as Room | { id: string });
  }

  /**
   * The server refused the streams named, or ended them with an error: they end; a pending
   * connectRoom or connectLobby rejects, or else, if one of them was followed, an `error` event
   * reports it (once).
   */
  protected refused(error: ClientError, ...streams: ClientStream[]): void {
    const waiting: Pending[] = [];
    let followed = false;
    if (streams.includes('room')) {
      followed ||= this.#state !== 'closed';
      if (this.#roomPending) waiting.push(this.#roomPending);
      this.#roomPending = undefined;
      this.#endRoom(false);
    }
    if (streams.includes('lobby')) {
      followed ||= this.#lobbyState !== 'closed';
      if (this.#lobbyPending) waiting.push(this.#lobbyPending);
      this.#lobbyPending = undefined;
      this.#endLobby();
    }
    for (const pending of waiting) pending.reject(error);
    if (waiting.length === 0 && followed) this.emit('error', error);
  }

  // ---- helpers for the wire -----------------------------------------------------------------

  /** The room a send goes to; throws before any connectRoom. */
  protected roomToSend(): string {
    if (this.#room === undefined) throw new Error('send needs a room: call connectRoom first');
    return this.#room;
  }

  /**
   * `path` on the server: after `baseUrl`, or in a page after its own origin; with the trace
   * token when the client has one (the origin alone, `''`, is left bare: Socket.IO's handshake
   * takes its token in its `query`).
   */
  protected url(path: string): string {
    const traced = path === '' ? path : tracedPath(this.options, path);
    return `${this.options.baseUrl ?? globalThis.location?.origin ?? ''}${traced}`;
  }

  /** A listener that throws must not break the wire's handler: its error surfaces as uncaught. */
  protected emit<K extends keyof ClientEvents>(type: K, data: ClientEvents[K]): void {
    try {
      this.#listeners.emit(type, data);
    } catch (error) {
      setTimeout(() => {
        throw error;
      });
    }
  }

  #setState(state: ClientState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.emit('state', state);
  }

  #endRoom(leaving: boolean): void {
    if (this.#state === 'closed') return;
    this.stopRoom(leaving);
    this.#setState('closed');
  }

  #endLobby(): void {
    this.stopLobby();
    this.#lobbyState = 'closed';
    this.#lobbyMirror.clear();
  }
}

/**
 * Reconnect delays: `steps` in turn after each failure, then the last one again; with `jitter`,
 * each lands somewhere in its upper half, so that many clients cut at once do not come back at once.
 */
export class Backoff {
  readonly #steps: readonly number[];
  readonly #jitter: boolean;
  #failures = 0;

  constructor(steps: readonly number[], options: { jitter?: boolean } = {}) {
    this.#steps = steps;
    this.#jitter = options.jitter ?? false;
  }

  next(): number {
    const ms = this.#steps[Math.min(this.#failures++, this.#steps.length - 1)]!;
    return this.#jitter ? ms / 2 + Math.random() * (ms / 2) : ms;
  }

  reset(): void {
    this.#failures = 0;
  }
}

function isObject(data: unknown): data is Record<string, unknown> {
  return typeof data === 'object' && data !== null;
}

/** `base` with the given headers (the defined ones) set on every request. */
function withHeaders(
  base: typeof fetch,
  extra: Readonly<Record<string, string | undefined>>,
): typeof fetch {
  const set = Object.entries(extra).filter((entry): entry is [string, string] => !!entry[1]);
  if (set.length === 0) return base;
  return (input, init) => {
    const headers = new Headers(init?.headers);
    for (const [name, value] of set) headers.set(name, value);
    return base(input, { ...init, headers });
  };
}

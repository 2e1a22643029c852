import { ChatError, type ErrorCode } from './errors.ts';
import type { UserId } from './model.ts';

/**
 * PROTOCOL.md, Limits. A lab is served to a classroom, often behind one address (NAT), so the
 * limits are per session first and generous per address. Each rate is a token bucket: `burst`
 * tokens, refilled at `perSecond`; a request takes one, and with none left it is refused with
 * ChatError(429, sentence, { retryAfterS }) before it costs anything (no scrypt, nothing stored).
 */
export interface LimitSettings {
  /** Chat and GIF posts per session: 20 a second, bursts of 200 (the compare page sends 100). */
  posts: Rate;
  /** Rooms created per session: 10 a minute. */
  rooms: Rate;
  /** Rooms that exist now owned by one user: 20. */
  liveRoomsPerUser: number;
  /** Password attempts per session and room: 10 a minute. */
  passwords: Rate;
  /** Password attempts per address, over all sessions and rooms: 60 a minute. */
  passwordsPerAddress: Rate;
  /** New sessions per address: 600 a minute. */
  sessionsPerAddress: Rate;
  /** Open streams and sockets per address at once (SSE, ws, Socket.IO, pending polls): 2,000. */
  connectionsPerAddress: number;
  /** Buckets kept per kind at most; past it the least recently used one is forgotten. */
  maxBuckets: number;
}

export interface Rate {
  perSecond: number;
  burst: number;
}

const perMinute = (n: number): Rate => ({ perSecond: n / 60, burst: n });

export const DEFAULT_LIMITS: LimitSettings = {
  posts: { perSecond: 20, burst: 200 },
  rooms: perMinute(10),
  liveRoomsPerUser: 20,
  passwords: perMinute(10),
  passwordsPerAddress: perMinute(60),
  sessionsPerAddress: perMinute(600),
  connectionsPerAddress: 2000,
  maxBuckets: 100_000,
};

/** What a refusal for open connections or live rooms suggests waiting: no bucket refills them. */
const RETRY_CONNECTIONS_S = 5;
const RETRY_LIVE_ROOMS_S = 60;

/** Who the per-session limits count: the session's `userId` (PROTOCOL.md, Identity). */
type Counted = { userId: UserId };

/**
 * The server's limits, one instance per server (server.ts makes it from `--limits`). Checks are
 * named for what they guard and throw the 429 themselves; `Limits.off()` allows everything.
 * Memory is bounded without a timer: see `Buckets`.
 */
export class Limits {
  readonly on: boolean;
  readonly settings: LimitSettings;
  readonly #posts: Buckets;
  readonly #rooms: Buckets;
  readonly #passwords: Buckets;
  readonly #passwordsPerAddress: Buckets;
  readonly #sessions: Buckets;
  /** Open connections per address; an address leaves the map when its last one closes. */
  readonly #connections = new Map<string, number>();

  constructor(
    settings: Partial<LimitSettings> = {},
    options: { on?: boolean; now?: () => number } = {},
  ) {
    this.on = options.on ?? true;
    this.settings = { ...DEFAULT_LIMITS, ...settings };
    const now = options.now ?? Date.now;
    const buckets = (rate: Rate) => new Buckets(rate, this.settings.maxBuckets, now);
    this.#posts = buckets(this.settings.posts);
    this.#rooms = buckets(this.settings.rooms);
    this.#passwords = buckets(this.settings.passwords);
    this.#passwordsPerAddress = buckets(this.settings.passwordsPerAddress);
    this.#sessions = buckets(this.settings.sessionsPerAddress);
  }

  /** `--limits off`: every check passes (the bench, and tests that are not about limits). */
  static off(): Limits {
    return new Limits({}, { on: false });
  }

  /** A chat or GIF post, on any transport. */
  post(visitor: Counted): void {
    if (!this.on) return;
    const wait = this.#posts.take(visitor.userId);
    if (wait > 0)
      refuse(`You are sending too fast: wait ${wait} s, then send again.`, wait, 'postsTooFast');
  }

  /** A new room, by a user who owns `liveOwned` rooms now. */
  createRoom(visitor: Counted, liveOwned: number): void {
    if (!this.on) return;
    const most = this.settings.liveRoomsPerUser;
    if (liveOwned >= most) {
      refuse(
        `You own ${most} rooms already: remove one (or leave one empty until it goes) first.`,
        RETRY_LIVE_ROOMS_S,
        'tooManyRooms',
        { most },
      );
    }
    const wait = this.#rooms.take(visitor.userId);
    if (wait > 0)
      refuse(
        `You are creating rooms too fast: wait ${wait} s, then try again.`,
        wait,
        'roomsTooFast',
      );
  }

  /**
   * A password attempt, before the scrypt runs. A session past its own bucket does not drain its
   * address's: one student guessing does not lock the class out.
   */
  password(visitor: Counted, room: string, address: string | undefined): void {
    if (!this.on) return;
    const own = `${visitor.userId} ${room}`;
    const wait = this.#passwords.wait(own);
    if (wait > 0) {
      refuse(
        `Too many password attempts for this room: wait ${wait} s, then try again.`,
        wait,
        'passwordsTooFast',
      );
    }
    const shared = this.#passwordsPerAddress.take(address ?? '');
    if (shared > 0) {
      refuse(
        `Too many password attempts from your network: wait ${shared} s, then try again.`,
        shared,
        'passwordsFromNetwork',
      );
    }
    this.#passwords.take(own);
  }

  /** A session is about to be created for a request from `address`. */
  newSession(address: string | undefined): void {
    if (!this.on) return;
    const wait = this.#sessions.take(address ?? '');
    if (wait > 0) {
      refuse(
        `Too many new sessions from your network: wait ${wait} s, and send the session cookie back so you stay one visitor.`,
        wait,
        'sessionsFromNetwork',
      );
    }
  }

  /**
   * A stream or socket opens from `address`: returns the function to call once it has closed
   * (idempotent), or refuses past the cap. Off, it is `NOTHING_TO_RELEASE`, the same for all.
   */
  openConnection(address: string | undefined): () => void {
    if (!this.on) return NOTHING_TO_RELEASE;
    return this.#countConnection(address ?? '');
  }

  /**
   * As `openConnection`, for a socket: its address is read only when limits are on (Node keeps
   * the peer's address on a socket once read, some 150 bytes for as long as it is open).
   */
  openConnectionOf(socket: { readonly remoteAddress?: string | undefined }): () => void {
    if (!this.on) return NOTHING_TO_RELEASE;
    return this.#countConnection(socket.remoteAddress ?? '');
  }

  /** Connections open now from `address` (tests). */
  openConnections(address: string): number {
    return this.#connections.get(address) ?? 0;
  }

  #countConnection(key: string): () => void {
    const open = this.#connections.get(key) ?? 0;
    if (open >= this.settings.connectionsPerAddress) {
      refuse(
        `Too many open connections from your network (${open}): close some tabs, then try again.`,
        RETRY_CONNECTIONS_S,
        'connectionsFromNetwork',
        { open },
      );
    }
    this.#connections.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#connections.get(key) ?? 1) - 1;
      if (left > 0) this.#connections.set(key, left);
      else this.#connections.delete(key);
    };
  }
}

/** The release of a connection that nothing counts (limits off): one function for all of them. */
export const NOTHING_TO_RELEASE = (): void => {};

/** A 429; its translations get `{wait}` (the seconds) and whatever else `params` names. */
function refuse(
  sentence: string,
  retryAfterS: number,
  code: ErrorCode,
  params: Record<string, number> = {},
): never {
  throw new ChatError(429, sentence, {
    retryAfterS,
    code,
    params: { wait: retryAfterS, ...params },
  });
}

interface Bucket {
  tokens: number;
  /** When `tokens` was counted, ms. */
  at: number;
}

/**
 * Token buckets by key, bounded without a timer. The map is kept in order of last use (a take
 * moves its key to the end), so the buckets at the front are the longest idle: one idle for the
 * time a bucket takes to fill (burst / rate) is full again, the same as a bucket never made, and
 * is forgotten on the next take. Past `max` keys, the least recently used is forgotten anyway
 * (a client that idle is forgiven early; the map cannot grow without end).
 */
export class Buckets {
  readonly #rate: Rate;
  readonly #max: number;
  readonly #now: () => number;
  /** How long an empty bucket takes to fill, ms. */
  readonly #fillMs: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: Rate, max: number, now: () => number = Date.now) {
    this.#rate = rate;
    this.#max = max;
    this.#now = now;
    this.#fillMs = (rate.burst / rate.perSecond) * 1000;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token: 0 when there was one, else the whole seconds until there is one. */
  take(key: string): number {
    const bucket = this.#refill(key);
    const wait = this.#secondsUntilToken(bucket);
    if (wait === 0) bucket.tokens -= 1;
    return wait;
  }

  /** As `take`, without taking. */
  wait(key: string): number {
    return this.#secondsUntilToken(this.#refill(key));
  }

  #secondsUntilToken(bucket: Bucket): number {
    if (bucket.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate.perSecond));
  }

  /** The key's bucket, refilled to now and moved to the end of the map. */
  #refill(key: string): Bucket {
    const now = this.#now();
    this.#forgetIdle(now);
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key);
      const elapsedS = Math.max(0, now - bucket.at) / 1000;
      bucket.tokens = Math.min(this.#rate.burst, bucket.tokens + elapsedS * this.#rate.perSecond);
      bucket.at = now;
    } else {
      if (this.#buckets.size >= this.#max) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: this.#rate.burst, at: now };
    }
    this.#buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets the buckets at the front that are full again by now. */
  #forgetIdle(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at < this.#fillMs) return;
      this.#buckets.delete(key);
    }
  }
}

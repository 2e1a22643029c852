import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { ChatError } from '../errors.ts';
import { logError, logger } from '../log.ts';

const debug = logger('redis');

/** What a request that needs Redis gets (503) while Redis cannot be reached. */
export const REDIS_UNREACHABLE =
  'The shared store (Redis) cannot be reached just now; please try again in a moment.';

/** The 503 every Redis command answers while Redis cannot be reached (its sentence has a code). */
export function redisUnreachable(): ChatError {
  return new ChatError(503, REDIS_UNREACHABLE, { code: 'redisUnreachable' });
}

/** How long the start waits for Redis before it gives up (PROTOCOL: exit within 15 s). */
const START_TIMEOUT_MS = 10_000;
/** How long a command waits for its answer before its request gets 503. */
const COMMAND_TIMEOUT_MS = 5_000;
/**
 * A script that checks its deadline (see `deadline()`) does nothing once this long has passed
 * since it was sent: its caller is about to hear 503, and must not find the write done later.
 */
const SCRIPT_DEADLINE_MS = COMMAND_TIMEOUT_MS - 1_000;
/** How often a Redis that stopped answering is asked again whether it is back. */
const PROBE_MS = 500;

/**
 * Every key and channel the lab keeps in Redis, in one place: `rl:` and what it is. A room's keys
 * carry its id (ids are `[A-Za-z0-9_-]`, so no separator can be forged).
 */
export const KEYS = {
  /** Store: the rooms in creation order (a sorted set of ids) and its counter. */
  roomOrder: 'rl:rooms',
  roomCounter: 'rl:rooms:next',
  /** Store: a room's fields (a hash), its kick list (a set), its GIF files (a set). */
  room: (id: string) => `rl:room:${id}`,
  kicked: (id: string) => `rl:room:${id}:kicked`,
  gifs: (id: string) => `rl:room:${id}:gifs`,
  /** The room log: the room's last `seq` (a counter) and its messages (a stream, id `seq-0`). */
  seq: (id: string) => `rl:room:${id}:seq`,
  log: (id: string) => `rl:room:${id}:log`,
  /** Presence: members (userId -> colour), their arrival order, and who holds them (leases). */
  members: (id: string) => `rl:room:${id}:members`,
  arrivals: (id: string) => `rl:room:${id}:arrivals`,
  holders: (id: string) => `rl:room:${id}:holders`,
  arrivalCounter: 'rl:arrivals',
  /** Presence: the rooms with members, and the empty ones with the time they became empty. */
  occupied: 'rl:occupied',
  empty: 'rl:empty',
  cookieSecret: 'rl:cookie-secret',
} as const;

/** The three channels every process subscribes to. */
export const CHANNELS = {
  /** Room events: `{room, message}` for a stored message, `{room, event, only?}` for the rest. */
  room: 'rl:events:room',
  lobby: 'rl:events:lobby',
  /** Changes to the room list that every process's directory must apply (see ChatService). */
  directory: 'rl:events:directory',
} as const;

/** `redis://user:***@host:port/db`: the URL as it may be printed. */
export function maskRedisUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
    const user = auth.includes(':') ? auth.slice(0, auth.indexOf(':')) : '';
    return `${scheme}${user}:***@`;
  });
}

/** Redis could not be reached at start: the server stops with this one line (exit status 1). */
export class RedisStartError extends Error {}

/**
 * The process's two connections to Redis: one for commands and one for the subscriptions (a
 * subscribed connection can run nothing else). Commands do not queue while Redis is away: they
 * fail at once and `run` turns that into ChatError 503, so a request gets its answer instead of
 * hanging. Both connections reconnect by themselves; `onReconnect` hears when the subscriptions
 * are back, so that what was published meanwhile can be read from the streams.
 *
 * A Redis that keeps its connections but answers nothing (stopped, overloaded, a link that drops
 * packets) closes nothing, so no reconnect says so: the first command that waits in vain for
 * COMMAND_TIMEOUT_MS marks it stalled. Until a probe (PING, answered after everything sent before
 * it) comes back, every `run` fails at once with 503: a room's queue of posts is not answered one
 * timeout after another, nothing piles up behind a Redis that reads nothing, and presence neither
 * renews nor sweeps. Its return counts as a reconnect (`onReconnect`).
 */
export class SharedRedis {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly url: string;
  readonly #reconnected = new Set<() => void>();
  #lost = false;
  /** Until the start has connected, errors are the start's to report, in its one line. */
  #opened = false;
  #lastError: Error | undefined;
  /** A command went unanswered for COMMAND_TIMEOUT_MS, and the probe has had no answer since. */
  #stalled = false;
  /** The cookie secret this process signs with, once `sharedSecret()` has read it. */
  #secret: string | undefined;
  /** Redis's clock minus this process's, in ms (for `deadline()`), measured at each (re)connect. */
  #clockOffsetMs = 0;

  private constructor(url: string) {
    this.url = url;
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 5_000,
      commandTimeout: COMMAND_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    };
    this.command = new Redis(url, options);
    // The subscriber's SUBSCRIBE is sent again by ioredis on every reconnect.
    this.subscriber = new Redis(url, {
      ...options,
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
    let said = false;
    for (const client of [this.command, this.subscriber]) {
      client.on('error', (error) => {
        this.#lastError = error;
        if (this.#opened && !said) logError(`Redis at ${maskRedisUrl(url)}`, error);
        said = true;
      });
      client.on('ready', () => {
        said = false;
      });
    }
    // A Redis that came back without its data (no persistence) gets the secret back, so that a
    // process started after it signs as the running ones do.
    this.command.on('ready', () => {
      if (this.#secret === undefined) return;
      this.command.set(KEYS.cookieSecret, this.#secret, 'NX').catch(() => undefined);
    });
    this.subscriber.on('close', () => {
      this.#lost = true;
    });
    this.subscriber.on('ready', () => {
      if (!this.#lost) return;
      this.#lost = false;
      debug('the subscriptions are back');
      void this.#measureClock();
      this.#back();
    });
  }

  /** Connects both, or throws RedisStartError within START_TIMEOUT_MS naming Redis and the URL. */
  static async open(url: string): Promise<SharedRedis> {
    const redis = new SharedRedis(url);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([redis.command.connect(), redis.subscriber.connect()]),
        new Promise((_, fail) => {
          timer = setTimeout(() => fail(new Error('no answer')), START_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      redis.command.disconnect();
      redis.subscriber.disconnect();
      const reason = (redis.#lastError ?? (error as Error)).message.split('\n')[0];
      throw new RedisStartError(
        `Redis is not reachable at ${maskRedisUrl(url)} (${reason}): is redis-server running?`,
      );
    } finally {
      clearTimeout(timer);
    }
    redis.#opened = true;
    await redis.#measureClock();
    return redis;
  }

  /**
   * Resolves as `operation` does; Redis away (or any error of its client) becomes ChatError 503,
   * at once while Redis is stalled (see the class).
   */
  async run<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#stalled) throw redisUnreachable();
    try {
      return await operation(this.command);
    } catch (error) {
      if (error instanceof ChatError) throw error;
      debug('a command failed: %s', (error as Error).message);
      if ((error as Error).message === 'Command timed out') this.#stall();
      throw redisUnreachable();
    }
  }

  get ready(): boolean {
    return !this.#stalled && this.command.status === 'ready' && this.subscriber.status === 'ready';
  }

  /**
   * A script's last moment, on Redis's clock (ms): a script that reads TIME past it must change
   * nothing, as whoever sent it may have answered 503 by then.
   */
  deadline(): string {
    return String(Math.round(Date.now() + this.#clockOffsetMs + SCRIPT_DEADLINE_MS));
  }

  /** Runs `listener` each time the subscriptions come back after a loss. */
  onReconnect(listener: () => void): () => void {
    this.#reconnected.add(listener);
    return () => this.#reconnected.delete(listener);
  }

  /** Redis stopped answering: say so once, fail fast, and ask until it answers again. */
  #stall(): void {
    if (this.#stalled) return;
    this.#stalled = true;
    logError(
      `Redis at ${maskRedisUrl(this.url)}`,
      new Error(`no answer in ${COMMAND_TIMEOUT_MS} ms; requests that need it answer 503`),
    );
    const probe = () => {
      this.command.ping().then(
        () => {
          debug('Redis answers again');
          this.#stalled = false;
          void this.#measureClock();
          this.#back();
        },
        () => setTimeout(probe, PROBE_MS).unref(),
      );
    };
    probe();
  }

  #back(): void {
    for (const listener of this.#reconnected) listener();
  }

  async #measureClock(): Promise<void> {
    try {
      const sent = Date.now();
      const [seconds, micros] = await this.command.time();
      const mid = (sent + Date.now()) / 2;
      this.#clockOffsetMs = Number(seconds) * 1000 + Number(micros) / 1000 - mid;
    } catch {
      // Kept from the last reading; the next reconnect measures again.
    }
  }

  /** The cookie secret every process shares: the first process to ask makes it. */
  async sharedSecret(): Promise<string> {
    const made = randomBytes(32).toString('base64url');
    await this.command.set(KEYS.cookieSecret, made, 'NX');
    this.#secret = (await this.command.get(KEYS.cookieSecret)) ?? made;
    return this.#secret;
  }

  async close(): Promise<void> {
    this.#reconnected.clear();
    await Promise.allSettled([this.command.quit(), this.subscriber.quit()]);
    this.command.disconnect();
    this.subscriber.disconnect();
  }
}

import type { TransportName } from '../../core/model.ts';
import { randomId } from '../../core/random-id.ts';
import { Direction } from './capture.ts';

/**
 * Trace tokens and what they captured (the inspector, `/inspect`). A token is made for one user
 * (`POST /api/traces`), and only a connection of that user's session whose URL carries it is
 * captured (`tap.ts`); only that user reads it back. Everything is bounded: tokens per user and
 * per process, exchanges per token, bytes per exchange (`CAPTURE`), and a token unused for
 * `idleMs` is gone with its captures. Kept in this process only: with `--workers N`, a token lives
 * on the worker that made it.
 */

export const TRACES = {
  /** Live tokens of one user: a new one ends the oldest. */
  perUser: 3,
  /** Live tokens of the process: past it, a new one is refused (429) until one expires. */
  perProcess: 32,
  /** Exchanges kept per token, the newest (an open stream or socket is kept while open). */
  exchanges: 16,
  idleMs: 10 * 60 * 1000,
} as const;

/** 18 random bytes as base64url: 24 characters. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{24}$/;

/** Who an exchange's endpoint belongs to: a transport, or the shared routes (`http`). */
export type Endpoint = TransportName | 'http';

/** One traced request and its response, or one upgraded socket, both ways. */
export interface Exchange {
  id: number;
  endpoint: Endpoint;
  method: string;
  /** The path and query as the client asked for them. */
  url: string;
  /** An upgraded socket (both ways are WebSocket frames after the heads). */
  upgrade: boolean;
  startedAt: number;
  readyState: 'open' | 'closed';
  /** What the client sent; for a plain request, rebuilt from what Node's parser read. */
  up: Direction;
  /** What the server wrote to the socket, exactly. */
  down: Direction;
}

export interface Trace {
  token: string;
  userId: string;
  createdAt: number;
  usedAt: number;
  readyState: 'open' | 'closed';
  exchanges: Exchange[];
  nextId: number;
}

export class TraceBook {
  readonly #traces = new Map<string, Trace>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    this.#sweep();
    return this.#traces.size;
  }

  /** A new token for `userId`, or null when the process holds as many as it may. */
  create(userId: string): Trace | null {
    this.#sweep();
    const own = [...this.#traces.values()].filter((trace) => trace.userId === userId);
    for (const old of own.slice(0, Math.max(0, own.length - TRACES.perUser + 1))) this.#end(old);
    if (this.#traces.size >= TRACES.perProcess) return null;
    const now = this.#now();
    const trace: Trace = {
      token: randomId(18),
      userId,
      createdAt: now,
      usedAt: now,
      readyState: 'open',
      exchanges: [],
      nextId: 1,
    };
    this.#traces.set(trace.token, trace);
    return trace;
  }

  /** The live trace of `token` if it is `userId`'s; null for anyone else, as for no token. */
  of(token: string, userId: string): Trace | null {
    this.#sweep();
    const trace = TOKEN_PATTERN.test(token) ? this.#traces.get(token) : undefined;
    if (!trace || trace.userId !== userId) return null;
    trace.usedAt = this.#now();
    return trace;
  }

  /** Starts recording one exchange under `trace`; the oldest closed ones make room. */
  open(trace: Trace, fields: Pick<Exchange, 'endpoint' | 'method' | 'url' | 'upgrade'>): Exchange {
    const exchange: Exchange = {
      ...fields,
      id: trace.nextId++,
      startedAt: this.#now(),
      readyState: 'open',
      up: new Direction(fields.upgrade ? 'frames' : 'bytes'),
      down: new Direction('head'),
    };
    trace.exchanges.push(exchange);
    trace.usedAt = exchange.startedAt;
    while (trace.exchanges.length > TRACES.exchanges) {
      const index = trace.exchanges.findIndex((old) => old.readyState === 'closed');
      const [gone] = trace.exchanges.splice(index === -1 ? 0 : index, 1);
      gone!.readyState = 'closed';
    }
    return exchange;
  }

  close(): void {
    for (const trace of [...this.#traces.values()]) this.#end(trace);
  }

  #end(trace: Trace): void {
    trace.readyState = 'closed';
    for (const exchange of trace.exchanges) exchange.readyState = 'closed';
    trace.exchanges = [];
    this.#traces.delete(trace.token);
  }

  #sweep(): void {
    const oldest = this.#now() - TRACES.idleMs;
    for (const trace of this.#traces.values()) if (trace.usedAt < oldest) this.#end(trace);
  }
}

/** Which endpoint a request's path belongs to, as web/app.ts and the transports meter them. */
export function endpointOf(url: string): Endpoint {
  if (url.startsWith('/poll/')) return 'polling';
  if (url.startsWith('/sse/')) return 'sse';
  if (url === '/ws' || url.startsWith('/ws?')) return 'ws';
  if (url.startsWith('/socket.io/')) return 'socketio';
  return 'http';
}

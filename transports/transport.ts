import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import { ChatError } from '../core/errors.ts';
import type { Language } from '../core/language.ts';
import { NOTHING_TO_RELEASE } from '../core/limits.ts';
import type { TransportName } from '../core/model.ts';
import type { HttpContext } from './context.ts';
import { refusalOf, SHUTTING_DOWN } from './errors.ts';
import type { WireMeter } from './meter.ts';

/**
 * What every transport implements. A transport turns each live client into subscriptions on the
 * ChatService (`chat.openSubscription(visitor, room, { after }, subscriber)`, then `start()` once its stream
 * is ready: one resume path for all) and
 * client sends into `chat.post(...)`. It never touches the store, the hub or membership: the core
 * decides joins, exits, capacity and order; the transport only carries events and counts bytes.
 *
 * Lifecycle: the composition root (server.ts) creates the transport, calls `mount` (routes on the
 * koa router: polling, SSE) and/or `attach` (the raw HTTP server: ws upgrades, Socket.IO), offers
 * it every request first through `serve` where it has one, then `listen`. On shutdown it calls `close`, which stops accepting, ends every connection (clients
 * resume by `seq` when the server is back) and resolves when done.
 *
 * Encoding: an event is serialised once per transport format and the same string or Buffer is
 * written to every connection (see `encodeOnce`). Queues are bounded: a client that does not read
 * past a limit is disconnected, not buffered without end.
 */
export interface Transport {
  readonly name: TransportName;
  /** Routes on the koa router (polling, SSE). */
  mount?(router: Router, http: HttpContext): void;
  /** Upgrade-based transports hook the raw HTTP server (ws noServer + handleUpgrade; Socket.IO). */
  attach?(server: Server, http: HttpContext): void;
  /**
   * A hot endpoint served beside koa, as engine.io serves Socket.IO's polling: asked first for
   * every request, returns true when it took it (long polling's room polls).
   */
  serve?(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * The sessions this transport keeps in this process only (Socket.IO's engine: a handshake id no
   * other process knows), as an emitter of `connection` with each session (`{ id }`, which emits
   * `close` when it ends). With `--workers N`, the primary's sticky balancer sends every later
   * request naming a session to the worker that holds it (cluster.ts). Transports that resume by
   * `seq` have none: any process can take their next request.
   */
  localSessions?(): EventEmitter | undefined;
  /** Live counters for /api/stats. */
  stats(): TransportStats;
  /** Stop accepting, close every connection (clients will resume), resolve when done. */
  close(): Promise<void>;
}

/** PROTOCOL.md, Stats: one transport's counters. */
export interface TransportStats {
  /** Open streams or sockets now (polling: pending polls). */
  connections: number;
  /** HTTP requests (and upgrades) served on this transport's endpoints. */
  requests: number;
  /** Events delivered to clients. */
  eventsOut: number;
  /** Bytes on the wire for this transport's endpoints, headers and framing included. */
  bytesOut: number;
  bytesIn: number;
  /**
   * Bytes queued for this transport's clients and not yet taken by the kernel now, summed over
   * its connections: what counts against each client's bound (SSE `writableLength`, ws
   * `bufferedAmount`, Socket.IO engine.io's buffer and its websocket's; long polling: the encoded
   * events a seat holds for its next answer).
   */
  queuedBytes: number;
  /** The largest of those queues now: one client's. */
  largestQueueBytes: number;
  /** Clients cut off by the bound since start (long polling: seats that overflowed). */
  cutOffs: number;
}

/** What waits unsent for a transport's clients now: the sum, and the largest one. */
export type QueueSizes = Pick<TransportStats, 'queuedBytes' | 'largestQueueBytes'>;

/** The queues of `clients`, each measured by `queued`: one pass, nothing kept. */
export function queueSizes<T>(clients: Iterable<T>, queued: (client: T) => number): QueueSizes {
  let queuedBytes = 0;
  let largestQueueBytes = 0;
  for (const client of clients) {
    const bytes = queued(client);
    queuedBytes += bytes;
    if (bytes > largestQueueBytes) largestQueueBytes = bytes;
  }
  return { queuedBytes, largestQueueBytes };
}

export type ReadyState = 'open' | 'closing' | 'closed';

/**
 * The base of every transport's server (engine.io's `Transport`): it owns the lifecycle
 * (`readyState`: `open`, then `closing` from the first `close()`, then `closed`; a second
 * `close()` gets the first one's promise), the counters behind `stats()`, and the edge's one error
 * mapping for what a transport answers outside HTTP (a ws `error` frame, a Socket.IO
 * acknowledgement). A transport adds its wire: its routes or upgrade, its frames, `shutdown()`
 * and `connectionCount()`.
 */
export abstract class TransportServer implements Transport {
  abstract readonly name: TransportName;
  #readyState: ReadyState = 'open';
  #closed: Promise<void> | undefined;
  #meter: WireMeter | undefined;
  #http: HttpContext | undefined;
  #eventsOut = 0;
  #cutOffs = 0;

  get readyState(): ReadyState {
    return this.#readyState;
  }

  stats(): TransportStats {
    return {
      connections: this.connectionCount(),
      requests: this.#meter?.requests ?? 0,
      eventsOut: this.#eventsOut,
      bytesOut: this.#meter?.bytesOut ?? 0,
      bytesIn: this.#meter?.bytesIn ?? 0,
      ...this.queues(),
      cutOffs: this.#cutOffs,
    };
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#readyState = 'closing';
      this.#closed = this.shutdown().finally(() => {
        this.#readyState = 'closed';
      });
    }
    return this.#closed;
  }

  /** Stops accepting and ends every connection (clients resume by `seq`); `close()` calls it once. */
  protected abstract shutdown(): Promise<void>;

  /** Open streams or sockets now, for `stats()`. */
  protected abstract connectionCount(): number;

  /**
   * What waits unsent for each client now, for `stats()`: read off the connections when asked
   * (a stats read), never counted on the way out.
   */
  protected abstract queues(): QueueSizes;

  /**
   * Keeps what the HTTP side gives this transport (at `mount` or `attach`): the byte and request
   * meter of its endpoints, for `stats()`, and the wording of its refusals.
   */
  protected useHttp(http: HttpContext): WireMeter {
    this.#http = http;
    this.#meter = http.meter(this.name);
    return this.#meter;
  }

  /** The meter `useHttp` took (none before `mount` or `attach`). */
  protected get meter(): WireMeter | undefined {
    return this.#meter;
  }

  /** Counts events delivered to clients. */
  protected countEvents(count = 1): void {
    this.#eventsOut += count;
  }

  /** Counts a client cut off by the bound on its queue (it resumes by `seq`). */
  protected countCutOff(): void {
    this.#cutOffs += 1;
  }

  /** 503 from the first `close()` on: a connection opened now would be ended at once. */
  protected refuseWhileClosing(): void {
    if (this.#readyState !== 'open')
      throw new ChatError(503, SHUTTING_DOWN, { code: 'shuttingDown' });
  }

  /**
   * Counts a request or socket as an open connection of its address until `until` closes (429
   * past the per-address limit, thrown before anything is held).
   */
  protected holdConnection(
    http: HttpContext,
    req: IncomingMessage,
    until: { once(event: 'close', listener: () => void): unknown },
  ): void {
    const release = http.limits.openConnectionOf(req.socket);
    // Without limits nothing is counted, and there is nothing to hold until the close.
    if (release !== NOTHING_TO_RELEASE) until.once('close', release);
  }

  /**
   * `{error, status}` for a refusal outside HTTP, its sentence in `language`: a ChatError keeps
   * its status; anything else is logged with its stack, on the server only, and answered as a
   * 500 with a generic sentence.
   */
  protected refusal(
    what: string,
    error: unknown,
    language: Language = 'en',
  ): { error: string; status: number } {
    return this.#http?.refusal(what, error, language) ?? refusalOf(what, error);
  }
}

/**
 * How many events each format keeps encoded: the newest ones, which fan-out and the polls and
 * reconnects right after it write. An older event is encoded again when a replay reaches it.
 */
export const ENCODED_EVENTS = 512;

/**
 * Encodes each event once per format: fan-out to N connections costs one serialisation. Events
 * are the very objects the hub hands every listener, so they are the keys. Only the newest
 * `ENCODED_EVENTS` stay encoded: keeping every stored event's frames for as long as the event
 * lives (its room's recent events, a `join` per user) would cost memory per user for frames that
 * are written once.
 */
export function encodeOnce<E extends object, T>(
  encode: (event: E) => T,
  keep = ENCODED_EVENTS,
): (event: E) => T {
  const cache = new Map<E, T>();
  return (event) => {
    let encoded = cache.get(event);
    if (encoded === undefined) {
      encoded = encode(event);
      if (cache.size >= keep) cache.delete(cache.keys().next().value!);
      cache.set(event, encoded);
    }
    return encoded;
  };
}

/**
 * The bound on one connection's unsent output (SSE `writableLength`, ws `bufferedAmount`, ...).
 * A client that stops reading is cut off past `max` bytes and resumes by `seq` later. A replay the
 * client asked for is one burst written at once: it is allowed on top of the bound until the
 * connection has drained below `max` again, so a big history reaches a client that reads.
 */
export class SendBound {
  readonly max: number;
  #limit: number;

  constructor(max: number) {
    this.max = max;
    this.#limit = max;
  }

  /**
   * Whether a replay may be written now: not while the connection holds more than the bound
   * unsent (an earlier replay not read yet, or a client that stopped reading). A client that asks
   * for replay after replay and reads none is cut off here, not buffered a history at a time.
   */
  mayBurst(queued: number): boolean {
    return queued <= this.max;
  }

  /** After a replay: what is queued now is allowed on top of the bound. */
  allowBurst(queued: number): void {
    this.#limit = Math.max(this.#limit, queued + this.max);
  }

  /** A replay's allowance is still on top of the bound (until the connection drains below it). */
  get raised(): boolean {
    return this.#limit > this.max;
  }

  /** Whether a connection with `queued` bytes unsent must be cut off. */
  exceeded(queued: number): boolean {
    if (queued <= this.max) {
      this.#limit = this.max;
      return false;
    }
    return queued > this.#limit;
  }
}

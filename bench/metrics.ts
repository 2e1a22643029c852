/**
 * The bench's arithmetic, kept pure so that bench.test.ts can check it on fixed inputs:
 * latency percentiles from an HdrHistogram, the median of repeated runs, lab/bare ratios, and the
 * per-message figures derived from two `/api/stats` snapshots.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { TransportName } from '../core/model.ts';

/** Latencies are recorded in microseconds, up to 10 minutes, 3 significant digits. */
export function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Percentiles of a latency distribution, in milliseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** A histogram of microseconds as percentiles in milliseconds; null when nothing was recorded. */
export function percentiles(histogram: Histogram): Percentiles | null {
  if (histogram.totalCount === 0) return null;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p95: ms(histogram.getValueAtPercentile(95)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
  };
}

/** Records a latency given in milliseconds (fractions kept to the microsecond; at least 1 µs). */
export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** `lab / bare`; null when either is missing or the bare figure is 0. */
export function ratio(lab: number | null | undefined, bare: number | null | undefined) {
  if (lab == null || bare == null || bare === 0) return null;
  return lab / bare;
}

/** What `/api/stats` answers (PROTOCOL.md, Stats); the bare baselines answer the same shape. */
export interface ServerStats {
  rssBytes: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  members: number;
  transports: Partial<Record<TransportName, WireCounters & { connections: number }>>;
  /** The shared routes (POST /room/:id/chat, /api/*): the way up of polling and SSE. */
  http?: WireCounters;
}

export interface WireCounters {
  requests: number;
  bytesIn: number;
  bytesOut: number;
}

/** What happened on the server between two snapshots, for one transport. */
export interface ServerDelta {
  cpuUs: number;
  /** Requests, transport endpoints and shared routes together. */
  requests: number;
  /** Bytes the transport's endpoints wrote (the way down, acknowledgements included). */
  transportOut: number;
  transportIn: number;
  /** Bytes of the shared routes (POST /room/:id/chat and its answer). */
  httpIn: number;
  httpOut: number;
  rssBytes: number;
}

const ZERO: WireCounters = { requests: 0, bytesIn: 0, bytesOut: 0 };

/**
 * The difference of two snapshots. `overhead` is what one `/api/stats` read itself costs on the
 * shared routes (measured once per server by two reads in a row) and is taken off.
 */
export function delta(
  before: ServerStats,
  after: ServerStats,
  transport: TransportName,
  overhead: WireCounters = ZERO,
): ServerDelta {
  const t0 = before.transports[transport] ?? ZERO;
  const t1 = after.transports[transport] ?? ZERO;
  const h0 = before.http ?? ZERO;
  const h1 = after.http ?? ZERO;
  const nonNegative = (n: number) => Math.max(0, n);
  return {
    cpuUs: after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs,
    requests: nonNegative(
      t1.requests - t0.requests + h1.requests - h0.requests - overhead.requests,
    ),
    transportOut: t1.bytesOut - t0.bytesOut,
    transportIn: t1.bytesIn - t0.bytesIn,
    httpIn: nonNegative(h1.bytesIn - h0.bytesIn - overhead.bytesIn),
    httpOut: nonNegative(h1.bytesOut - h0.bytesOut - overhead.bytesOut),
    rssBytes: after.rssBytes,
  };
}

/** Below this, a window's server CPU is not told from the noise: 1 ms, or 5 stats reads' worth. */
export function cpuFloorUs(readCpuUs: number): number {
  return Math.max(1000, 5 * readCpuUs);
}

/** Why a window's server CPU is too small to divide, or undefined when it is not. */
export function cpuTooSmall(cpuUs: number, readCpuUs: number): string | undefined {
  const floor = cpuFloorUs(readCpuUs);
  if (cpuUs >= floor) return undefined;
  const ms = (us: number) => `${(us / 1000).toFixed(1)} ms`;
  return `server CPU too small to measure (${ms(cpuUs)} in the window, under the ${ms(floor)} a few stats reads cost)`;
}

/**
 * A memory difference per connection, or why it is too small to measure: negative, or under the
 * resolution (the jitter of two reads in a row, or a fixed floor, per connection).
 */
export function perConnection(
  grown: number,
  connections: number,
  resolutionBytes: number,
  what: string,
): { value: number | null; tooSmall?: string } {
  const per = grown / Math.max(1, connections);
  const resolution = resolutionBytes / Math.max(1, connections);
  if (per >= resolution && per > 0) return { value: per };
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  return {
    value: null,
    tooSmall:
      per < 0
        ? `${what} too small to measure (it shrank by ${kib(-per)} per connection: the allocator or the collector gave memory back)`
        : `${what} too small to measure (${kib(per)} per connection, under the ${kib(resolution)} the reads resolve)`,
  };
}

/** The server-side figures of one measured window. */
export interface ServerFigures {
  /** Server CPU time (user + system) per 1000 delivered messages, in ms. */
  cpuMsPer1000: number | null;
  /** Share of one core the server used between the two snapshots, in %. */
  cpuPercent: number;
  /** Bytes the server wrote on the transport per delivered message. */
  bytesDownPerDelivered: number | null;
  /** Bytes the server read per sent message, on the way up the transport uses. */
  bytesUpPerSent: number | null;
  /** HTTP requests (polls, POSTs, upgrades, handshakes) per delivered message. */
  requestsPerDelivered: number | null;
  rssBytes: number;
}

/**
 * Per-message figures. The way up of polling and SSE is POST /room/:id/chat on the shared routes;
 * ws and Socket.IO send on their own connection, so their bytes in are the transport's.
 */
export function serverFigures(
  server: ServerDelta,
  transport: TransportName,
  counts: { delivered: number; sent: number; wallMs: number },
): ServerFigures {
  const per = (n: number, d: number) => (d > 0 ? n / d : null);
  const postUp = transport === 'polling' || transport === 'sse';
  return {
    cpuMsPer1000: per(server.cpuUs, counts.delivered),
    cpuPercent: counts.wallMs > 0 ? (server.cpuUs / 1000 / counts.wallMs) * 100 : 0,
    bytesDownPerDelivered: per(server.transportOut, counts.delivered),
    bytesUpPerSent: per(postUp ? server.httpIn : server.transportIn, counts.sent),
    requestsPerDelivered: per(server.requests, counts.delivered),
    rssBytes: server.rssBytes,
  };
}

/**
 * The median of several runs of the same measurement, field by field (nested objects too).
 * Fields named in `worst` (lost, duplicates, ...) take the largest value instead: one run that
 * loses a message must show.
 */
export function medianOf<T>(runs: readonly T[], worst: ReadonlySet<string> = WORST): T {
  if (runs.length === 1) return runs[0]!;
  return merge(runs as unknown[], worst, '') as T;
}

export const WORST: ReadonlySet<string> = new Set([
  'lost',
  'duplicates',
  'outOfOrder',
  'sendErrors',
  'loadBound',
]);

function merge(values: unknown[], worst: ReadonlySet<string>, key: string): unknown {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return values[0] ?? null;
  const first = present[0];
  if (typeof first === 'number') {
    const numbers = present.filter((v): v is number => typeof v === 'number');
    return worst.has(key) ? Math.max(...numbers) : median(numbers);
  }
  if (typeof first === 'boolean') {
    return worst.has(key)
      ? present.some(Boolean)
      : present.filter(Boolean).length * 2 > present.length;
  }
  // Capacity's interleaved rounds are one run's, at one rate: a field-by-field median of several
  // runs' would pair a rate with costs measured at others. The first run's stand (the ratio is
  // taken run by run, summary.ts).
  if (key === 'compared') return first;
  if (Array.isArray(first)) {
    // Lists (capacity steps, warnings) are kept from the run whose order is the median one.
    return key === 'warnings' ? [...new Set(present.flat() as string[])] : first;
  }
  if (typeof first === 'object') {
    const out: Record<string, unknown> = {};
    for (const field of Object.keys(first as object)) {
      out[field] = merge(
        present.map((v) => (v as Record<string, unknown>)[field]),
        worst,
        field,
      );
    }
    return out;
  }
  return first;
}

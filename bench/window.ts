/**
 * What every scenario shares: the figures of one measurement, opening a crowd and letting its
 * joins settle, and one measured window between two `/api/stats` snapshots.
 */
import type { TransportName } from '../core/model.ts';
import type { DeliveryReport } from './deliveries.ts';
import type { Job, PhaseReport } from './load.ts';
import {
  cpuTooSmall,
  delta,
  medianOf,
  type ServerDelta,
  type ServerFigures,
  serverFigures,
} from './metrics.ts';
import type { Sizes } from './options.ts';
import type { Target, Variant, Worker } from './processes.ts';

export interface CapacityStep {
  ratePerS: number;
  p99Ms: number | null;
  lost: number;
  sendErrors: number;
  loadCpuPercent: number;
  serverCpuPercent: number;
  /** Server CPU per 1000 delivered messages at this step, in ms. */
  serverCpuMsPer1000: number | null;
  pass: boolean;
  /** 2 when the step failed once and was run again: these are the second try's figures. */
  tries: number;
  /** A step narrowing the gap between the last pass and the first failure (off the ×factor ladder). */
  refine: boolean;
}

/**
 * Everything measured in one scenario on one server (lab or bare) in one run: what the clients
 * counted (the first failed send goes into `warnings`), and what the server did.
 */
export interface Measurement extends ServerFigures, Omit<DeliveryReport, 'firstSendError'> {
  users: number;
  deliveredPerS: number;
  sendsPerS: number;
  loadCpuPercent: number;
  loopDelayP99Ms: number;
  /**
   * Figures below what their measurement resolves, each with the reason: `cpu` the server's CPU
   * in the window (within the noise of a stats read), `heap` and `rss` the idle memory per
   * connection (negative, or within the jitter of two reads in a row). The figures are null
   * (memory, CPU per delivery) or not shown (CPU %), and no ratio is made of them.
   */
  tooSmall?: { cpu?: string; heap?: string; rss?: string };
  idle?: {
    connections: number;
    /** RSS grown per connection: what the OS sees, with whatever the allocator kept; null: too small. */
    rssPerConnection: number | null;
    /** Live V8 heap and external memory per connection, after a full collection; null: too small. */
    heapPerConnection: number | null;
    /** The smallest per-connection difference each of the two resolves, in bytes. */
    resolution: { heapPerConnection: number; rssPerConnection: number };
    cpuPercent: number;
    requestsPerS: number;
    bytesPerS: number;
  };
  capacity?: {
    ratePerS: number;
    deliveredPerS: number;
    /** The first failing step had the load process near a full core: the load may have set the limit. */
    loadBound: boolean;
    /**
     * What the server would deliver with a whole core at the best step's CPU cost per delivery
     * (1e6 / µs per delivery): its ceiling when the load generator is what stopped the climb.
     */
    ceilingPerS: number;
    steps: CapacityStep[];
    /**
     * The rounds at one rate, lab and bare in turn, after both climbs (capacity.ts): the server
     * CPU per 1000 deliveries of each round (null: too small to measure). Lab's round i ran
     * beside bare's round i; their ratio is one repeat of the capacity ratio.
     */
    compared?: { ratePerS: number; windowMs: number; cpuMsPer1000: (number | null)[] };
  };
  /** (`cluster`) The server processes of the setup and redis-server, together. */
  cluster?: {
    processes: number;
    /**
     * redis-server's CPU (its `INFO cpu`: used_cpu_user + used_cpu_sys, every thread of it) per
     * 1000 delivered messages, in ms (µs per delivery); null in the setup without Redis.
     */
    redisCpuMsPer1000: number | null;
    /** The server processes' CPU (`cpuMsPer1000`, summed) and redis-server's, per 1000 delivered. */
    totalCpuMsPer1000: number | null;
    /** Their CPU as a share of one core, in %. */
    totalCpuPercent: number;
  };
  warnings: string[];
}

export interface Pair {
  target: Target;
  worker: Worker;
}

/**
 * Opens a crowd (or grows the open one by `rooms`) and waits for the joins to settle; warns when
 * the lab's server counts other members than the crowd has.
 */
export async function open(
  pair: Pair,
  sizes: Sizes,
  crowd: {
    rooms: number;
    usersPerRoom: number;
    senders: number;
    grow?: boolean;
    spreadOver?: string[];
  },
) {
  const { target, worker } = pair;
  const { rooms, usersPerRoom, senders, spreadOver } = crowd;
  const spec = {
    baseUrl: target.url,
    transport: target.transport,
    rooms,
    usersPerRoom,
    senders,
    ...(spreadOver ? { spreadOver } : {}),
  };
  const { members } = await worker.run<{ members: number }>(
    crowd.grow ? { type: 'grow', rooms } : { type: 'open', spec },
  );
  const warnings: string[] = [];
  const maxMs = 120_000;
  const { settled } = await worker.run<{ settled: boolean }>({
    type: 'settle',
    quietMs: sizes.quietMs,
    maxMs,
  });
  if (!settled) warnings.push(`the joins had not settled after ${maxMs / 1000} s`);
  const stats = await target.stats();
  if (target.variant === 'lab' && stats.members !== members) {
    warnings.push(`after the joins the server counted ${stats.members} members, not ${members}`);
  }
  return warnings;
}

/** One measured job between two stats snapshots. */
export async function measured(pair: Pair, job: Job): Promise<Window> {
  const before = await pair.target.stats();
  const started = performance.now();
  const report = await pair.worker.run<PhaseReport>(job);
  const after = await pair.target.stats();
  const wallMs = performance.now() - started;
  return {
    report,
    server: delta(before, after, pair.target.transport, pair.target.overhead),
    wallMs,
    readCpuUs: pair.target.readCpuUs,
  };
}

/** A measured job: what the clients counted, what the server did, and how long it all took. */
export interface Window {
  report: PhaseReport;
  server: ServerDelta;
  wallMs: number;
  /** What one `/api/stats` read cost the server in CPU (µs): the noise of the CPU figure. */
  readCpuUs: number;
}

export function measurement(
  transport: TransportName,
  users: number,
  { report, server, wallMs, readCpuUs }: Window,
  warnings: string[],
): Measurement {
  const figures = serverFigures(server, transport, {
    delivered: report.delivered,
    sent: report.sent - report.sendErrors,
    wallMs,
  });
  const cpu = cpuTooSmall(server.cpuUs, readCpuUs);
  if (cpu) figures.cpuMsPer1000 = null;
  if (report.sendErrors > 0)
    warnings.push(`${report.sendErrors} sends failed: ${report.firstSendError}`);
  return {
    ...figures,
    users,
    sent: report.sent,
    sendErrors: report.sendErrors,
    expected: report.expected,
    delivered: report.delivered,
    lost: report.lost,
    duplicates: report.duplicates,
    outOfOrder: report.outOfOrder,
    latency: report.latency,
    ack: report.ack,
    deliveredPerS: (report.delivered * 1000) / report.windowMs,
    sendsPerS: report.sendsPerS,
    loadCpuPercent: report.loadCpuPercent,
    loopDelayP99Ms: report.loopDelayP99Ms,
    ...(cpu ? { tooSmall: { cpu } } : {}),
    warnings,
  };
}

export function emptyReport(windowMs: number): PhaseReport {
  return {
    sent: 0,
    sendErrors: 0,
    firstSendError: null,
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    latency: null,
    ack: null,
    windowMs,
    sendsPerS: 0,
    loadCpuPercent: 0,
    loopDelayP99Ms: 0,
  };
}

export function emptyDelta(): ServerDelta {
  return {
    cpuUs: 0,
    requests: 0,
    transportOut: 0,
    transportIn: 0,
    httpIn: 0,
    httpOut: 0,
    rssBytes: 0,
  };
}

/**
 * The lab's and the bare server of one scenario, open at once so that their windows can take
 * turns. A side that fails drops out with its error; the other goes on.
 */
export class Sides {
  readonly failures = new Map<Variant, Error>();
  readonly transport: TransportName;
  readonly #pairs: Map<Variant, Pair>;

  constructor(transport: TransportName, pairs: Map<Variant, Pair>) {
    this.transport = transport;
    this.#pairs = pairs;
  }

  alive(order: readonly Variant[]): Variant[] {
    return order.filter((v) => this.#pairs.has(v) && !this.failures.has(v));
  }

  /** `run` on each live side in `order`, one after the other. */
  async inTurn(order: readonly Variant[], run: (pair: Pair, variant: Variant) => Promise<void>) {
    for (const variant of this.alive(order)) await this.#guard(variant, run);
  }

  /** `run` on every live side at once (opening crowds, closing them: nothing measured). */
  async together(run: (pair: Pair, variant: Variant) => Promise<void>) {
    await Promise.all(this.alive(['lab', 'bare']).map((v) => this.#guard(v, run)));
  }

  async #guard(variant: Variant, run: (pair: Pair, variant: Variant) => Promise<void>) {
    try {
      await run(this.#pairs.get(variant)!, variant);
    } catch (error) {
      this.failures.set(variant, error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** Round `r` of lab and bare: who goes first alternates (A B, B A, A B, ...), against drift. */
export function roundOrder(order: readonly Variant[], r: number): Variant[] {
  return r % 2 === 0 ? [...order] : [...order].reverse();
}

/**
 * One figure set of several interleaved rounds of one server: the median of each figure, but the
 * counts (sent, delivered, lost, ...) summed, so that a loss in any round shows.
 */
export function combineRounds(rounds: Measurement[]): Measurement {
  const combined = medianOf(rounds);
  if (rounds.length === 1) return combined;
  for (const field of COUNTS) combined[field] = rounds.reduce((n, m) => n + m[field], 0);
  combined.warnings = [...new Set(rounds.flatMap((m) => m.warnings))];
  const cpu = rounds.find((m) => m.tooSmall?.cpu)?.tooSmall?.cpu;
  if (cpu) combined.tooSmall = { ...combined.tooSmall, cpu };
  return combined;
}

const COUNTS = [
  'sent',
  'sendErrors',
  'expected',
  'delivered',
  'lost',
  'duplicates',
  'outOfOrder',
] as const;

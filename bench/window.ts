/**
 * What every scenario shares: the figures of one measurement, opening a crowd and letting its
 * joins settle, and one measured window between two `/api/stats` snapshots.
 */
import type { TransportName } from '../core/model.ts';
import type { DeliveryReport } from './deliveries.ts';
import type { Job, PhaseReport } from './load.ts';
import { delta, type ServerDelta, type ServerFigures, serverFigures } from './metrics.ts';
import type { Sizes } from './options.ts';
import type { Target, Worker } from './processes.ts';

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
  idle?: {
    connections: number;
    /** RSS grown per connection: what the OS sees, with whatever the allocator kept. */
    rssPerConnection: number;
    /** Live V8 heap and external memory per connection, after a full collection. */
    heapPerConnection: number;
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
  };
}

/** A measured job: what the clients counted, what the server did, and how long it all took. */
export interface Window {
  report: PhaseReport;
  server: ServerDelta;
  wallMs: number;
}

export function measurement(
  transport: TransportName,
  users: number,
  { report, server, wallMs }: Window,
  warnings: string[],
): Measurement {
  const figures = serverFigures(server, transport, {
    delivered: report.delivered,
    sent: report.sent - report.sendErrors,
    wallMs,
  });
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

/**
 * The cluster scenario (PROTOCOL.md, Many processes): one room fanned out as in `fanout`, in the
 * three setups of CLUSTER_SETUPS, one after the other on each transport. A setup is its servers
 * and, on Redis, a redis-server of its own on a free port, stopped with them. Every server-side
 * process (the servers and redis-server) is pinned to the server's core, so all three setups have
 * the same CPU to spend: what (b) and (c) show is what a delivery costs through Redis, not a
 * speed-up.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TRANSPORT_NAMES, type TransportName } from '../core/model.ts';
import { REDIS_BINARY, startRedis } from '../labs/shared/redis-server.ts';
import type { ServerStats, WireCounters } from './metrics.ts';
import {
  type BenchOptions,
  CLUSTER_SETUPS,
  type ClusterSetup,
  SETUP_LABELS,
  type Sizes,
} from './options.ts';
import { type Pinning, pin, startTarget, type Target, type Worker } from './processes.ts';
import type { Progress } from './progress.ts';
import type { ClusterEntry, RunResults } from './summary.ts';
import { type Measurement, measured, measurement, open } from './window.ts';

export const REDIS_INSTALLED = REDIS_BINARY !== undefined;

/** The one line the bench prints when it skips `cluster` for want of Redis. */
export const NO_REDIS =
  'skipping the cluster scenario: redis-server is not installed (apt-get install redis-server)';

const LAYOUT: Record<ClusterSetup, { processes: number; redis: boolean }> = {
  oneMemory: { processes: 1, redis: false },
  oneRedis: { processes: 1, redis: true },
  twoRedis: { processes: 2, redis: true },
};

/**
 * One run of the cluster: transport after transport, each setup in turn ((a) first in odd runs,
 * (c) first in even ones). A full run starts a setup's processes (and its Redis) fresh for each
 * transport and stops them before the next setup; --quick starts every setup once, at once, for
 * all the transports. A setup that fails is an error of its own; a failed window gets the
 * caller a new load generator (`worker.failed`).
 */
export async function runCluster(
  run: number,
  options: BenchOptions,
  pins: Pinning | null,
  progress: Progress,
  worker: { get(): Worker; failed(error: unknown): Promise<string> },
): Promise<NonNullable<RunResults['cluster']>> {
  const results: NonNullable<RunResults['cluster']> = {};
  const setups = run % 2 === 0 ? [...CLUSTER_SETUPS] : [...CLUSTER_SETUPS].reverse();
  const kept = new Map<ClusterSetup, Promise<SetupServers>>();
  const servers = (setup: ClusterSetup, transport: TransportName) => {
    if (!options.quick) return startSetup(setup, transport, pins);
    if (!kept.has(setup)) kept.set(setup, startSetup(setup, transport, pins));
    return kept.get(setup)!;
  };
  // A setup that fails to start is reported when its turn comes.
  if (options.quick) {
    for (const setup of setups) servers(setup, options.transports[0]!).catch(() => undefined);
  }
  for (const transport of options.transports) {
    const entry: ClusterEntry = {
      setups: { oneMemory: null, oneRedis: null, twoRedis: null },
      errors: [],
    };
    results[transport] = entry;
    for (const setup of setups) {
      progress.step(`run ${run + 1}: cluster · ${transport} · ${SETUP_LABELS[setup]}`);
      let started: SetupServers;
      try {
        started = await servers(setup, transport);
      } catch (error) {
        entry.errors.push(`${setup}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      try {
        entry.setups[setup] = await runSetup(started, transport, worker.get(), options.sizes);
      } catch (error) {
        entry.errors.push(`${setup}: ${await worker.failed(error)}`);
      }
      if (!options.quick) await started.stop();
    }
  }
  await Promise.all([...kept.values()].map(async (s) => (await s.catch(() => null))?.stop()));
  return results;
}

/** The processes of one setup: its servers (as one target) and redis-server's CPU meter. */
export interface SetupServers {
  /** Every transport is mounted: `runSetup` measures the one it is given. */
  target: Target;
  urls: string[];
  /** redis-server's CPU so far, in µs; null in the setup without Redis. */
  redisCpuUs(): Promise<number | null>;
  stop(): Promise<void>;
}

export async function startSetup(
  setup: ClusterSetup,
  transport: TransportName,
  pins: Pinning | null,
): Promise<SetupServers> {
  const layout = LAYOUT[setup];
  const redis = layout.redis ? await meteredRedis(pins) : null;
  const shared = redis && {
    redisUrl: redis.url,
    cookieSecret: randomBytes(32).toString('base64url'),
  };
  const started = await Promise.allSettled(
    Array.from({ length: layout.processes }, () =>
      startTarget('lab', transport, pins, shared ?? undefined),
    ),
  );
  const targets = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s) => s.status === 'rejected');
  const stop = async () => {
    await Promise.all(targets.map((t) => t.stop()));
    await redis?.close();
  };
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return {
    target: together(targets),
    urls: targets.map((t) => t.url),
    redisCpuUs: async () => (redis ? redis.cpuUs() : null),
    stop,
  };
}

/**
 * One setup's window: the crowd (split between the processes), the warm-up, then the measured
 * window, with redis-server's CPU read just before and just after it.
 */
export async function runSetup(
  servers: SetupServers,
  transport: TransportName,
  worker: Worker,
  sizes: Sizes,
): Promise<Measurement> {
  const pair = { target: { ...servers.target, transport }, worker };
  const { users, rate } = sizes.cluster;
  const warnings = await open(pair, sizes, {
    rooms: 1,
    usersPerRoom: users,
    senders: sizes.senders,
    ...(servers.urls.length > 1 ? { spreadOver: servers.urls } : {}),
  });
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength, ratePerRoom: rate };
  await worker.run({ type: 'openLoop', ...phase, durationMs: sizes.warmupMs });
  const redisBefore = await servers.redisCpuUs();
  const window = await measured(pair, { type: 'openLoop', ...phase, durationMs: sizes.durationMs });
  const redisAfter = await servers.redisCpuUs();
  await worker.run({ type: 'close' });
  const result = measurement(transport, users, window, warnings);
  const redisUs = redisBefore === null || redisAfter === null ? null : redisAfter - redisBefore;
  const totalUs = window.server.cpuUs + (redisUs ?? 0);
  const per1000 = (us: number) => (result.delivered > 0 ? us / result.delivered : null);
  result.cluster = {
    processes: servers.urls.length,
    redisCpuMsPer1000: redisUs === null ? null : per1000(redisUs),
    // A server CPU too small to measure is no part of a total either.
    totalCpuMsPer1000: result.tooSmall?.cpu ? null : per1000(totalUs),
    totalCpuPercent: window.wallMs > 0 ? (totalUs / 1000 / window.wallMs) * 100 : 0,
  };
  return result;
}

/**
 * The processes of a setup as one target: their counters summed, each stats read reading all.
 * Each process counts the room's members across the cluster, so `members` is the fewest any of
 * them counts (the check after the joins then fails when one lags).
 */
function together(targets: Target[]): Target {
  const first = targets[0]!;
  if (targets.length === 1) return first;
  const counters = (all: (WireCounters | undefined)[]): WireCounters => ({
    requests: sum(all.map((c) => c?.requests)),
    bytesIn: sum(all.map((c) => c?.bytesIn)),
    bytesOut: sum(all.map((c) => c?.bytesOut)),
  });
  return {
    variant: first.variant,
    transport: first.transport,
    url: first.url,
    overhead: counters(targets.map((t) => t.overhead)),
    readCpuUs: sum(targets.map((t) => t.readCpuUs)),
    stats: async () => {
      const all = await Promise.all(targets.map((t) => t.stats()));
      const transports: ServerStats['transports'] = {};
      for (const name of TRANSPORT_NAMES) {
        const each = all.map((s) => s.transports[name]);
        transports[name] = { ...counters(each), connections: sum(each.map((c) => c?.connections)) };
      }
      return {
        rssBytes: sum(all.map((s) => s.rssBytes)),
        cpuUserUs: sum(all.map((s) => s.cpuUserUs)),
        cpuSystemUs: sum(all.map((s) => s.cpuSystemUs)),
        members: Math.min(...all.map((s) => s.members)),
        transports,
        http: counters(all.map((s) => s.http)),
      };
    },
    collectGarbage: async () => {
      const each = await Promise.all(targets.map((t) => t.collectGarbage()));
      const fields = Object.keys(each[0]!) as (keyof NodeJS.MemoryUsage)[];
      return Object.fromEntries(
        fields.map((field) => [field, sum(each.map((m) => m[field]))]),
      ) as unknown as NodeJS.MemoryUsage;
    },
    stop: async () => {
      await Promise.all(targets.map((t) => t.stop()));
    },
  };
}

function sum(values: (number | undefined)[]): number {
  return values.reduce<number>((total, n) => total + (n ?? 0), 0);
}

/**
 * A redis-server of the setup's own (labs/shared/redis-server.ts: a free port, nothing kept on disk),
 * pinned beside the servers, and its CPU as its `INFO cpu` says: used_cpu_user + used_cpu_sys,
 * from getrusage, to the microsecond and for every thread of it (/proc/<pid>/stat counts in
 * clock ticks, 10 ms, too coarse for a short window).
 */
async function meteredRedis(pins: Pinning | null) {
  const server = await startRedis();
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  // A failed read rejects its own promise, which fails the setup; the event needs a listener.
  client.on('error', () => undefined);
  const field = (info: string, name: string) => {
    const value = new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
    if (value === undefined) throw new Error(`redis-server's INFO has no ${name}`);
    return Number(value);
  };
  try {
    if (pins) pin(field(await client.info('server'), 'process_id'), pins.server);
  } catch (error) {
    client.disconnect();
    await server.close();
    throw error;
  }
  return {
    url: server.url,
    cpuUs: async () => {
      const info = await client.info('cpu');
      return Math.round((field(info, 'used_cpu_user') + field(info, 'used_cpu_sys')) * 1e6);
    },
    close: async () => {
      client.disconnect();
      await server.close();
    },
  };
}

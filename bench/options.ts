/**
 * `npm run bench -- [options]`: the flags and the sizes they give each scenario. bench/README.md
 * documents every option; `--help` prints USAGE.
 */
import { TRANSPORT_NAMES, type TransportName } from '../core/model.ts';
import { parseFlags, UsageError } from '../flags.ts';

export const SCENARIO_NAMES = [
  'idle',
  'latency',
  'fanout',
  'rooms',
  'send',
  'capacity',
  'cluster',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
/** The scenarios run on the lab's server and on a bare baseline; `cluster` on three setups of the lab's. */
export type PairedScenario = Exclude<ScenarioName, 'cluster'>;

/**
 * The setups of `cluster`: (a) one lab server, `--store memory`; (b) one on Redis; (c) two on
 * the same Redis, the room's subscribers split between them and its posts alternating.
 */
export const CLUSTER_SETUPS = ['oneMemory', 'oneRedis', 'twoRedis'] as const;
export type ClusterSetup = (typeof CLUSTER_SETUPS)[number];
export const SETUP_LABELS: Record<ClusterSetup, string> = {
  oneMemory: '(a) 1 process',
  oneRedis: '(b) 1 + Redis',
  twoRedis: '(c) 2 + Redis',
};

export const USAGE = `usage: npm run bench -- [--quick] [--transports polling,sse,ws,socketio]
         [--scenarios idle,latency,fanout,rooms,send,capacity,cluster] [--users N] [--rate R]
         [--duration S] [--idle S] [--runs N] [--rounds N] [--max-rate R] [--out DIR] [--no-pin]`;

export interface BenchOptions {
  quick: boolean;
  transports: TransportName[];
  scenarios: ScenarioName[];
  runs: number;
  out: string;
  pin: boolean;
  sizes: Sizes;
}

export interface Sizes {
  /** Measured time of latency, fanout, rooms, send and cluster (split into `rounds` windows). */
  durationMs: number;
  /**
   * Lab and bare take turns this many times in each paired scenario (lab, bare, bare, lab, ...):
   * latency, fanout, rooms and send in windows of durationMs / rounds, capacity's comparison in
   * windows of `capacity.compareMs`.
   */
  rounds: number;
  /** Unmeasured sending before each window, at the window's rate. */
  warmupMs: number;
  /** After the last send, how long deliveries may still come before they count as lost. */
  graceMs: number;
  /** The joins have settled when no membership event came for this long. */
  quietMs: number;
  /** Characters of each chat message. */
  textLength: number;
  /** Users of a room who send, in turn. */
  senders: number;
  latency: { users: number; rate: number };
  fanout: { users: number; rate: number };
  /** One room fanned out in three setups: one process, one on Redis, two on Redis. */
  cluster: { users: number; rate: number };
  rooms: { rooms: number; users: number; rate: number };
  /** The idle window; null: one heartbeat period of each transport (bench/idle.ts). */
  idle: { connections: number; usersPerRoom: number; windowMs: number | null };
  send: { connections: number };
  capacity: {
    users: number;
    startRate: number;
    factor: number;
    maxRate: number;
    stepMs: number;
    /** Steps between the last pass and the first failure (each halves the gap, geometrically). */
    refine: number;
    p99LimitMs: number;
    /** After both climbs: `rounds` windows this long per server at the rate both passed. */
    rounds: number;
    compareMs: number;
  };
}

export function parseOptions(args: string[]): BenchOptions | 'help' {
  const values = parseFlags(args, {
    quick: { type: 'boolean' },
    transports: { type: 'string' },
    scenarios: { type: 'string' },
    users: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    idle: { type: 'string' },
    runs: { type: 'string' },
    rounds: { type: 'string' },
    'max-rate': { type: 'string' },
    out: { type: 'string' },
    'no-pin': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  const quick = values.quick === true;
  const users = number(values.users, '--users', quick ? 50 : 1000, 2, 5000);
  const rate = number(values.rate, '--rate', 20, 0.1, 10_000);
  const duration = number(values.duration, '--duration', quick ? 0.5 : 4, 0.1, 600);
  const idle =
    values.idle === undefined && !quick ? null : number(values.idle, '--idle', 1, 0.1, 600);
  const rounds = number(values.rounds, '--rounds', quick ? 2 : 3, 1, 20);
  const stepMs = quick ? 300 : Math.max(500, (duration * 1000 * 3) / 8);
  const sizes: Sizes = {
    durationMs: duration * 1000,
    rounds,
    warmupMs: quick ? 200 : 500,
    graceMs: quick ? 3000 : 10_000,
    quietMs: quick ? 200 : 300,
    textLength: 48,
    senders: 10,
    latency: { users: quick ? 5 : 10, rate },
    fanout: { users, rate },
    // Half the fanout room: the crowd joins three times (one per setup) on every transport.
    cluster: { users: Math.max(4, Math.round(users / 2)), rate },
    rooms: { rooms: quick ? 5 : 100, users: quick ? 4 : 10, rate: rate / 10 },
    idle: {
      connections: 2 * users,
      usersPerRoom: 10,
      windowMs: idle === null ? null : idle * 1000,
    },
    send: { connections: 10 },
    capacity: {
      users: Math.max(quick ? 5 : 10, Math.round(users / 10)),
      startRate: 2 * rate,
      factor: 2,
      maxRate: number(values['max-rate'], '--max-rate', quick ? 80 : 5000, 1, 100_000),
      stepMs,
      refine: quick ? 0 : 2,
      p99LimitMs: 100,
      rounds,
      compareMs: 2 * stepMs,
    },
  };
  return {
    quick,
    transports: list(values.transports, '--transports', TRANSPORT_NAMES),
    scenarios: list(values.scenarios, '--scenarios', SCENARIO_NAMES),
    runs: number(values.runs, '--runs', 1, 1, 20),
    out: values.out ?? 'bench/results',
    pin: values['no-pin'] !== true,
    sizes,
  };
}

function number(
  value: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(value.trim() !== '' && n >= min && n <= max)) {
    throw new UsageError(`${flag} must be a number from ${min} to ${max}, not "${value}"`);
  }
  return flag === '--users' || flag === '--runs' || flag === '--rounds' ? Math.round(n) : n;
}

function list<T extends string>(value: string | undefined, flag: string, all: readonly T[]): T[] {
  if (value === undefined) return [...all];
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(all as readonly string[]).includes(name)) {
      throw new UsageError(`${flag} takes ${all.join(', ')}; "${name}" is none of them`);
    }
  }
  // In the canonical order, whatever the order given.
  return all.filter((name) => names.includes(name));
}

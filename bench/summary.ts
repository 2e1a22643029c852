/**
 * From the runs to the results: the median of the runs per scenario, transport and variant, the
 * lab-over-bare ratios, the fairness check of the issue, and the problems that fail the bench
 * (a missing transport, a lost, repeated or reordered message). The shape of latest.json.
 */
import type { TransportName } from '../core/model.ts';
import { COLUMNS, reading } from './columns.ts';
import { medianOf, ratio } from './metrics.ts';
import {
  CLUSTER_SETUPS,
  type ClusterSetup,
  type PairedScenario,
  type ScenarioName,
  type Sizes,
} from './options.ts';
import { pairRatio, type RatioFigure, type RatioValue, spreadOf } from './spread.ts';
import type { CapacityStep, Measurement } from './window.ts';

export type Variant = 'lab' | 'bare';

/** One scenario on one transport in one run. */
export interface Entry {
  lab: Measurement | null;
  bare: Measurement | null;
  errors: string[];
  /** The interleaved rounds `lab` and `bare` combine (scenarios.ts); not in latest.json. */
  rounds?: Partial<Record<Variant, Measurement>>[];
}

/** `cluster` on one transport in one run: a measurement per setup. */
export interface ClusterEntry {
  setups: Record<ClusterSetup, Measurement | null>;
  errors: string[];
}

type ByTransport<T> = Partial<Record<TransportName, T>>;

export type RunResults = {
  [S in ScenarioName]?: ByTransport<S extends 'cluster' ? ClusterEntry : Entry>;
};

/** lab÷bare of each column that has one (columns.ts: `key`), with its spread over the repeats. */
export type Ratios = Record<string, RatioFigure>;

/** Of the CPU per delivery, the server processes and redis-server together, over setup (a)'s. */
export interface ClusterRatios {
  oneRedis: RatioFigure;
  twoRedis: RatioFigure;
}

export interface Fairness {
  /** lab capacity / bare capacity; the issue asks for at least 0.8. */
  capacityRatio: RatioFigure;
  /**
   * `measured` when the load generator stopped neither climb; else the server CPU per delivered
   * message at the highest rate both passed (`CPU per delivery at N msg/s`), bare over lab: the
   * measured capacities would compare the load generator with itself.
   */
  capacityBasis: string | null;
  /** lab fanout p99 / bare fanout p99; the issue asks for at most 1.25. */
  fanoutP99Ratio: RatioFigure;
  pass: boolean | null;
  /** What the measurements say about the gap, when there is one. */
  why: string[];
}

export interface BenchResults {
  schema: 2;
  date: string;
  command: string;
  quick: boolean;
  wallS: number;
  machine: Record<string, string | number>;
  node: string;
  libraries: Record<string, string>;
  pinning: string;
  /** Whether the server-side processes had a core of their own (the report words it). */
  pinned: boolean;
  runs: number;
  transports: TransportName[];
  scenarios: ScenarioName[];
  sizes: Sizes;
  results: {
    [S in ScenarioName]?: ByTransport<
      S extends 'cluster'
        ? ClusterEntry & { ratios: ClusterRatios }
        : Omit<Entry, 'rounds'> & { ratios: Ratios }
    >;
  };
  fairness: Partial<Record<TransportName, Fairness>>;
  /** What fails the bench: missing transports or scenarios, lost, repeated or reordered messages. */
  problems: string[];
  /** What to know when reading the figures (unsettled joins, a saturated load generator, ...). */
  notes: string[];
}

export const FAIR_CAPACITY = 0.8;
export const FAIR_P99 = 1.25;

export function summarize(
  runs: RunResults[],
  meta: Omit<BenchResults, 'results' | 'fairness' | 'problems' | 'notes'>,
): BenchResults {
  const results: BenchResults['results'] = {};
  const problems: string[] = [];
  const notes: string[] = [];
  for (const scenario of meta.scenarios) {
    if (scenario === 'cluster') {
      results.cluster = cluster(runs, meta.transports, problems, notes);
      continue;
    }
    const byTransport: NonNullable<BenchResults['results'][PairedScenario]> = {};
    for (const transport of meta.transports) {
      const entries = runs.map((run) => run[scenario]?.[transport]);
      const pick = (variant: Variant) => {
        const found = entries.map((e) => e?.[variant]).filter((m): m is Measurement => !!m);
        return found.length > 0 ? medianOf(found) : null;
      };
      const entry = {
        lab: pick('lab'),
        bare: pick('bare'),
        errors: [...new Set(entries.flatMap((e) => e?.errors ?? []))],
      };
      byTransport[transport] = { ...entry, ratios: ratios(scenario, entries) };
      for (const variant of ['lab', 'bare'] as const) {
        check(`${scenario} ${transport} ${variant}`, entry[variant], entry.errors, problems, notes);
      }
    }
    results[scenario] = byTransport;
  }
  const fairness: BenchResults['fairness'] = {};
  for (const transport of meta.transports) {
    fairness[transport] = fair(
      results,
      transport,
      runs.map((run) => run.capacity?.[transport]),
    );
  }
  return { ...meta, results, fairness, problems, notes };
}

/** A missing measurement, a loss, a repeat, a step back or a refused send is a problem. */
function check(
  where: string,
  m: Measurement | null,
  errors: string[],
  problems: string[],
  notes: string[],
): void {
  if (!m) {
    problems.push(`${where}: missing (${errors.join('; ') || 'not run'})`);
    return;
  }
  const bad = (['lost', 'duplicates', 'outOfOrder', 'sendErrors'] as const).filter(
    (field) => m[field] > 0,
  );
  for (const field of bad) problems.push(`${where}: ${m[field]} ${describe[field]}`);
  for (const warning of m.warnings) notes.push(`${where}: ${warning}`);
  if (m.loadCpuPercent >= 90) {
    notes.push(
      `${where}: the load generator used ${Math.round(m.loadCpuPercent)} % of its core: its own pace is in these latencies`,
    );
  }
}

/** `cluster`: the median of the runs per setup, and the CPU per delivery over setup (a)'s. */
function cluster(
  runs: RunResults[],
  transports: TransportName[],
  problems: string[],
  notes: string[],
): NonNullable<BenchResults['results']['cluster']> {
  const byTransport: NonNullable<BenchResults['results']['cluster']> = {};
  for (const transport of transports) {
    const entries = runs.map((run) => run.cluster?.[transport]);
    const errors = [...new Set(entries.flatMap((e) => e?.errors ?? []))];
    const setups = {} as ClusterEntry['setups'];
    for (const setup of CLUSTER_SETUPS) {
      const found = entries.map((e) => e?.setups[setup]).filter((m): m is Measurement => !!m);
      setups[setup] = found.length > 0 ? medianOf(found) : null;
      const own = errors.filter((e) => e.startsWith(`${setup}:`));
      check(`cluster ${transport} ${setup}`, setups[setup], own, problems, notes);
    }
    // Each run's (b) and (c) over its own (a), then their spread over the runs.
    const over = (setup: ClusterSetup) =>
      spreadOf(
        entries.map((e) => {
          const cpu = (s: ClusterSetup) => ({
            value: e?.setups[s]?.cluster?.totalCpuMsPer1000,
            tooSmall: e?.setups[s]?.tooSmall?.cpu,
          });
          return [pairRatio(cpu(setup), cpu('oneMemory'))];
        }),
      );
    byTransport[transport] = {
      setups,
      errors,
      ratios: { oneRedis: over('oneRedis'), twoRedis: over('twoRedis') },
    };
  }
  return byTransport;
}

const describe = {
  lost: 'deliveries lost (not received by the end of the grace)',
  duplicates: 'duplicate deliveries (the same seq twice at one client)',
  outOfOrder: 'deliveries out of order (a seq lower than one already received)',
  sendErrors: 'sends refused or failed',
} as const;

/**
 * Every column's lab÷bare, run by run: the ratios of the run's interleaved rounds (lab's round i
 * over bare's round i, which ran beside it), or of the run's one pair; then over the runs.
 */
function ratios(scenario: PairedScenario, entries: (Entry | undefined)[]): Ratios {
  const out: Ratios = {};
  for (const column of COLUMNS[scenario]) {
    if (!column.key) continue;
    const of = (lab: Measurement | null | undefined, bare: Measurement | null | undefined) =>
      !lab || !bare
        ? { why: 'not measured on both' }
        : pairRatio(reading(column, lab), reading(column, bare));
    out[column.key] = spreadOf(
      entries.map((e) => {
        // A side that failed mid-way has no figures, whatever rounds it ran before.
        const paired = e?.lab && e.bare ? (e.rounds ?? []).filter((r) => r.lab && r.bare) : [];
        return paired.length > 0 ? paired.map((r) => of(r.lab, r.bare)) : [of(e?.lab, e?.bare)];
      }),
    );
  }
  return out;
}

/**
 * The check: below capacity, the lab reaches at least 0.8 of the bare capacity and at
 * most 1.25 times the bare p99 in `fanout`. Where it does not, the reasons the figures show.
 */
function fair(
  results: BenchResults['results'],
  transport: TransportName,
  capacityRuns: (Entry | undefined)[],
): Fairness {
  const capacity = results.capacity?.[transport];
  const fanout = results.fanout?.[transport];
  // Each run's capacity ratio (the median of its rounds, when it has them), then over the runs.
  const checked = capacityRuns.map((e) => capacityCheck(e?.lab, e?.bare));
  const capacityFigure: RatioFigure = capacity
    ? spreadOf(checked.map((c) => c.values))
    : { value: null, why: 'capacity not run' };
  const bases = [...new Set(checked.flatMap((c) => (c.capacityBasis ? [c.capacityBasis] : [])))];
  const capacityBasis = bases.length ? bases.join('; ') : null;
  const fanoutFigure: RatioFigure = fanout?.ratios.p99 ?? { value: null, why: 'fanout not run' };
  const capacityRatio = capacityFigure.value;
  const fanoutP99Ratio = fanoutFigure.value;
  const checks = [
    capacityRatio === null ? null : capacityRatio >= FAIR_CAPACITY,
    fanoutP99Ratio === null ? null : fanoutP99Ratio <= FAIR_P99,
  ].filter((c): c is boolean => c !== null);
  const pass = checks.length === 0 ? null : checks.every(Boolean);
  const why: string[] = [];
  const x = (n: number | null | undefined) => (n == null ? '?' : `${n.toFixed(2)}×`);
  const round = (n: number) => Math.round(n).toLocaleString('en-US');
  const loadBound = capacity?.lab?.capacity?.loadBound || capacity?.bare?.capacity?.loadBound;
  if (capacityBasis?.startsWith('CPU') && capacity?.lab?.capacity && capacity.bare?.capacity) {
    why.push(
      loadBound
        ? `the load generator's core was full when a capacity climb stopped (${round(capacity.lab.capacity.deliveredPerS)}/s lab, ` +
            `${round(capacity.bare.capacity.deliveredPerS)}/s bare), so capacity is compared by ${capacityBasis}`
        : `capacity is compared by ${capacityBasis} (the climbs reached ${round(capacity.lab.capacity.deliveredPerS)}/s lab, ` +
            `${round(capacity.bare.capacity.deliveredPerS)}/s bare, a step of the search apart at best)`,
    );
  }
  if (capacityRatio !== null && capacityRatio < FAIR_CAPACITY && capacity?.lab && capacity.bare) {
    const { lab, bare } = capacity;
    why.push(
      capacityBasis === 'measured'
        ? `capacity ${round(lab.capacity!.deliveredPerS)}/s against ${round(bare.capacity!.deliveredPerS)}/s bare`
        : `at the same rate the lab's server spent ${x(1 / capacityRatio)} the CPU per delivered message`,
      `per delivered message the lab wrote ${x(ratio(lab.bytesDownPerDelivered, bare.bytesDownPerDelivered))} the bytes and served ` +
        `${x(ratio(lab.requestsPerDelivered, bare.requestsPerDelivered))} the requests`,
    );
    const send = results.send?.[transport];
    const sends = send?.ratios.sendsPerS?.value;
    if (sends != null && sends < FAIR_CAPACITY) {
      const way =
        transport === 'polling' || transport === 'sse'
          ? 'POST /room/:id/chat (koa, the session cookie, the chat core)'
          : 'chat messages on the socket (the chat core)';
      why.push(
        `the way up, ${way}, took ${x(sends)} the bare's sends/s at full speed (${round(send!.lab!.sendsPerS)} against ${round(send!.bare!.sendsPerS)})`,
      );
    }
  }
  if (fanoutP99Ratio !== null && fanoutP99Ratio > FAIR_P99 && fanout) {
    const lab = fanout.lab!;
    const bare = fanout.bare!;
    why.push(
      `fanout p99 ${lab.latency!.p99.toFixed(1)} ms against ${bare.latency!.p99.toFixed(1)} ms bare; the lab's server used ` +
        `${Math.round(lab.cpuPercent)} % of its core (bare ${Math.round(bare.cpuPercent)} %), ` +
        `${x(fanout.ratios.cpuMsPer1000?.value)} the CPU and ${x(fanout.ratios.bytesDownPerDelivered?.value)} the bytes per delivered message`,
    );
    if (lab.cpuPercent >= 90)
      why.push('the lab server was saturated: the fanout rate is above its capacity');
    if (lab.loadCpuPercent >= 90) why.push('the load generator was saturated in the lab run');
    const cost = fanout.ratios.cpuMsPer1000?.value ?? null;
    if (lab.cpuPercent < 90 && lab.loadCpuPercent < 90 && cost !== null && cost < FAIR_P99) {
      const messages = Math.max(1, Math.round((lab.delivered * 0.01) / Math.max(1, lab.users)));
      why.push(
        `neither process was saturated and the lab spent about the bare's CPU per message: the p99 ` +
          `rests on the slowest 1 % of deliveries, about ${messages} message(s) to everyone, so one ` +
          'stall makes it; --runs 3 tells such a gap from noise',
      );
    }
  }
  return {
    capacityRatio: capacityFigure,
    capacityBasis,
    fanoutP99Ratio: fanoutFigure,
    pass,
    why,
  };
}

/**
 * The capacity ratio of one run: the cost of a delivery on each server at one offered rate, bare
 * over lab (how many deliveries the lab's server makes of one CPU second for every one of the
 * bare's), from the interleaved rounds lab and bare ran at that rate after their climbs
 * (capacity.ts): one value per round. The climbs' own capacities are a step of the search apart
 * (×2, narrowed twice: 19 %), too coarse for a ratio to repeat within 0.1, and while the load
 * generator stops them they measure it, not the server. Without rounds (no rate both climbs
 * could be compared at): the measured capacities when the load generator stopped neither climb,
 * else the climbs' steps.
 */
export function capacityCheck(
  lab: Measurement | null | undefined,
  bare: Measurement | null | undefined,
): { values: RatioValue[]; capacityBasis: string | null } {
  if (!lab?.capacity || !bare?.capacity) {
    return { values: [{ why: 'capacity not measured on both' }], capacityBasis: null };
  }
  const one = (value: number | null, capacityBasis: string) => ({
    values: [
      value === null || value <= 0
        ? { why: 'server CPU per delivery too small to measure' }
        : value,
    ],
    capacityBasis,
  });
  const labRounds = lab.capacity.compared;
  const bareRounds = bare.capacity.compared;
  if (labRounds && bareRounds && labRounds.ratePerS === bareRounds.ratePerS) {
    const values = labRounds.cpuMsPer1000.map((labCpu, i): RatioValue => {
      const bareCpu = bareRounds.cpuMsPer1000[i];
      if (labCpu == null || bareCpu == null || labCpu <= 0 || bareCpu <= 0) {
        return { why: 'server CPU too small to measure in a round' };
      }
      return bareCpu / labCpu;
    });
    return {
      values,
      capacityBasis:
        `CPU per delivery at ${Math.round(labRounds.ratePerS)} msg/s, ` +
        `${values.length} interleaved round(s) of ${labRounds.windowMs / 1000} s`,
    };
  }
  if (!lab.capacity.loadBound && !bare.capacity.loadBound) {
    return {
      values: [
        pairRatio({ value: lab.capacity.deliveredPerS }, { value: bare.capacity.deliveredPerS }),
      ],
      capacityBasis: 'measured',
    };
  }
  const stepsWhere = (m: Measurement, keep: (s: CapacityStep) => boolean) =>
    new Map(m.capacity!.steps.filter(keep).map((s) => [s.ratePerS, s]));
  const atSameRate = (keep: (s: CapacityStep) => boolean, basis: string) => {
    const labSteps = stepsWhere(lab, keep);
    const common = [...stepsWhere(bare, keep).values()]
      .filter((s) => labSteps.has(s.ratePerS))
      .sort((a, b) => b.ratePerS - a.ratePerS)[0];
    if (!common) return null;
    return one(
      ratio(common.serverCpuMsPer1000, labSteps.get(common.ratePerS)!.serverCpuMsPer1000),
      `CPU per delivery at ${Math.round(common.ratePerS)} msg/s${basis}`,
    );
  };
  const passed = (s: CapacityStep) => s.pass;
  // The cost of a delivery depends on the rate (long polling answers more events per poll as it
  // rises), so it is compared at one rate: the highest both passed, else the highest both ran
  // with nothing lost or refused (a p99 past the limit there is the saturated load generator's).
  const compared =
    atSameRate(passed, '') ??
    atSameRate(
      (s) => s.lost === 0 && s.sendErrors === 0 && s.serverCpuMsPer1000 !== null,
      ', the highest rate both ran with nothing lost',
    );
  if (compared) return compared;
  // Nothing comparable at one rate (a loss at the first step): each one's highest passing rate.
  const highest = (steps: Map<number, CapacityStep>) =>
    [...steps.values()].sort((a, b) => b.ratePerS - a.ratePerS)[0];
  const labBest = highest(stepsWhere(lab, passed));
  const bareBest = highest(stepsWhere(bare, passed));
  if (!labBest || !bareBest) {
    return { values: [{ why: 'no rate passed on both' }], capacityBasis: null };
  }
  return one(
    ratio(bareBest.serverCpuMsPer1000, labBest.serverCpuMsPer1000),
    `CPU per delivery at ${Math.round(labBest.ratePerS)} (lab) and ` +
      `${Math.round(bareBest.ratePerS)} (bare) msg/s`,
  );
}

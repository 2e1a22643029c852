/**
 * The capacity scenario: the highest rate a room sustains, step by step, on the lab's and the bare
 * server in turn; then, at one rate both passed, rounds of lab and bare in turn that compare what
 * a delivery costs each.
 */
import { sleep } from './crowd.ts';
import type { Sizes } from './options.ts';
import type { Variant } from './processes.ts';
import {
  type CapacityStep,
  emptyDelta,
  emptyReport,
  type Measurement,
  measured,
  measurement,
  open,
  type Pair,
  roundOrder,
  type Sides,
} from './window.ts';

type Plan = Pick<Sizes['capacity'], 'startRate' | 'factor' | 'maxRate' | 'refine'>;

/**
 * One climb, as a state: `next()` is the rate of the next step (null when the climb is over),
 * `record(pass)` its verdict. The rate rises ×factor from the start until a step fails (or
 * falls ÷factor, up to three times, from a first step that fails), then `refine` steps halve the
 * gap between the last pass and the first failure, geometrically. Kept apart from the running so
 * that two climbs can take turns step by step.
 */
export class Climb {
  low = 0;
  high = 0;
  #rate: number;
  #phase: 'up' | 'down' | 'refine' | 'done' = 'up';
  #down = 0;
  #refined = 0;
  readonly #plan: Plan;

  constructor(plan: Plan) {
    this.#plan = plan;
    this.#rate = plan.startRate;
  }

  /** The last rate stepped (or to be stepped). */
  get rate(): number {
    return this.#rate;
  }

  next(): { rate: number; refine: boolean } | null {
    if (this.#phase === 'up' || this.#phase === 'down') return { rate: this.#rate, refine: false };
    if (this.#phase === 'refine' && this.#refined < this.#plan.refine && this.low && this.high) {
      return { rate: Math.sqrt(this.low * this.high), refine: true };
    }
    this.#phase = 'done';
    return null;
  }

  record(pass: boolean): void {
    const step = this.next();
    if (!step) return;
    const { factor, maxRate } = this.#plan;
    if (this.#phase === 'refine') {
      this.#rate = step.rate;
      if (pass) this.low = step.rate;
      else this.high = step.rate;
      this.#refined += 1;
    } else if (this.#phase === 'up') {
      if (pass) {
        this.low = step.rate;
        if (step.rate * factor <= maxRate) this.#rate = step.rate * factor;
        else this.#phase = 'refine';
      } else {
        this.high = step.rate;
        if (this.low) this.#phase = 'refine';
        else {
          this.#phase = 'down';
          this.#rate = step.rate / factor;
        }
      }
    } else if (pass) {
      this.low = step.rate;
      this.#phase = 'refine';
    } else {
      this.high = step.rate;
      this.#down += 1;
      if (this.#down < 3) this.#rate = step.rate / factor;
      else this.#phase = 'refine';
    }
  }
}

/**
 * The rate at which to compare what a delivery costs: the cost depends on the rate (a long poll
 * carries more events per answer as it rises), so both are measured at one. The highest rate of
 * the ×factor ladder both climbs passed (a refining step's rate differs from climb to climb and
 * from run to run: the ladder's do not); else the highest ladder rate both ran with nothing lost
 * or refused; null when there is none.
 */
export function compareRate(lab: CapacityStep[], bare: CapacityStep[]): number | null {
  const pick = (keep: (s: CapacityStep) => boolean) => {
    const rates = new Set(lab.filter((s) => !s.refine && keep(s)).map((s) => s.ratePerS));
    const common = bare.filter((s) => !s.refine && keep(s) && rates.has(s.ratePerS));
    return common.length ? Math.max(...common.map((s) => s.ratePerS)) : null;
  };
  return pick((s) => s.pass) ?? pick((s) => s.lost === 0 && s.sendErrors === 0);
}

/**
 * Both climbs, step by step in turn (who steps first alternates), then `capacity.rounds` rounds
 * at the compared rate, each a warm-up and a window of `capacity.compareMs` per server. A step
 * that fails is run once more and counts as failed only if it fails again: on a shared two-core
 * machine one stall (a garbage collection, a neighbour) can push a short step's p99 past the
 * limit, and a climb that stops there measures the stall, not the server.
 */
export async function capacity(
  sides: Sides,
  sizes: Sizes,
  order: Variant[],
): Promise<Map<Variant, Measurement>> {
  const { users, startRate, maxRate, stepMs, p99LimitMs, rounds, compareMs } = sizes.capacity;
  const warnings = new Map<Variant, string[]>();
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength };
  const warmUp = (pair: Pair, rate: number) =>
    pair.worker.run({ type: 'openLoop', ...phase, ratePerRoom: rate, durationMs: sizes.warmupMs });
  await sides.together(async (pair, v) => {
    warnings.set(
      v,
      await open(pair, sizes, { rooms: 1, usersPerRoom: users, senders: sizes.senders }),
    );
  });
  await sides.inTurn(order, async (pair) => {
    await warmUp(pair, startRate);
  });

  const climbs = new Map<Variant, Climb>();
  const steps = new Map<Variant, CapacityStep[]>();
  const best = new Map<Variant, Measurement>();
  for (const v of order) {
    climbs.set(v, new Climb(sizes.capacity));
    steps.set(v, []);
  }
  const attempt = async (pair: Pair, rate: number, durationMs: number) => {
    const window = await measured(pair, {
      type: 'openLoop',
      ...phase,
      ratePerRoom: rate,
      durationMs,
    });
    const result = measurement(pair.target.transport, users, window, []);
    const p99 = result.latency?.p99 ?? null;
    const pass = result.lost === 0 && result.sendErrors === 0 && p99 !== null && p99 <= p99LimitMs;
    // A failing step may leave a backlog behind: let it drain before the next.
    if (!pass) await sleep(500);
    return { result, p99, pass };
  };
  const step = async (pair: Pair, v: Variant) => {
    const next = climbs.get(v)!.next();
    if (!next) return;
    let tries = 1;
    let { result, p99, pass } = await attempt(pair, next.rate, stepMs);
    if (!pass) {
      tries = 2;
      ({ result, p99, pass } = await attempt(pair, next.rate, stepMs));
    }
    steps.get(v)!.push({
      ratePerS: next.rate,
      p99Ms: p99,
      lost: result.lost,
      sendErrors: result.sendErrors,
      loadCpuPercent: result.loadCpuPercent,
      serverCpuPercent: result.cpuPercent,
      serverCpuMsPer1000: result.cpuMsPer1000,
      pass,
      tries,
      refine: next.refine,
    });
    const top = best.get(v);
    if (pass && (!top || result.deliveredPerS > top.deliveredPerS)) best.set(v, result);
    climbs.get(v)!.record(pass);
  };
  const climbing = () => sides.alive(order).some((v) => climbs.get(v)!.next() !== null);
  for (let k = 0; climbing(); k += 1) await sides.inTurn(roundOrder(order, k), step);

  // Rounds at one rate, lab and bare in turn: the cost comparison the capacity ratio rests on
  // when the load generator stopped a climb (summary.ts, capacityCheck).
  const live = sides.alive(order);
  const rate = live.length === 2 ? compareRate(steps.get('lab')!, steps.get('bare')!) : null;
  const compared = new Map<Variant, (number | null)[]>(live.map((v) => [v, []]));
  for (let r = 0; rate !== null && r < rounds; r += 1) {
    await sides.inTurn(roundOrder(order, r), async (pair, v) => {
      await warmUp(pair, rate);
      const { result } = await attempt(pair, rate, compareMs);
      compared.get(v)!.push(result.cpuMsPer1000);
    });
  }
  await sides.together(async (pair) => {
    await pair.worker.run({ type: 'close' });
  });

  const out = new Map<Variant, Measurement>();
  for (const v of sides.alive(order)) {
    const climb = climbs.get(v)!;
    const top = best.get(v);
    const result =
      top ??
      measurement(
        sides.transport,
        users,
        { report: emptyReport(stepMs), server: emptyDelta(), wallMs: stepMs, readCpuUs: 0 },
        [],
      );
    result.warnings = [...(warnings.get(v) ?? []), ...result.warnings];
    if (!top) result.warnings.push(`no step passed, down to ${climb.rate.toFixed(1)} messages/s`);
    if (!climb.high) result.warnings.push(`every step passed up to --max-rate ${maxRate}`);
    const failed = steps.get(v)!.find((s) => !s.pass);
    result.capacity = {
      ratePerS: top ? climb.low : 0,
      deliveredPerS: top?.deliveredPerS ?? 0,
      loadBound: (failed?.loadCpuPercent ?? 0) >= 90,
      ceilingPerS: top?.cpuMsPer1000 ? 1e6 / top.cpuMsPer1000 : 0,
      steps: steps.get(v)!,
      ...(rate !== null && compared.get(v)!.length === rounds
        ? { compared: { ratePerS: rate, windowMs: compareMs, cpuMsPer1000: compared.get(v)! } }
        : {}),
    };
    out.set(v, result);
  }
  return out;
}

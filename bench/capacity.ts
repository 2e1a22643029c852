/** The capacity scenario: the highest rate a room sustains, step by step. */
import { sleep } from './crowd.ts';
import type { Sizes } from './options.ts';
import {
  type CapacityStep,
  emptyDelta,
  emptyReport,
  type Measurement,
  measured,
  measurement,
  open,
  type Pair,
} from './window.ts';

/**
 * Raises the rate of one room step by step (times `factor`) until p99 passes the limit or a
 * message is lost or refused, then narrows the gap between the last pass and the first failure.
 * The capacity is the highest passing step's delivered messages/s. A step that fails is run once
 * more and counts as failed only if it fails again: on a shared two-core machine one stall (a
 * garbage collection, a neighbour) can push a short step's p99 past the limit, and a climb that
 * stops there measures the stall, not the server.
 */
export async function capacity(pair: Pair, sizes: Sizes) {
  const { users, startRate, factor, maxRate, stepMs, refine, p99LimitMs } = sizes.capacity;
  const warnings = await open(pair, sizes, {
    rooms: 1,
    usersPerRoom: users,
    senders: sizes.senders,
  });
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength, durationMs: stepMs };
  await pair.worker.run({
    type: 'openLoop',
    ...phase,
    ratePerRoom: startRate,
    durationMs: sizes.warmupMs,
  });
  const steps: CapacityStep[] = [];
  let best: Measurement | undefined;
  const attempt = async (rate: number) => {
    const window = await measured(pair, { type: 'openLoop', ...phase, ratePerRoom: rate });
    const result = measurement(pair.target.transport, users, window, []);
    const p99 = result.latency?.p99 ?? null;
    const pass = result.lost === 0 && result.sendErrors === 0 && p99 !== null && p99 <= p99LimitMs;
    // A failing step may leave a backlog behind: let it drain before the next.
    if (!pass) await sleep(500);
    return { result, p99, pass };
  };
  const step = async (rate: number) => {
    let tries = 1;
    let { result, p99, pass } = await attempt(rate);
    if (!pass) {
      tries = 2;
      ({ result, p99, pass } = await attempt(rate));
    }
    steps.push({
      ratePerS: rate,
      p99Ms: p99,
      lost: result.lost,
      sendErrors: result.sendErrors,
      loadCpuPercent: result.loadCpuPercent,
      serverCpuPercent: result.cpuPercent,
      serverCpuMsPer1000: result.cpuMsPer1000,
      pass,
      tries,
    });
    if (pass && (!best || result.deliveredPerS > best.deliveredPerS)) best = result;
    return pass;
  };
  let low = 0;
  let high = 0;
  let rate = startRate;
  if (await step(rate)) {
    low = rate;
    while (rate * factor <= maxRate) {
      rate *= factor;
      if (!(await step(rate))) break;
      low = rate;
    }
    high = low === rate ? 0 : rate;
  } else {
    high = rate;
    for (let tries = 0; tries < 3 && !low; tries += 1) {
      rate /= factor;
      if (await step(rate)) low = rate;
      else high = rate;
    }
  }
  for (let i = 0; i < refine && low && high; i += 1) {
    const middle = Math.sqrt(low * high);
    if (await step(middle)) low = middle;
    else high = middle;
  }
  await pair.worker.run({ type: 'close' });
  const failed = steps.find((s) => !s.pass);
  const result =
    best ??
    measurement(
      pair.target.transport,
      users,
      { report: emptyReport(stepMs), server: emptyDelta(), wallMs: stepMs },
      [],
    );
  result.warnings = [...warnings, ...result.warnings];
  if (!best) result.warnings.push(`no step passed, down to ${rate.toFixed(1)} messages/s`);
  if (!high) result.warnings.push(`every step passed up to --max-rate ${maxRate}`);
  result.capacity = {
    ratePerS: best ? low : 0,
    deliveredPerS: best?.deliveredPerS ?? 0,
    loadBound: (failed?.loadCpuPercent ?? 0) >= 90,
    ceilingPerS: best?.cpuMsPer1000 ? 1e6 / best.cpuMsPer1000 : 0,
    steps,
  };
  return result;
}

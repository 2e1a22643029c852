/**
 * The scenarios, each run the same way against the lab's server and a bare baseline, both open at
 * once: open both crowds, let the joins settle, then measure in interleaved rounds (lab, bare,
 * bare, lab, ...), each a warm-up and one window between two `/api/stats` snapshots, so that
 * whatever drifts on a shared machine weighs on both alike. Sizes are in `Sizes` (options.ts);
 * every figure a scenario reports is a `Measurement`.
 */
import { capacity } from './capacity.ts';
import type { Job } from './load.ts';
import type { PairedScenario, Sizes } from './options.ts';
import type { Variant } from './processes.ts';
import {
  combineRounds,
  type Measurement,
  measured,
  measurement,
  open,
  type Pair,
  roundOrder,
  type Sides,
} from './window.ts';

/** One scenario on both servers: each one's figures, and the rounds they were made of. */
export interface PairedResult {
  measurements: Map<Variant, Measurement>;
  /** The interleaved rounds, lab's and bare's of each (none for capacity: its rounds are inside). */
  rounds: Partial<Record<Variant, Measurement>>[];
}

export async function runPaired(
  name: Exclude<PairedScenario, 'idle'>,
  sides: Sides,
  sizes: Sizes,
  order: Variant[],
): Promise<PairedResult> {
  switch (name) {
    case 'latency':
      return openLoop(sides, sizes, order, 1, sizes.latency.users, sizes.latency.rate);
    case 'fanout':
      return openLoop(sides, sizes, order, 1, sizes.fanout.users, sizes.fanout.rate);
    case 'rooms':
      return openLoop(sides, sizes, order, sizes.rooms.rooms, sizes.rooms.users, sizes.rooms.rate);
    case 'send':
      return send(sides, sizes, order);
    case 'capacity':
      return { measurements: await capacity(sides, sizes, order), rounds: [] };
  }
}

/**
 * The crowd on both servers, then `sizes.rounds` rounds in turn of a warm-up and a window of
 * duration / rounds: the same measured time as one window, split so that lab and bare alternate.
 */
async function rounds(
  sides: Sides,
  sizes: Sizes,
  order: Variant[],
  crowd: { rooms: number; usersPerRoom: number; senders: number },
  job: (durationMs: number) => Job,
): Promise<PairedResult> {
  const warnings = new Map<Variant, string[]>();
  await sides.together(async (pair, v) => {
    warnings.set(v, await open(pair, sizes, crowd));
  });
  const windowMs = sizes.durationMs / sizes.rounds;
  const done: Partial<Record<Variant, Measurement>>[] = [];
  for (let r = 0; r < sizes.rounds; r += 1) {
    const round: Partial<Record<Variant, Measurement>> = {};
    await sides.inTurn(roundOrder(order, r), async (pair: Pair, v) => {
      await pair.worker.run(job(sizes.warmupMs));
      const window = await measured(pair, job(windowMs));
      round[v] = measurement(pair.target.transport, crowd.rooms * crowd.usersPerRoom, window, []);
    });
    done.push(round);
  }
  await sides.together(async (pair) => {
    await pair.worker.run({ type: 'close' });
  });
  const measurements = new Map<Variant, Measurement>();
  for (const v of sides.alive(order)) {
    const own = done.map((round) => round[v]).filter((m): m is Measurement => !!m);
    if (own.length === 0) continue;
    const m = combineRounds(own);
    m.warnings = [...(warnings.get(v) ?? []), ...m.warnings];
    measurements.set(v, m);
  }
  return { measurements, rounds: done };
}

function openLoop(
  sides: Sides,
  sizes: Sizes,
  order: Variant[],
  rooms: number,
  users: number,
  rate: number,
) {
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength, ratePerRoom: rate };
  return rounds(
    sides,
    sizes,
    order,
    { rooms, usersPerRoom: users, senders: sizes.senders },
    (durationMs) => ({ type: 'openLoop', ...phase, durationMs }),
  );
}

/**
 * The way up at full speed (closed loop): autocannon on POST /room/:id/chat for polling and SSE,
 * whose way up it is; for ws and Socket.IO, `senders` clients each sending their next message on
 * the acknowledgement of the last. Every sender (or the one POSTing user) also receives.
 */
function send(sides: Sides, sizes: Sizes, order: Variant[]) {
  const transport = sides.transport;
  const post = transport === 'polling' || transport === 'sse';
  const users = post ? 1 : sizes.senders;
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength };
  return rounds(
    sides,
    sizes,
    order,
    { rooms: 1, usersPerRoom: users, senders: users },
    (durationMs): Job =>
      post
        ? { type: 'post', connections: sizes.send.connections, ...phase, durationMs }
        : { type: 'closedLoop', ...phase, durationMs },
  );
}

/**
 * The scenarios, each run the same way against the lab's server and a bare baseline: open a
 * crowd, let the joins settle, warm up, then measure one window between two `/api/stats`
 * snapshots. Sizes are in `Sizes` (options.ts); every figure a scenario reports is a `Measurement`.
 */
import { capacity } from './capacity.ts';
import { runIdle } from './idle.ts';
import type { Job } from './load.ts';
import type { PairedScenario, Sizes } from './options.ts';
import { measured, measurement, open, type Pair } from './window.ts';

export async function runScenario(name: PairedScenario, pair: Pair, sizes: Sizes) {
  switch (name) {
    case 'idle': {
      const [result] = await runIdle([pair], sizes);
      if (result instanceof Error) throw result;
      return result!;
    }
    case 'latency':
      return openLoop(pair, sizes, 1, sizes.latency.users, sizes.latency.rate);
    case 'fanout':
      return openLoop(pair, sizes, 1, sizes.fanout.users, sizes.fanout.rate);
    case 'rooms':
      return openLoop(pair, sizes, sizes.rooms.rooms, sizes.rooms.users, sizes.rooms.rate);
    case 'send':
      return send(pair, sizes);
    case 'capacity':
      return capacity(pair, sizes);
  }
}

async function openLoop(pair: Pair, sizes: Sizes, rooms: number, users: number, rate: number) {
  const warnings = await open(pair, sizes, { rooms, usersPerRoom: users, senders: sizes.senders });
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength, ratePerRoom: rate };
  await pair.worker.run({ type: 'openLoop', ...phase, durationMs: sizes.warmupMs });
  const window = await measured(pair, { type: 'openLoop', ...phase, durationMs: sizes.durationMs });
  await pair.worker.run({ type: 'close' });
  return measurement(pair.target.transport, rooms * users, window, warnings);
}

/**
 * The way up at full speed (closed loop): autocannon on POST /room/:id/chat for polling and SSE,
 * whose way up it is; for ws and Socket.IO, `senders` clients each sending their next message on
 * the acknowledgement of the last. Every sender (or the one POSTing user) also receives.
 */
async function send(pair: Pair, sizes: Sizes) {
  const post = pair.target.transport === 'polling' || pair.target.transport === 'sse';
  const users = post ? 1 : sizes.senders;
  const warnings = await open(pair, sizes, { rooms: 1, usersPerRoom: users, senders: users });
  const phase = { graceMs: sizes.graceMs, textLength: sizes.textLength };
  const job = (durationMs: number): Job =>
    post
      ? { type: 'post', connections: sizes.send.connections, ...phase, durationMs }
      : { type: 'closedLoop', ...phase, durationMs };
  await pair.worker.run(job(sizes.warmupMs));
  const window = await measured(pair, job(sizes.durationMs));
  await pair.worker.run({ type: 'close' });
  return measurement(pair.target.transport, users, window, warnings);
}

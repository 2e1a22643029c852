/**
 * The bench's own numbers, checked against answers worked out by hand: a tiny scenario on the
 * real server (and on the bare ws baseline) whose deliveries and bytes on the wire can be counted
 * from PROTOCOL.md, and the percentile, median and ratio arithmetic on fixed inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../test/support/server.ts';
import { NO_REDIS, REDIS_INSTALLED, runSetup, startSetup } from './cluster.ts';
import { Deliveries } from './deliveries.ts';
import { type Job, LoadGenerator, type PhaseReport } from './load.ts';
import {
  delta,
  median,
  medianOf,
  newHistogram,
  percentiles,
  ratio,
  recordMs,
  type ServerStats,
  serverFigures,
} from './metrics.ts';
import { parseOptions, SCENARIO_NAMES, type Sizes } from './options.ts';
import { type ClusterEntry, capacityCheck, summarize } from './summary.ts';
import type { Measurement } from './window.ts';

/** A WebSocket frame's bytes for a text payload: 2 bytes, +2 past 125 bytes, +4 of mask from a client. */
function wsFrame(payload: string, fromClient: boolean): number {
  const length = Buffer.byteLength(payload);
  return length + 2 + (length > 125 ? 2 : 0) + (fromClient ? 4 : 0);
}

/**
 * A message as the server stores it (PROTOCOL.md, Objects), with fields of the real lengths: the
 * lab's carry the sender's `userId` (22 characters: 16 random bytes), the bare baseline's do not.
 */
function message(room: string, seq: number, user: string, chat: string, withUserId: boolean) {
  return {
    room,
    user,
    ...(withUserId ? { userId: 'u'.repeat(22) } : {}),
    kind: 'chat',
    chat,
    id: 'i'.repeat(16),
    seq,
    createdAt: new Date().toISOString(),
  };
}

const TEXT_LENGTH = 48;

/**
 * 1 room, 2 users, 5 messages sent by the first user over ws with a `ref`: 5 × 2 = 10 deliveries.
 * Down, each delivery is one `chat` frame, and each send is answered by one `sent` frame; up, each
 * send is one masked `chat` frame.
 */
async function knownAnswer(
  baseUrl: string,
  firstSeq: number,
  user: (i: number) => string,
  withUserId: boolean,
) {
  const load = new LoadGenerator();
  const stats = async () => (await (await fetch(`${baseUrl}/api/stats`)).json()) as ServerStats;
  await load.run({
    type: 'open',
    spec: { baseUrl, transport: 'ws', rooms: 1, usersPerRoom: 2, senders: 1 },
  });
  await load.run({ type: 'settle', quietMs: 200, maxMs: 10_000 });
  const first = await stats();
  const before = await stats();
  const overhead = {
    requests: before.http!.requests - first.http!.requests,
    bytesIn: before.http!.bytesIn - first.http!.bytesIn,
    bytesOut: before.http!.bytesOut - first.http!.bytesOut,
  };
  const report = (await load.run({
    type: 'openLoop',
    ratePerRoom: 10,
    durationMs: 500,
    graceMs: 5000,
    textLength: TEXT_LENGTH,
  })) as PhaseReport;
  const after = await stats();
  await load.run({ type: 'close' });
  const server = delta(before, after, 'ws', overhead);
  const figures = serverFigures(server, 'ws', {
    delivered: report.delivered,
    sent: 5,
    wallMs: 500,
  });

  let down = 0;
  let up = 0;
  for (let i = 0; i < 5; i += 1) {
    // The bench's text: the phase tag, the index, then filler up to 48 characters.
    const text = `p1:${i}|`.padEnd(TEXT_LENGTH, '.');
    // Room ids are 12 characters of base64url (9 random bytes), on both servers.
    const room = 'r'.repeat(12);
    const stored = message(room, firstSeq + i, user(i), text, withUserId);
    down += 2 * wsFrame(JSON.stringify({ type: 'chat', id: stored.seq, data: stored }), false);
    down += wsFrame(
      JSON.stringify({ type: 'sent', data: { ref: `r${i + 1}`, message: stored } }),
      false,
    );
    up += wsFrame(JSON.stringify({ type: 'chat', room, chat: text, ref: `r${i + 1}` }), true);
  }
  return { report, figures, down, up, server };
}

describe('the known answer: 1 room, 2 users, 5 messages on ws', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ transport: 'ws' });
  });
  afterAll(() => server.close());

  it('counts 10 deliveries, nothing lost or repeated, and the bytes PROTOCOL.md puts on the wire', async () => {
    // Two joins came first (seq 1 and 2), so the chats are seq 3 to 7.
    const { report, figures, down, up } = await knownAnswer(server.url, 3, () => '#aaaaaa', true);
    expect(report).toMatchObject({
      sent: 5,
      expected: 10,
      delivered: 10,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      sendErrors: 0,
    });
    expect(report.latency?.count).toBe(10);
    expect(report.ack?.count).toBe(5);
    expect(figures.bytesDownPerDelivered).toBe(down / 10);
    expect(figures.bytesUpPerSent).toBe(up / 5);
    expect(figures.requestsPerDelivered).toBe(0);
  });
});

describe('the known answer on the bare ws baseline', () => {
  it('puts the same bytes on the wire as the lab for the same messages', async () => {
    const baseline = await startBaseline();
    try {
      // No joins on a bare server: the chats are seq 1 to 5, all from #000000.
      const { report, figures, down, up } = await knownAnswer(
        baseline.url,
        1,
        () => '#000000',
        false,
      );
      expect(report).toMatchObject({ delivered: 10, lost: 0, duplicates: 0, outOfOrder: 0 });
      expect(figures.bytesDownPerDelivered).toBe(down / 10);
      expect(figures.bytesUpPerSent).toBe(up / 5);
    } finally {
      await baseline.stop();
    }
  });
});

async function startBaseline() {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/baselines/ws.ts', '--port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((done, fail) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) done(match[1]!);
    });
    child.once('exit', (code) => fail(new Error(`the ws baseline exited (${code})`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

describe('the arithmetic', () => {
  it('reads percentiles of 1..100 ms off the histogram, within its 3 significant digits', () => {
    const histogram = newHistogram();
    for (let ms = 1; ms <= 100; ms += 1) recordMs(histogram, ms);
    const p = percentiles(histogram)!;
    expect(p.count).toBe(100);
    for (const [got, want] of [
      [p.p50, 50],
      [p.p90, 90],
      [p.p95, 95],
      [p.p99, 99],
      [p.max, 100],
      [p.mean, 50.5],
    ] as const) {
      expect(Math.abs(got - want) / want).toBeLessThan(0.001);
    }
    expect(percentiles(newHistogram())).toBeNull();
  });

  it('takes medians and ratios, and the worst of the runs for losses', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(null, 1)).toBeNull();
    const runs = [
      { lost: 0, p99: 10, latency: { p50: 1 } },
      { lost: 2, p99: 30, latency: { p50: 3 } },
      { lost: 0, p99: 20, latency: { p50: 2 } },
    ];
    expect(medianOf(runs)).toEqual({ lost: 2, p99: 20, latency: { p50: 2 } });
  });

  it('derives per-message figures from two stats snapshots, less what a stats read costs', () => {
    const snapshot = (cpu: number, out: number, requests: number, httpIn: number): ServerStats => ({
      rssBytes: 100,
      cpuUserUs: cpu,
      cpuSystemUs: cpu,
      members: 0,
      transports: { polling: { connections: 0, requests, bytesIn: 0, bytesOut: out } },
      http: { requests: 10 + requests, bytesIn: httpIn, bytesOut: 0 },
    });
    const server = delta(snapshot(1000, 0, 0, 0), snapshot(6000, 40_000, 100, 20_300), 'polling', {
      requests: 1,
      bytesIn: 300,
      bytesOut: 0,
    });
    // 100 polls and 99 POSTs (+1 stats read, taken off); 200 deliveries of 50 sent messages.
    const figures = serverFigures(server, 'polling', { delivered: 200, sent: 50, wallMs: 1000 });
    expect(figures).toMatchObject({
      cpuMsPer1000: 50,
      cpuPercent: 1,
      bytesDownPerDelivered: 200,
      bytesUpPerSent: 400,
      requestsPerDelivered: 199 / 200,
    });
  });

  it('counts a delivery once, a repeat as a duplicate, a step back as out of order', () => {
    const deliveries = new Deliveries('p9:', 20);
    const a = deliveries.schedule(0, 2);
    const b = deliveries.schedule(0, 2);
    deliveries.receive(a, 'new', 5);
    deliveries.receive(a, 'duplicate', 6);
    deliveries.receive(b, 'new', 7);
    deliveries.receive(a, 'back', 8);
    deliveries.receive('p1:0|from another phase', 'new', 9);
    const report = deliveries.report();
    expect(report).toMatchObject({
      expected: 4,
      delivered: 3,
      lost: 1,
      duplicates: 1,
      outOfOrder: 1,
    });
    expect(report.latency).toMatchObject({ count: 3, max: 8 });
    expect(a).toHaveLength(20);
  });
});

describe('the capacity check', () => {
  /** Each step as `'<rate> pass|fail <server CPU ms per 1000 deliveries>[ lost <n>]'`. */
  const climb = (loadBound: boolean, deliveredPerS: number, steps: string[]) =>
    ({
      capacity: {
        ratePerS: 0,
        deliveredPerS,
        loadBound,
        ceilingPerS: 0,
        steps: steps.map((step) => {
          const [rate, verdict, cpuMs, , lost] = step.split(' ');
          return {
            ratePerS: Number(rate),
            pass: verdict === 'pass',
            serverCpuMsPer1000: Number(cpuMs),
            p99Ms: 1,
            lost: Number(lost ?? 0),
            sendErrors: 0,
            loadCpuPercent: 50,
            serverCpuPercent: 50,
            tries: 1,
            refine: false,
          };
        }),
      },
    }) as unknown as Measurement;

  const CASES = [
    {
      case: 'compares measured capacities when the load generator stopped neither climb',
      lab: climb(false, 3000, ['40 pass 10']),
      bare: climb(false, 4000, ['40 pass 5']),
      capacityRatio: 0.75,
      capacityBasis: 'measured',
    },
    {
      case: 'compares the CPU per delivery at the highest rate both passed when the load stopped one',
      lab: climb(true, 5000, ['40 pass 12', '80 pass 10', '160 fail 9']),
      bare: climb(true, 9000, ['40 pass 6', '80 pass 5', '160 pass 4']),
      capacityRatio: 0.5,
      capacityBasis: 'CPU per delivery at 80 msg/s',
    },
    {
      case: 'without a rate both passed, compares the CPU per delivery at the highest rate both ran',
      lab: climb(true, 4000, ['40 pass 15', '80 fail 14', '57 fail 14', '48 pass 12']),
      bare: climb(true, 3000, ['40 fail 6', '20 pass 7', '34 pass 6']),
      capacityRatio: 0.4,
      capacityBasis: 'CPU per delivery at 40 msg/s, the highest rate both ran with nothing lost',
    },
    {
      case: 'with losses at every common rate, compares the CPU per delivery at the highest each passed',
      lab: climb(true, 4000, ['40 fail 15 lost 3', '20 pass 12']),
      bare: climb(true, 3000, ['40 pass 8', '80 pass 6']),
      capacityRatio: 0.5,
      capacityBasis: 'CPU per delivery at 20 (lab) and 80 (bare) msg/s',
    },
  ];
  for (const { case: name, lab, bare, capacityRatio, capacityBasis } of CASES) {
    it(name, () => {
      expect(capacityCheck(lab, bare)).toEqual({ values: [capacityRatio], capacityBasis });
    });
  }

  it('compares the CPU per delivery of the interleaved rounds, one value a round, when both ran them', () => {
    const lab = climb(true, 5000, ['40 pass 12', '80 pass 10', '160 fail 9']);
    const bare = climb(true, 9000, ['40 pass 6', '80 pass 5', '160 pass 4']);
    const rounds = (cpuMsPer1000: (number | null)[]) => ({
      ratePerS: 80,
      windowMs: 3000,
      cpuMsPer1000,
    });
    lab.capacity!.compared = rounds([10, 8, 10]);
    bare.capacity!.compared = rounds([5, 6, null]);
    expect(capacityCheck(lab, bare)).toEqual({
      values: [0.5, 0.75, { why: 'server CPU too small to measure in a round' }],
      capacityBasis: 'CPU per delivery at 80 msg/s, 3 interleaved round(s) of 3 s',
    });
    // The rounds, not the climbs a step of the search apart, also when the server stopped both.
    lab.capacity!.loadBound = false;
    bare.capacity!.loadBound = false;
    expect(capacityCheck(lab, bare).values).toEqual([
      0.5,
      0.75,
      { why: 'server CPU too small to measure in a round' },
    ]);
  });
});

describe('the scenario list', () => {
  it('runs cluster by default and alone with --scenarios cluster, in --quick at small sizes', () => {
    const all = parseOptions([]);
    const quick = parseOptions(['--quick']);
    expect(all !== 'help' && all.scenarios).toEqual([...SCENARIO_NAMES]);
    expect(SCENARIO_NAMES).toContain('cluster');
    expect(quick !== 'help' && quick.scenarios).toContain('cluster');
    expect(quick !== 'help' && quick.sizes.cluster).toEqual({ users: 25, rate: 20 });
    const alone = parseOptions(['--scenarios', 'cluster']);
    expect(alone !== 'help' && alone.scenarios).toEqual(['cluster']);
  });
});

describe('the cluster summary', () => {
  /** A setup's figures: total CPU µs per delivery and what went wrong. */
  const setup = (totalCpuMsPer1000: number | null, lost = 0) =>
    ({
      lost,
      duplicates: 0,
      outOfOrder: 0,
      sendErrors: 0,
      loadCpuPercent: 10,
      warnings: [],
      cluster: { processes: 1, redisCpuMsPer1000: null, totalCpuMsPer1000, totalCpuPercent: 5 },
    }) as unknown as Measurement;
  const summary = (setups: ClusterEntry['setups'], errors: string[] = []) =>
    summarize([{ cluster: { ws: { setups, errors } } }], {
      schema: 2,
      date: '',
      command: '',
      quick: true,
      wallS: 0,
      machine: {},
      node: '',
      libraries: {},
      pinning: '',
      pinned: true,
      runs: 1,
      transports: ['ws'],
      scenarios: ['cluster'],
      sizes: {} as Sizes,
    });

  it('gives the CPU per delivery of (b) and (c) over (a), and none over an (a) of nothing', () => {
    const good = summary({ oneMemory: setup(10), oneRedis: setup(15), twoRedis: setup(22) });
    expect(good.results.cluster?.ws?.ratios).toEqual({
      oneRedis: { value: 1.5, min: 1.5, max: 1.5, n: 1, over: 'runs' },
      twoRedis: { value: 2.2, min: 2.2, max: 2.2, n: 1, over: 'runs' },
    });
    expect(good.problems).toEqual([]);
    const none = summary({ oneMemory: setup(null), oneRedis: setup(15), twoRedis: null }, [
      'twoRedis: the lab ws server exited',
    ]);
    expect(none.results.cluster?.ws?.ratios).toEqual({
      oneRedis: { value: null, why: 'not measured on both' },
      twoRedis: { value: null, why: 'not measured on both' },
    });
    expect(none.problems).toEqual([
      'cluster ws twoRedis: missing (twoRedis: the lab ws server exited)',
    ]);
  });

  it('puts a loss in any setup under the problems', () => {
    const lossy = summary({ oneMemory: setup(10), oneRedis: setup(15), twoRedis: setup(22, 3) });
    expect(lossy.problems).toEqual([
      'cluster ws twoRedis: 3 deliveries lost (not received by the end of the grace)',
    ]);
  });
});

describe.skipIf(!REDIS_INSTALLED)('the cluster on two processes and one redis-server', () => {
  it('splits the room evenly between the processes, delivers every message once, and counts redis-server', async () => {
    const servers = await startSetup('twoRedis', 'ws', null);
    try {
      const options = parseOptions(['--quick']);
      if (options === 'help') throw new Error('no options');
      const sizes = { ...options.sizes, cluster: { users: 4, rate: 10 }, senders: 4 };
      const load = new LoadGenerator();
      const worker = { run: <T>(job: Job) => load.run(job) as Promise<T>, stop: async () => {} };
      const result = await runSetup(servers, 'ws', worker, sizes);
      // 5 messages (10/s for 0.5 s) to 4 users.
      expect(result).toMatchObject({ expected: 20, delivered: 20, lost: 0, duplicates: 0 });
      expect(result.outOfOrder).toBe(0);
      expect(result.cluster?.processes).toBe(2);
      expect(result.cluster?.redisCpuMsPer1000).toBeGreaterThan(0);
      // Five messages may cost the servers less CPU than the stats reads' noise: then no total.
      if (result.tooSmall?.cpu) {
        expect(result.cpuMsPer1000).toBeNull();
        expect(result.cluster?.totalCpuMsPer1000).toBeNull();
      } else {
        expect(result.cluster?.totalCpuMsPer1000).toBeCloseTo(
          result.cpuMsPer1000! + result.cluster!.redisCpuMsPer1000!,
          6,
        );
      }
      // Both processes counted the 4 members; each upgraded its 2 of the 4 users.
      expect(result.warnings).toEqual([]);
      for (const url of servers.urls) {
        const stats = (await (await fetch(`${url}/api/stats`)).json()) as ServerStats;
        expect(stats.transports.ws?.requests).toBe(2);
      }
    } finally {
      await servers.stop();
    }
  }, 60_000);
});
if (!REDIS_INSTALLED) console.info(NO_REDIS);

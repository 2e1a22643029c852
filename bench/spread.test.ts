/**
 * What a measurement cannot tell, shown as such: ratios and their spreads over the repeats, the
 * figures too small to measure, and the interleaved climbs of the capacity scenario.
 */
import { describe, expect, it } from 'vitest';
import { Climb, compareRate } from './capacity.ts';
import { cpuTooSmall, medianOf, perConnection } from './metrics.ts';
import { parseOptions, type Sizes } from './options.ts';
import { formatRatio, pairRatio, spreadOf } from './spread.ts';
import { type BenchResults, summarize } from './summary.ts';
import { tableNotes, tableRows } from './tables.ts';
import { type CapacityStep, combineRounds, type Measurement, roundOrder } from './window.ts';

describe('a ratio', () => {
  const CASES = [
    { case: 'of two positive figures', lab: { value: 3 }, bare: { value: 2 }, want: 1.5 },
    {
      case: 'over a bare 0',
      lab: { value: 3 },
      bare: { value: 0 },
      want: { why: 'the bare figure is 0' },
    },
    { case: 'of two 0s', lab: { value: 0 }, bare: { value: 0 }, want: { why: 'both are 0' } },
    {
      case: 'over a negative figure',
      lab: { value: 4.3 },
      bare: { value: -4.3 },
      want: { why: 'a figure is negative' },
    },
    {
      case: 'of a negative figure',
      lab: { value: -3.8 },
      bare: { value: 1 },
      want: { why: 'a figure is negative' },
    },
    {
      case: 'of a figure too small to measure',
      lab: { value: 5 },
      bare: { value: 0.1, tooSmall: 'server CPU too small to measure' },
      want: { why: 'bare server CPU too small to measure' },
    },
    {
      case: 'of a missing figure',
      lab: { value: null },
      bare: { value: 1 },
      want: { why: 'not measured on both' },
    },
  ];
  for (const { case: name, lab, bare, want } of CASES) {
    it(name, () => expect(pairRatio(lab, bare)).toEqual(want));
  }
});

describe('the spread over the repeats', () => {
  it('is over the runs, each run the median of its rounds', () => {
    expect(spreadOf([[0.9, 1.0, 0.95], [0.8], [0.85, 0.87]])).toEqual({
      value: 0.86,
      min: 0.8,
      max: 0.95,
      n: 3,
      over: 'runs',
    });
  });

  it("is over one run's rounds", () => {
    expect(spreadOf([[0.91, 0.97, 0.94]])).toEqual({
      value: 0.94,
      min: 0.91,
      max: 0.97,
      n: 3,
      over: 'rounds',
    });
  });

  it('leaves out the repeats without a ratio, and says why when none has one', () => {
    expect(spreadOf([[{ why: 'the bare figure is 0' }, 2], [{ why: 'both are 0' }]])).toMatchObject(
      {
        value: 2,
        n: 1,
      },
    );
    expect(spreadOf([[{ why: 'a figure is negative' }], [{ why: 'both are 0' }]])).toEqual({
      value: null,
      why: 'a figure is negative',
    });
  });

  it('prints as median (min–max), or — without a ratio', () => {
    expect(formatRatio({ value: 0.94, min: 0.91, max: 0.97, n: 3, over: 'runs' })).toBe(
      '0.94× (0.91–0.97)',
    );
    expect(formatRatio({ value: 0.94, min: 0.94, max: 0.94, n: 1, over: 'runs' })).toBe(
      '0.94× (1 run)',
    );
    expect(formatRatio({ value: null, why: 'both are 0' })).toBe('—');
  });
});

describe('figures too small to measure', () => {
  it('are a CPU within the noise of the stats reads', () => {
    expect(cpuTooSmall(50_000, 400)).toBeUndefined();
    expect(cpuTooSmall(1500, 400)).toMatch(
      /^server CPU too small to measure \(1\.5 ms in the window, under the 2\.0 ms/,
    );
    expect(cpuTooSmall(-200, 0)).toMatch(/too small to measure/);
  });

  it('are a memory per connection that shrank or grew less than the reads resolve', () => {
    expect(perConnection(10 * 1024 * 1000, 1000, 64 * 1024, 'heap')).toEqual({ value: 10 * 1024 });
    const shrank = perConnection(-4.3 * 1024 * 1000, 1000, 1024 * 1024, 'RSS');
    expect(shrank.value).toBeNull();
    expect(shrank.tooSmall).toMatch(
      /^RSS too small to measure \(it shrank by 4\.3 KiB per connection/,
    );
    const small = perConnection(500 * 1000, 1000, 1024 * 1024, 'RSS');
    expect(small.value).toBeNull();
    expect(small.tooSmall).toMatch(/0\.5 KiB per connection, under the 1\.0 KiB the reads resolve/);
  });
});

/** A measurement of the figures the idle and latency tables show. */
function measured(fields: Partial<Measurement>): Measurement {
  return {
    users: 10,
    sent: 10,
    sendErrors: 0,
    expected: 100,
    delivered: 100,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    latency: null,
    ack: null,
    deliveredPerS: 100,
    sendsPerS: 10,
    loadCpuPercent: 10,
    loopDelayP99Ms: 1,
    cpuMsPer1000: 10,
    cpuPercent: 5,
    bytesDownPerDelivered: 200,
    bytesUpPerSent: 300,
    requestsPerDelivered: 0,
    rssBytes: 100 * 2 ** 20,
    warnings: [],
    ...fields,
  };
}

function summary(
  runs: Parameters<typeof summarize>[0],
  scenario: 'idle' | 'latency',
): BenchResults {
  const options = parseOptions(['--quick']);
  return summarize(runs, {
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
    runs: runs.length,
    transports: ['ws'],
    scenarios: [scenario],
    sizes: options === 'help' ? ({} as Sizes) : options.sizes,
  });
}

describe('the report', () => {
  const idle = (heap: number | null, rss: number | null, tooSmall?: Measurement['tooSmall']) =>
    measured({
      ...(tooSmall ? { tooSmall } : {}),
      idle: {
        connections: 2000,
        heapPerConnection: heap,
        rssPerConnection: rss,
        resolution: { heapPerConnection: 64, rssPerConnection: 1024 },
        cpuPercent: 0.7,
        requestsPerS: 0,
        bytesPerS: 533,
      },
    });

  it('shows a memory that shrank as too small, with why, and no ratio of it', () => {
    const results = summary(
      [
        {
          idle: {
            ws: {
              lab: idle(9.4 * 1024, 9.1 * 1024),
              bare: idle(3.7 * 1024, null, {
                rss: 'RSS per connection too small to measure (it shrank)',
              }),
              errors: [],
            },
          },
        },
      ],
      'idle',
    );
    const rows = tableRows('idle', results);
    const column = (title: string) => rows[0]!.indexOf(title);
    expect(rows[2]![column('RSS KiB/conn')]).toBe('too small');
    expect(rows[3]![column('heap KiB/conn')]).toBe('2.54× (1 run)');
    // Nobody polls an idle ws: no requests on either, no ratio.
    expect(rows[3]![column('req/s')]).toBe('—');
    expect(tableNotes('idle', results)).toEqual([
      'ws bare: RSS per connection too small to measure (it shrank); not shown: RSS KiB/conn',
      'ws: — req/s lab÷bare: both are 0',
    ]);
    expect(JSON.stringify(results)).not.toMatch(/:-\d/);
  });

  it("gives each ratio the spread of the run's interleaved rounds, and none of a CPU too small", () => {
    const round = (labCpu: number, bareCpu: number, tooSmall?: string) => ({
      lab: measured({ cpuMsPer1000: labCpu }),
      bare: measured({
        cpuMsPer1000: bareCpu,
        ...(tooSmall ? { tooSmall: { cpu: tooSmall } } : {}),
      }),
    });
    const rounds = [round(12, 10), round(11, 10), round(13, 10)];
    const results = summary(
      [
        {
          latency: {
            ws: {
              lab: combineRounds(rounds.map((r) => r.lab)),
              bare: combineRounds(rounds.map((r) => r.bare)),
              errors: [],
              rounds,
            },
          },
        },
      ],
      'latency',
    );
    expect(results.results.latency?.ws?.ratios.cpuMsPer1000).toEqual({
      value: 1.2,
      min: 1.1,
      max: 1.3,
      n: 3,
      over: 'rounds',
    });
    expect(results.results.latency?.ws?.lab?.delivered).toBe(300);
    const small = [round(12, 0.1, 'server CPU too small to measure (0.1 ms)')];
    const none = summary(
      [
        {
          latency: { ws: { lab: small[0]!.lab, bare: small[0]!.bare, errors: [], rounds: small } },
        },
      ],
      'latency',
    );
    expect(none.results.latency?.ws?.ratios.cpuMsPer1000).toEqual({
      value: null,
      why: 'bare server CPU too small to measure (0.1 ms)',
    });
    const rows = tableRows('latency', none);
    expect(rows[2]![rows[0]!.indexOf('CPU ms/1k')]).toBe('too small');
    expect(rows[3]![rows[0]!.indexOf('CPU ms/1k')]).toBe('—');
  });
});

describe('the median of runs', () => {
  it("keeps one run's capacity rounds whole, never a rate of one run with the costs of another", () => {
    const run = (ratePerS: number, cpuMsPer1000: number[]) => ({
      capacity: { ratePerS: 1, compared: { ratePerS, windowMs: 3000, cpuMsPer1000 } },
    });
    const merged = medianOf([run(160, [10, 11]), run(320, [8, 9])]);
    expect(merged.capacity.compared).toEqual({
      ratePerS: 160,
      windowMs: 3000,
      cpuMsPer1000: [10, 11],
    });
  });
});

describe('interleaving', () => {
  it('alternates who goes first from round to round', () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(['lab', 'bare'], r).join(' '))).toEqual([
      'lab bare',
      'bare lab',
      'lab bare',
      'bare lab',
    ]);
  });

  /** Runs a climb against a server that passes every rate up to `limit`. */
  const climb = (limit: number, refine = 2) => {
    const c = new Climb({ startRate: 40, factor: 2, maxRate: 5000, refine });
    const rates: number[] = [];
    for (let next = c.next(); next; next = c.next()) {
      rates.push(Math.round(next.rate));
      c.record(next.rate <= limit);
    }
    return { rates, low: Math.round(c.low), high: Math.round(c.high) };
  };

  it('climbs ×2 to the first failure, then narrows the gap twice', () => {
    expect(climb(1000)).toEqual({
      rates: [40, 80, 160, 320, 640, 1280, 905, 1076],
      low: 905,
      high: 1076,
    });
  });

  it('falls ÷2 from a first step that fails, at most three times', () => {
    expect(climb(25, 0)).toEqual({ rates: [40, 20], low: 20, high: 40 });
    expect(climb(1, 0)).toEqual({ rates: [40, 20, 10, 5], low: 0, high: 5 });
  });

  it('stops at --max-rate when every step passes', () => {
    expect(climb(1e9).rates).toEqual([40, 80, 160, 320, 640, 1280, 2560]);
  });

  it('compares the costs at the highest ladder rate both passed, not a refining one', () => {
    const step = (ratePerS: number, pass: boolean, refine = false, lost = 0) =>
      ({ ratePerS, pass, refine, lost, sendErrors: 0 }) as CapacityStep;
    const lab = [step(320, true), step(640, true), step(1280, false), step(905, true, true)];
    const bare = [step(320, true), step(640, false), step(453, true, true)];
    expect(compareRate(lab, bare)).toBe(320);
    expect(compareRate([step(40, false)], [step(40, false), step(20, true)])).toBe(40);
    expect(compareRate([step(40, false, false, 3)], [step(40, true)])).toBeNull();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES } from '../../core/model.ts';
import { UsageError } from '../../flags.ts';
import { type Experiment, main, type SlowReadersLab } from './server.ts';

const KiB = 1024;
let lab: SlowReadersLab;
const lines: string[] = [];

beforeAll(async () => {
  lab = await main(['--port', '0'], (line) => lines.push(line));
});
afterAll(() => lab.close());

async function transportStats() {
  const body = (await (await fetch(`${lab.origin}/api/stats`)).json()) as {
    transports: Record<string, Record<string, number>>;
  };
  return body.transports;
}

it('starts the app with a 64 KiB bound, a room, and one live reader per transport, nothing cut off', async () => {
  expect(lab.maxQueueBytes).toBe(64 * KiB);
  expect(lab.readers.map((reader) => reader.transport)).toEqual([...TRANSPORT_NAMES]);
  expect(lines.join('\n')).toContain(`/room/${lab.room}`);
  const stats = await transportStats();
  for (const transport of TRANSPORT_NAMES) {
    expect(stats[transport]!.cutOffs, transport).toBe(0);
    // At most the joins and member lists of a poll in between (polling's seat), never chats.
    expect(stats[transport]!.largestQueueBytes, transport).toBeLessThan(KiB);
  }
  // Each reader's join is its first seq; the readers subscribed from 0 have them all.
  expect(lab.readers.every((reader) => reader.seqs[0] === 1)).toBe(true);
});

describe('s: the readers stop reading and the room is flooded', () => {
  let experiment: Experiment;
  let printed: string;
  beforeAll(async () => {
    const from = lines.length;
    experiment = await lab.experiment();
    printed = lines.slice(from).join('\n');
  }, 60_000);

  it('takes seconds: chats of the maximum length until all four are cut off', () => {
    expect(experiment.ms).toBeLessThan(30_000);
    expect(experiment.runs.every((run) => run.cutOffAfter !== undefined)).toBe(true);
    expect(experiment.posted).toBeLessThan(20_000);
  });

  it.each(TRANSPORT_NAMES)(
    "%s: its reader's queue grows on /api/stats, the bound cuts it off, and it resumes by seq with every seq once",
    async (transport) => {
      const run = experiment.runs.find((r) => r.transport === transport)!;
      // What /api/stats said after each batch: nothing queued, then growing, past zero...
      const growing = run.samples.map((sample) => sample.bytes).filter((bytes) => bytes > 0);
      expect(growing.length, `${transport}: ${JSON.stringify(run.samples)}`).toBeGreaterThan(1);
      expect(growing).toEqual([...growing].sort((a, b) => a - b));
      expect(growing.at(-1)).toBeGreaterThan(growing[0]!);
      // ... never past the bound (long polling: one answer's worth of events), then cut off.
      expect(Math.max(...growing)).toBeLessThanOrEqual(lab.maxQueueBytes * 1.1);
      expect(run.cutOffAfter).toBeGreaterThan(run.samples.at(-1)!.posted - 1);
      expect((await transportStats())[transport]!.cutOffs).toBeGreaterThanOrEqual(1);
      if (transport === 'polling') {
        // Nothing is sent between two polls: the seat is the only queue, and it fills first.
        expect(run.kernelBytes).toBeUndefined();
        expect(run.drained).toBe(0);
      } else {
        // The kernel's buffers took megabytes before the server's own queue grew at all.
        expect(run.kernelBytes).toBeGreaterThan(256 * KiB);
        // The stream ended (the lab waits for its end): what the kernel held is read, then a new
        // one opens from lastSeq. An end that comes as a reset loses what the kernel held (ws,
        // now and then): the resume brings it again.
        expect(run.drained).toBeGreaterThanOrEqual(0);
      }
      expect(run.resumedFrom).toBeGreaterThan(0);
      expect(run.resumedFrom).toBeLessThan(run.last);
      // Every seq from 1 to the newest (the chat posted after the resume), once, no gap.
      expect(run.missing).toEqual([]);
      expect(run.twice).toEqual([]);
      expect(run.last).toBe(Math.max(...lab.readers.map((reader) => Math.max(...reader.seqs))));
      expect(printed).toMatch(
        new RegExp(`^${transport}: .*cut off after ${run.cutOffAfter} chats`, 'm'),
      );
      const resumed =
        transport === 'polling'
          ? `polled again with after=${run.resumedFrom} (its last cursor), one answer at a time`
          : `read ${run.drained} more events, then resumed with after=${run.resumedFrom}`;
      expect(printed).toContain(
        `${transport}: ${resumed}; holds seq 1 to ${run.last}, each once, no gap`,
      );
    },
  );

  it('prints the queues as they grow, one column per transport', () => {
    expect(printed).toMatch(/^ {1}chats {2}polling +sse +ws +socketio/m);
    expect(printed).toMatch(/KiB/);
    expect(printed.match(/cut off\b/g)!.length).toBeGreaterThanOrEqual(8);
  });
});

it('--max-queue takes KiB from 16 to 4096; anything else is a usage error', async () => {
  await expect(main(['--port', '0', '--max-queue', '8'], () => undefined)).rejects.toThrow(
    new UsageError('--max-queue must be a whole number of KiB from 16 to 4096, not "8"'),
  );
  await expect(main(['--port', '0', '--max-queue'], () => undefined)).rejects.toThrow(
    new UsageError('--max-queue needs a value'),
  );
});

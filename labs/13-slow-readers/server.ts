/**
 * Lab 13: slow readers. The app on every transport with a small bound on each client's queue
 * (64 KiB; `--max-queue KIB`) and its limits off, a room, and in this process one reader per
 * transport on the bare wire (readers.ts). In a terminal, type `s` and Enter: the readers stop
 * reading, the room is flooded with chats of the maximum length, `/api/stats` is read after
 * every few chats and each transport's queue for its reader is printed as it grows, until the
 * bound cuts the reader off; then each reader resumes by seq and the lab checks that it holds
 * every seq once, with no gap.
 */
import { createInterface } from 'node:readline';
import { TRANSPORT_NAMES, type TransportName } from '../../core/model.ts';
import { UsageError, wholeNumber } from '../../flags.ts';
import type { TransportStats } from '../../transports/transport.ts';
import { type LabApp, startLabApp } from '../shared/app.ts';
import { type SlowReader, sessionCookie, slowReader } from './readers.ts';

/** PROTOCOL: a chat is at most 2000 characters. The flood sends only those. */
const CHAT = 2000;
/** About what a 2000-character chat weighs as one entry of a poll's answer. */
const POLL_ENTRY_BYTES = 2250;
const KiB = 1024;

export interface SampledQueue {
  /** Chats posted when `/api/stats` was read. */
  posted: number;
  /** The transport's `largestQueueBytes` then: its reader's queue. */
  bytes: number;
}

/** What one transport did in one run of the experiment. */
export interface TransportRun {
  transport: TransportName;
  /** The reader's queue after every batch, from the pause until the cut-off. */
  samples: SampledQueue[];
  /**
   * Bytes the server wrote that the kernel took (its send buffer, the reader's receive buffer,
   * the few KiB the reader had read before it stopped) before the server's own queue grew:
   * `bytesOut` since the pause, less `queuedBytes`, at the first sample with a queue. Long
   * polling has none: nothing is sent between two polls.
   */
  kernelBytes: number | undefined;
  /** Chats posted when its `cutOffs` went up, if it did. */
  cutOffAfter: number | undefined;
  /**
   * Events the reader read when it went on reading, before it opened again: what the kernel still
   * held for it (the seqs after the last one it had read before it stopped).
   */
  drained: number;
  /** Where the reader resumed from (`after`). */
  resumedFrom: number;
  /** What it holds once caught up: 1 to `last`, with what is missing or came twice. */
  last: number;
  missing: number[];
  twice: number[];
}

export interface Experiment {
  posted: number;
  ms: number;
  runs: TransportRun[];
}

export interface SlowReadersLab extends LabApp {
  room: string;
  maxQueueBytes: number;
  readers: SlowReader[];
  /** The experiment: stall, flood until every reader is cut off, resume, check. */
  experiment(options?: { batch?: number; maxPosts?: number }): Promise<Experiment>;
}

/**
 * Flags: those of labs 05 to 08 (labs/shared/app.ts), and `--max-queue KIB` (64): the bound on
 * each client's unsent output, and (in events of the maximum length) on a poll's answer.
 */
export async function main(
  args: string[],
  log: (line: string) => void = console.info,
): Promise<SlowReadersLab> {
  const [maxQueue, rest] = takeFlag(args, '--max-queue');
  const maxQueueBytes = wholeNumber('--max-queue', maxQueue ?? '64', 16, 4096, 'KiB') * KiB;
  const lab = await startLabApp(
    rest,
    {
      name: '13-slow-readers',
      transport: 'all',
      store: 'memory',
      server: {
        limits: false,
        maxQueueBytes,
        maxEventsPerAnswer: Math.max(1, Math.floor(maxQueueBytes / POLL_ENTRY_BYTES)),
      },
    },
    log,
  );
  const { origin } = lab;
  const owner = await sessionCookie(origin);
  const created = await fetch(`${origin}/room`, {
    method: 'POST',
    headers: { cookie: owner, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'slow readers', max: 100 }),
  });
  const { room } = (await created.json()) as { room: { id: string } };
  const transports =
    lab.options.transport === 'all' ? [...TRANSPORT_NAMES] : [lab.options.transport];
  const readers: SlowReader[] = [];
  for (const transport of transports) {
    const reader = slowReader(transport, origin, await sessionCookie(origin), room.id);
    await reader.open(0);
    readers.push(reader);
  }
  log(
    `the room: ${origin}/room/${room.id}, its four readers in this process; the queues: ${origin}/api/stats (bound ${format(maxQueueBytes)})`,
  );
  let running: Promise<Experiment> | undefined;
  const experiment = (options: { batch?: number; maxPosts?: number } = {}) => {
    running ??= flood(origin, owner, room.id, readers, log, options).finally(() => {
      running = undefined;
    });
    return running;
  };
  const close = async () => {
    for (const reader of readers) reader.close();
    await lab.close();
  };
  const slow: SlowReadersLab = { ...lab, room: room.id, maxQueueBytes, readers, experiment, close };
  if (!process.stdin.isTTY) return slow;
  log('type s and Enter to stall the readers and flood the room (Ctrl+C stops the lab)');
  const terminal = createInterface({ input: process.stdin });
  terminal.on('line', (line) => {
    if (line.trim() !== 's') return;
    experiment().catch((error: unknown) => console.error('the experiment failed:', error));
  });
  return {
    ...slow,
    close: () => {
      terminal.close();
      return close();
    },
  };
}

/** The experiment's steps, in order; the log says what each transport does as it happens. */
async function flood(
  origin: string,
  owner: string,
  room: string,
  readers: SlowReader[],
  log: (line: string) => void,
  { batch = 10, maxPosts = 20_000 }: { batch?: number; maxPosts?: number },
): Promise<Experiment> {
  const started = Date.now();
  const names = readers.map((reader) => reader.transport);
  for (const reader of readers) reader.pause();
  const base = await stats(origin);
  const runs = new Map<TransportName, TransportRun>(
    names.map((transport) => [
      transport,
      {
        transport,
        samples: [],
        kernelBytes: undefined,
        cutOffAfter: undefined,
        drained: 0,
        resumedFrom: 0,
        last: 0,
        missing: [],
        twice: [],
      },
    ]),
  );
  log(
    `stalled: the readers stop reading (the poller stops polling); posting ${CHAT}-character chats, ${batch} at a time, and reading /api/stats after each ${batch}`,
  );
  log(
    `${'chats'.padStart(6)}  ${names.map((name) => name.padEnd(12)).join(' ')}  (largestQueueBytes)`,
  );
  const text = 'x'.repeat(CHAT);
  let posted = 0;
  while (posted < maxPosts && [...runs.values()].some((run) => run.cutOffAfter === undefined)) {
    await Promise.all(Array.from({ length: batch }, () => post(origin, owner, room, text)));
    posted += batch;
    const now = await stats(origin);
    const cells: string[] = [];
    let show = posted % 500 === 0;
    for (const run of runs.values()) {
      const counters = now[run.transport];
      const before = base[run.transport];
      if (run.cutOffAfter !== undefined) {
        cells.push('');
        continue;
      }
      if (counters.cutOffs > before.cutOffs) {
        run.cutOffAfter = posted;
        cells.push('cut off');
        show = true;
        continue;
      }
      const bytes = counters.largestQueueBytes;
      run.samples.push({ posted, bytes });
      if (bytes > 0 && run.kernelBytes === undefined && run.transport !== 'polling') {
        run.kernelBytes = counters.bytesOut - before.bytesOut - counters.queuedBytes;
      }
      if (bytes > 0) show = true;
      cells.push(format(bytes));
    }
    if (show) {
      log(`${String(posted).padStart(6)}  ${cells.map((c) => c.padEnd(12)).join(' ')}`.trimEnd());
    }
  }
  for (const run of runs.values()) {
    const largest = Math.max(0, ...run.samples.map((sample) => sample.bytes));
    const kernel =
      run.kernelBytes === undefined
        ? 'nothing is sent between two polls'
        : `the kernel took ${format(run.kernelBytes)} before the server queued anything`;
    const cut =
      run.cutOffAfter === undefined
        ? `not cut off after ${posted} chats`
        : `cut off after ${run.cutOffAfter} chats`;
    log(`${run.transport}: ${kernel}; its queue grew to ${format(largest)}; ${cut}`);
  }

  log('resuming: each reader reads what its kernel kept, then opens again with after=lastSeq');
  for (const reader of readers) {
    const run = runs.get(reader.transport)!;
    const held = reader.seqs.length;
    run.resumedFrom = await reader.resume(run.cutOffAfter !== undefined);
    run.drained = run.resumedFrom - (reader.seqs[held - 1] ?? 0);
  }
  // One more chat after the resume: every reader has everything once it has this one.
  const last = await post(origin, owner, room, 'after the flood');
  await caughtUp(readers, last);
  for (const reader of readers) {
    const run = runs.get(reader.transport)!;
    Object.assign(run, check(reader.seqs));
    const verdict =
      run.missing.length === 0 && run.twice.length === 0
        ? 'each once, no gap'
        : `missing ${run.missing.length}, twice ${run.twice.length}`;
    const resumed =
      reader.transport === 'polling'
        ? `polled again with after=${run.resumedFrom} (its last cursor), one answer at a time`
        : `read ${run.drained} more events, then resumed with after=${run.resumedFrom}`;
    log(`${reader.transport}: ${resumed}; holds seq 1 to ${run.last}, ${verdict}`);
  }
  const ms = Date.now() - started;
  log(`done in ${(ms / 1000).toFixed(1)} s (${posted} chats)`);
  return { posted, ms, runs: [...runs.values()] };
}

/** Posts a chat as the room's owner; its seq. */
async function post(origin: string, cookie: string, room: string, chat: string): Promise<number> {
  const response = await fetch(`${origin}/room/${room}/chat`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ chat }),
  });
  if (response.status !== 201) throw new Error(`a post answered ${response.status}`);
  const { message } = (await response.json()) as { message: { seq: number } };
  return message.seq;
}

async function stats(origin: string): Promise<Record<TransportName, TransportStats>> {
  const response = await fetch(`${origin}/api/stats`);
  const body = (await response.json()) as { transports: Record<TransportName, TransportStats> };
  return body.transports;
}

/** Waits until every reader has received `seq` (30 s at most). */
async function caughtUp(readers: SlowReader[], seq: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const behind = readers.filter((reader) => !reader.seqs.includes(seq));
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`${behind.map((r) => r.transport).join(', ')} did not get seq ${seq}`);
    }
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Every seq from 1 to the highest, once: what is missing, what came twice. */
function check(seqs: number[]): { last: number; missing: number[]; twice: number[] } {
  const last = Math.max(0, ...seqs);
  const seen = new Set<number>();
  const twice: number[] = [];
  for (const seq of seqs) {
    if (seen.has(seq)) twice.push(seq);
    seen.add(seq);
  }
  const missing: number[] = [];
  for (let seq = 1; seq <= last; seq++) if (!seen.has(seq)) missing.push(seq);
  return { last, missing, twice };
}

function format(bytes: number): string {
  if (bytes < KiB) return `${bytes} B`;
  if (bytes < KiB * KiB) return `${(bytes / KiB).toFixed(1)} KiB`;
  return `${(bytes / KiB / KiB).toFixed(2)} MiB`;
}

/** `--name VALUE` or `--name=VALUE` out of `args`: its value (the last given), and the rest. */
function takeFlag(args: string[], name: string): [string | undefined, string[]] {
  let value: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name) {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError(`${name} needs a value`);
      }
      i += 1;
    } else if (arg.startsWith(`${name}=`)) {
      value = arg.slice(name.length + 1);
    } else {
      rest.push(arg);
    }
  }
  return [value, rest];
}

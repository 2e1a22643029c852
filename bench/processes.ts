/**
 * The processes of a bench run: the server under test (the lab's server.ts, or a bare baseline)
 * pinned to one core, and load generators (bench/load.ts) pinned to the other, where `taskset`
 * exists. Each is a child process; nothing here measures anything.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransportName } from '../core/model.ts';
import type { Job } from './load.ts';
import type { ServerStats, WireCounters } from './metrics.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export type Variant = 'lab' | 'bare';

/** Which cores to pin to; null when `taskset` is missing or pinning was turned off. */
export interface Pinning {
  server: string;
  load: string;
}

/** `taskset` pins the server to core 0 and the load (and this runner) to the last core. */
export function pinning(enabled: boolean): { pins: Pinning | null; note: string } {
  if (!enabled) return { pins: null, note: 'not pinned (--no-pin)' };
  const cores = availableParallelism();
  if (cores < 2) return { pins: null, note: 'not pinned: only one core' };
  const pins = { server: '0', load: String(cores - 1) };
  try {
    // The runner itself waits most of the time; it stays off the server's core too.
    pin(process.pid, pins.load);
  } catch {
    return { pins: null, note: 'not pinned: taskset (util-linux) is not installed' };
  }
  return {
    pins,
    note: `server on core ${pins.server}; load generators and runner on core ${pins.load}`,
  };
}

/** Pins every thread of a process (new threads inherit it). */
export function pin(pid: number, core: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', core, String(pid)], { stdio: 'ignore' });
}

/**
 * Starts node with tsx on both cores (start-up is not measured), to be pinned once it is ready.
 */
function spawnNode(args: string[], ipc: boolean, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
}

export interface Target {
  variant: Variant;
  transport: TransportName;
  url: string;
  /** What one /api/stats read costs on the shared routes; taken off every delta. */
  overhead: WireCounters;
  /** What one /api/stats read costs the server in CPU (µs): the noise floor of a CPU figure. */
  readCpuUs: number;
  stats(): Promise<ServerStats>;
  /** A full garbage collection in the server (bench/gc-signal.ts); its memory right after. */
  collectGarbage(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/** What the processes of one cluster share (PROTOCOL.md, Many processes). */
export interface Shared {
  redisUrl: string;
  cookieSecret: string;
}

/**
 * Starts the lab's server (`--store memory --transport all --limits off`) or a bare baseline;
 * with `shared`, the lab's server on Redis (`--store redis --redis-url`, COOKIE_SECRET), one
 * process of a cluster.
 */
export async function startTarget(
  variant: Variant,
  transport: TransportName,
  pins: Pinning | null,
  shared?: Shared,
): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'realtime-lab-bench-'));
  const store = shared ? ['redis', '--redis-url', shared.redisUrl] : ['memory'];
  const args =
    variant === 'lab'
      ? [
          'server.ts',
          ...['--store', ...store, '--port', '0', '--transport', 'all', '--data-dir', dataDir],
          // Rooms are created before their crowd connects, which with thousands of users takes
          // longer than the default 10 s: they must not be removed as empty meanwhile.
          ...['--empty-room-grace', '3600000'],
          // A thousand users from one address, each sending at full speed, are far past the limits
          // a classroom needs (PROTOCOL.md, Limits): the bench measures the transports with none.
          ...['--limits', 'off'],
        ]
      : [`bench/baselines/${transport}.ts`, '--port', '0'];
  // BENCH_PROFILE=dir writes a V8 CPU profile of each server there (open it in Chrome's DevTools,
  // Performance tab); the server then stops with SIGTERM so that the profile is written.
  const profileDir = process.env.BENCH_PROFILE;
  const name = `${variant}-${transport}${shared ? '-redis' : ''}`;
  const profile = profileDir
    ? [
        '--cpu-prof',
        // One folder per server; the file names tell the main thread (…0.001) from tsx's loader.
        `--cpu-prof-dir=${join(profileDir, name)}`,
      ]
    : [];
  const child = spawnNode(
    [...profile, '--expose-gc', '--import', './bench/gc-signal.ts', ...args],
    false,
    // BENCH_HEAP=dir: a heap snapshot of each server at each of the idle scenario's reads.
    { BENCH_HEAP_NAME: name, ...(shared ? { COOKIE_SECRET: shared.cookieSecret } : {}) },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = await new Promise<string>((done, fail) => {
    // Start-up is not measured; on a busy shared machine tsx alone can take half a minute. A
    // server that never says it listens is stopped, not left running.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${variant} ${transport}: no listening line in 60 s`));
    }, 60_000);
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        done(match[1]!);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`the ${variant} ${transport} server exited:\n${output.slice(-2000)}`));
    });
  });
  const read = () => fetch(`${url}/api/stats`, { headers: { accept: 'application/json' } });
  const stats = async () => {
    // A read after a quiet spell (the idle scenario waits out keep-alive) may pick the socket the
    // server is closing just then: the request never reached it, and is sent again once.
    const response = await read().catch(read);
    return (await response.json()) as ServerStats;
  };
  if (pins) pin(child.pid!, pins.server);
  // Two reads in a row: what the second shows more than the first is what a read costs.
  const first = await stats();
  const second = await stats();
  const overhead: WireCounters = {
    requests: (second.http?.requests ?? 0) - (first.http?.requests ?? 0),
    bytesIn: (second.http?.bytesIn ?? 0) - (first.http?.bytesIn ?? 0),
    bytesOut: (second.http?.bytesOut ?? 0) - (first.http?.bytesOut ?? 0),
  };
  // The CPU between two reads in a row is one read's serving, and whatever else the server did
  // meanwhile: the least of four such differences is the read's cost, the CPU figures' noise.
  let last = second;
  let readCpuUs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 4; i += 1) {
    const next = await stats();
    readCpuUs = Math.min(readCpuUs, cpu(next) - cpu(last));
    last = next;
  }
  readCpuUs = Math.max(0, readCpuUs);
  return {
    variant,
    transport,
    url,
    overhead,
    readCpuUs,
    stats,
    collectGarbage: () =>
      new Promise((done, fail) => {
        // A heap snapshot (BENCH_HEAP) of a big heap takes a while.
        const waitMs = process.env.BENCH_HEAP ? 120_000 : 10_000;
        const timer = setTimeout(
          () => fail(new Error(`no bench-memory line in ${waitMs / 1000} s`)),
          waitMs,
        );
        const read = (chunk: Buffer) => {
          const line = /bench-memory (\{.*\})/.exec(String(chunk));
          if (!line) return;
          clearTimeout(timer);
          child.stdout!.off('data', read);
          done(JSON.parse(line[1]!) as NodeJS.MemoryUsage);
        };
        child.stdout!.on('data', read);
        child.kill('SIGUSR2');
      }),
    stop: async () => {
      if (profileDir) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
      }
      child.kill('SIGKILL');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function cpu(stats: ServerStats): number {
  return stats.cpuUserUs + stats.cpuSystemUs;
}

/** A load generator process: `run(job)` sends a job and resolves with its answer. */
export interface Worker {
  /** Fails after `timeoutMs` (the worker is then of no more use: stop it). */
  run<T>(job: Job, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export async function startWorker(pins: Pinning | null): Promise<Worker> {
  const child = spawnNode(['bench/load.ts'], true);
  let output = '';
  child.stderr!.on('data', (chunk) => {
    output = (output + chunk).slice(-4000);
  });
  child.stdout!.resume();
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const pending = new Map<number, { done(value: unknown): void; fail(error: Error): void }>();
  let nextId = 1;
  let ready!: () => void;
  const started = new Promise<void>((done) => {
    ready = done;
  });
  child.on(
    'message',
    (message: { id?: number; ok?: boolean; result?: unknown; error?: string; ready?: boolean }) => {
      if (message.ready) return ready();
      const waiting = pending.get(message.id!);
      pending.delete(message.id!);
      if (message.ok) waiting?.done(message.result);
      else waiting?.fail(new Error(message.error));
    },
  );
  void exited.then(() => {
    for (const waiting of pending.values()) {
      waiting.fail(new Error(`the load generator exited:\n${output}`));
    }
    pending.clear();
  });
  await Promise.race([
    started,
    exited.then(() => Promise.reject(new Error(`the load generator exited:\n${output}`))),
  ]);
  if (pins) pin(child.pid!, pins.load);
  return {
    run: <T>(job: Job, timeoutMs = 300_000) =>
      new Promise<T>((done, fail) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          fail(
            new Error(
              `the load generator did not finish a ${job.type} job in ${timeoutMs / 1000} s`,
            ),
          );
        }, timeoutMs);
        pending.set(id, {
          done: (value) => {
            clearTimeout(timer);
            done(value as T);
          },
          fail: (error) => {
            clearTimeout(timer);
            fail(error);
          },
        });
        child.send({ id, job });
      }),
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

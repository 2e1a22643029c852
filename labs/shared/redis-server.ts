import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's redis-server, if this machine has it (`.ci/run` installs it). */
export const REDIS_BINARY = findRedis();

/** The one line a suite prints when it skips for want of Redis. */
export const NO_REDIS =
  'skipping the Redis tests: redis-server is not installed (apt-get install redis-server)';

function findRedis(): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

export interface RedisServer {
  url: string;
  port: number;
  /** Stops it (SIGKILL when `hard`), keeping its data dir for `start()`. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port, with what it kept (only if `persistent`). */
  start(): Promise<void>;
  /** SIGSTOP: it keeps its sockets open and answers nothing, as a hung server or a lost link. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Stops it and removes its data dir. */
  close(): Promise<void>;
}

/**
 * A real redis-server on a free port of 127.0.0.1, for one suite. By default it keeps nothing on
 * disk (`--save '' --appendonly no`); `persistent` turns on the append-only file with a sync per
 * write, for the suites that stop and start it and check that nothing acknowledged is lost.
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<RedisServer> {
  if (!REDIS_BINARY) throw new Error(NO_REDIS);
  const dir = await mkdtemp(join(tmpdir(), 'realtime-lab-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always']
      : ['--appendonly', 'no']),
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(REDIS_BINARY!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`redis-server did not start:\n${output}`)),
        10_000,
      );
      const gather = (chunk: Buffer) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          done();
        }
      };
      started.stdout!.on('data', gather);
      started.stderr!.on('data', gather);
      started.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`redis-server exited (${code}):\n${output}`));
      });
    });
  };
  const stop = async (hard = false) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((done) => running.once('exit', () => done()));
    running.kill('SIGCONT');
    running.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    stop,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    close: async () => {
      await stop(true);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A free port of 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

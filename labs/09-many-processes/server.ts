/**
 * Lab 09: the app on many processes behind one address. `npm start -- --workers N --store redis
 * --redis-url ...` as a child process (the lab changes nothing of it), on a Redis of its own
 * (Debian's redis-server on a free port) unless `--redis-url` names one. The page is the app's own
 * compare page: one pane per transport, which worker answered it, and its check.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { oneOf, parseFlags, UsageError, wholeNumber } from '../../flags.ts';
import { REDIS_BINARY, type RedisServer, startRedis } from '../shared/redis-server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** How long the workers may take to start on a busy machine (each loads the whole app). */
const START_MS = 60_000;

export interface ManyProcessesLab {
  /** The compare page, on the one port. */
  url: string;
  origin: string;
  /** The primary's pid (the workers are its children: `/api/stats` names the one answering). */
  pid: number;
  close(): Promise<void>;
}

/** Flags: --port (8005), --workers (3), --sticky on|off (on), --redis-url (a Redis of its own). */
export async function main(
  args: string[],
  log: (line: string) => void = console.info,
): Promise<ManyProcessesLab> {
  const values = parseFlags(args, {
    port: { type: 'string', default: '8005' },
    workers: { type: 'string', default: '3' },
    sticky: { type: 'string', default: 'on' },
    'redis-url': { type: 'string' },
  });
  const port = wholeNumber('--port', values.port, 0, 65535);
  const workers = wholeNumber('--workers', values.workers, 2, 16);
  const sticky = oneOf('--sticky', values.sticky, ['on', 'off']);
  let redis: RedisServer | undefined;
  let redisUrl = values['redis-url'];
  if (redisUrl === undefined) {
    if (!REDIS_BINARY) {
      throw new UsageError(
        'lab 09 needs Redis: apt-get install redis-server (or give --redis-url redis://HOST:PORT/0)',
      );
    }
    redis = await startRedis();
    redisUrl = redis.url;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'realtime-lab-09-'));
  const child = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', 'server.ts', '--workers', String(workers), '--sticky', sticky],
      ...['--store', 'redis', '--redis-url', redisUrl, '--port', String(port)],
      ...['--data-dir', dataDir, '--empty-room-grace', '600000'],
    ],
    // The workers share the cookie secret through Redis.
    { cwd: ROOT, env: { ...process.env, COOKIE_SECRET: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stopped = new Promise<void>((done) => child.once('exit', () => done()));
  const cleanUp = async () => {
    await redis?.close();
    await rm(dataDir, { recursive: true, force: true });
  };
  let origin: string;
  try {
    origin = await listening(child);
  } catch (error) {
    child.kill('SIGKILL');
    await stopped;
    await cleanUp();
    throw error;
  }
  // What the primary says from now on (a worker that died and its replacement), the student sees.
  child.stderr!.on('data', (chunk: Buffer) => {
    for (const line of String(chunk).split('\n')) if (line.trim()) log(line);
  });
  log(
    `open ${origin}/compare  (${workers} workers behind one port, sticky ${sticky}; Redis at ${redisUrl})`,
  );
  return {
    url: `${origin}/compare`,
    origin,
    pid: child.pid!,
    close: async () => {
      child.kill('SIGTERM');
      await stopped;
      await cleanUp();
    },
  };
}

/** The origin of the primary's ready line, or its last words if it stops first. */
function listening(child: ChildProcess): Promise<string> {
  return new Promise((done, fail) => {
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`the workers did not start in ${START_MS / 1000} s:\n${output}`)),
      START_MS,
    );
    const gather = (chunk: Buffer) => {
      output += chunk;
      const ready = /listening on (http:\/\/\S+)/.exec(output);
      if (ready) {
        clearTimeout(timer);
        done(ready[1]!);
      }
    };
    child.stdout!.on('data', gather);
    child.stderr!.on('data', gather);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the app stopped (${code}):\n${output.trim()}`));
    });
  });
}

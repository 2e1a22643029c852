import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Watched, watched } from '../test/support/process.ts';
import { NO_REDIS, REDIS_BINARY } from './shared/redis-server.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ALL_LABS = (await readdir(join(ROOT, 'labs'))).filter((name) => /^\d\d-/.test(name)).sort();
/** Lab 09 starts a Redis and a primary with three workers, each loading the whole app. */
const MANY_PROCESSES = '09-many-processes';
if (!REDIS_BINARY) console.info(`${NO_REDIS}: lab ${MANY_PROCESSES} is not started`);
const LABS = ALL_LABS.filter((name) => name !== MANY_PROCESSES || REDIS_BINARY);
/** What a start may cost in CPU: one process, or (lab 09) four of them and a Redis. */
const START_CPU_MS = (name: string) => (name === MANY_PROCESSES ? 20_000 : 5000);
/** Labs that run the whole app take a data dir (so the test leaves data/ alone). */
const FULL_APP = new Set([
  '05-gif-chat',
  '06-self-study',
  '07-broken-connections',
  '08-one-room-four-ways',
  '10-book-pages',
  '13-slow-readers',
]);

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'realtime-lab-run-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** `command args` in the project root, in a process group of its own (npm starts children). */
function run(command: string, args: string[]): Watched {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watched(child);
}

/**
 * The CPU time (ms) the live processes of a process group have used, where /proc tells it (Linux),
 * else undefined. A start's cost, whatever else the machine runs: on a CI box of two cores with
 * other jobs, the wall-clock time of a start is a multiple of it.
 */
function groupCpuMs(group: number): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // After "pid (comm) ": state ppid pgrp ..., utime stime cutime cstime at 11 to 14.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[2]) !== group) continue;
      for (const field of fields.slice(11, 15)) ticks += Number(field);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks * 10; // USER_HZ: 100 ticks a second on Linux
}

/**
 * Each case starts node with tsx (and some the whole app), up to 2.5 s of CPU each: on a CI box
 * of two cores with other jobs that is well past the 20 s default, with nothing wrong.
 */
const PROCESS_TEST_MS = 60_000;

const lab = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'labs/run.ts', ...args]);

it(
  'npm run lab lists every lab, one line each, in order',
  async () => {
    const listing = run('npm', ['run', '--silent', 'lab']);
    expect(await listing.exited).toBe(0);
    const lines = listing
      .output()
      .split('\n')
      .filter((line) => /^ {2}\d\d-/.test(line));
    expect(lines.map((line) => line.trim().split(/\s+/)[0])).toEqual(ALL_LABS);
    expect(ALL_LABS.length).toBeGreaterThanOrEqual(8);
    // Each with its README's title, e.g. "WebSocket with the ws module (12.2 ...)".
    for (const [i, line] of lines.entries()) {
      const title = line.slice(2 + ALL_LABS[i]!.length).trim();
      expect(title.length, line).toBeGreaterThan(15);
      expect(title).not.toContain(ALL_LABS[i]!);
    }
  },
  PROCESS_TEST_MS,
);

it(
  'an unknown lab exits with status 2 and the list; so does an unknown flag',
  async () => {
    const [unknown, flag, value] = [
      lab(['99-telepathy']),
      lab(['03-ws', '--bogus']),
      lab(['06', '--transport', 'pigeon']),
    ];
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toContain('There is no lab "99-telepathy"');
    for (const name of ALL_LABS) expect(unknown.output()).toContain(name);
    expect(await flag.exited).toBe(2);
    expect(flag.output()).toMatch(/^03-ws: .*--bogus/m);
    expect(await value.exited).toBe(2);
    expect(value.output()).toMatch(/^06-self-study: --transport must be one of/m);
  },
  PROCESS_TEST_MS,
);

/** Every lab, one at a time (a student runs one), as `npm run lab -- <name>` starts it. */
describe('npm run lab -- <name>', () => {
  it.each(LABS)(
    '%s starts, prints the URL to open within its start cost in CPU (5 s; lab 09, 20 s), serves it, and stops on SIGTERM',
    async (name) => {
      const args = [
        '--port',
        '0',
        ...(FULL_APP.has(name) ? ['--data-dir', join(dataDir, name)] : []),
      ];
      const started = Date.now();
      const running = lab([name, ...args]);
      try {
        const url = await new Promise<string>((done, fail) => {
          const timer = setTimeout(
            () => fail(new Error(`no URL in 45 s:\n${running.output()}`)),
            45_000,
          );
          running.child.stdout!.on('data', () => {
            const match = /^open (http:\/\/\S+)/m.exec(running.output());
            if (match) {
              clearTimeout(timer);
              done(match[1]!);
            }
          });
          running.exited.then((code) => fail(new Error(`exited ${code}:\n${running.output()}`)));
        });
        // What the start costs, not how long the machine's other work made it wait.
        expect(groupCpuMs(running.child.pid!) ?? Date.now() - started).toBeLessThan(
          START_CPU_MS(name),
        );
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
        await page.body?.cancel();
      } finally {
        process.kill(-running.child.pid!, 'SIGTERM');
      }
      // Its output says why, should it not stop cleanly.
      expect(await running.exited, running.output()).toBe(0);
    },
    PROCESS_TEST_MS,
  );
});

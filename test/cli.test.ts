import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES } from '../core/model.ts';
import { parseOptions } from '../server.ts';
import { newSession } from './support/http.ts';
import { runServer, startServerProcess } from './support/process.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'realtime-lab-cli-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/**
 * Each case starts node with tsx and the whole app, about 2.5 s of CPU: on a CI box of two cores
 * with other jobs that is well past the 20 s default, with nothing wrong.
 */
const PROCESS_TEST_MS = 60_000;

describe('npm start', { timeout: PROCESS_TEST_MS }, () => {
  it('prints the listening line and serves the lobby', async () => {
    const server = await startServerProcess(['--data-dir', dataDir]);
    try {
      expect(server.output()).toMatch(
        /^listening on http:\/\/127\.0\.0\.1:\d+ \(transports: polling, sse, ws, socketio, store: file\)$/m,
      );
      const lobby = await fetch(server.url, { headers: { accept: 'text/html' } });
      expect(lobby.status).toBe(200);
      expect(await lobby.text()).toContain('href="/room"');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each(TRANSPORT_NAMES)('--transport %s serves only that transport', async (name) => {
    const server = await startServerProcess([
      '--transport',
      name,
      '--store',
      'memory',
      '--data-dir',
      dataDir,
    ]);
    try {
      expect(server.output()).toContain(`(transports: ${name}, store: memory)`);
      const session = await newSession(server.url);
      const room = await session.createRoom();
      const probes: Record<string, string> = {
        polling: `/poll/room/${room.id}?wait=0`,
        sse: `/sse/lobby`,
        ws: '/ws',
        socketio: '/socket.io/?EIO=4&transport=polling',
      };
      for (const [other, path] of Object.entries(probes)) {
        const response = await session.fetch(path);
        await response.body?.cancel();
        if (other === name) expect(response.status, path).not.toBe(404);
        else expect(response.status, path).toBe(404);
      }
    } finally {
      await server.stop();
    }
  });

  it.each([
    [['--bogus'], /bogus/],
    [
      ['--transport', 'carrier-pigeon'],
      /--transport must be one of all, polling, sse, ws, socketio/,
    ],
    [['--store', 'postgres'], /--store must be one of file, memory, mongo/],
    [['--port', 'eighty'], /--port must be a whole number/],
    [['--port', '70000'], /--port must be a whole number/],
    [['--empty-room-grace', '-5'], /empty-room-grace/],
    [['--allowed-origin', 'not a url'], /--allowed-origin must be an origin/],
    [['--limits', 'maybe'], /--limits must be one of on, off, not "maybe"/],
    [['--allowed-host', 'http://classroom.local'], /--allowed-host must be a host name/],
    [['--allowed-host', 'classroom.local:8005'], /--allowed-host must be a host name/],
    [['--store', 'mongo'], /--store mongo needs --mongo-url/],
    [['--store', 'mongo', '--mongo-url', 'http://db'], /--mongo-url must start with mongodb:\/\//],
    [['--store', 'redis'], /--store redis needs --redis-url/],
    [['--redis-url', 'http://cache:6379'], /--redis-url must start with redis:\/\//],
    [['--store', 'file', '--redis-url', 'redis://127.0.0.1:1/0'], /--store file cannot be shared/],
    [
      ['--store', 'memory', '--redis-url', 'redis://127.0.0.1:1/0'],
      /--store memory cannot be shared/,
    ],
  ])('exits with status 2 and one line naming the problem: %j', async (args, message) => {
    const run = runServer([...args, '--data-dir', dataDir], { MONGO_URL: '' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(message);
    expect(run.output()).not.toMatch(/\n\s+at /);
  });

  it('exits within 15 s with one line naming Redis, its password masked, when Redis is not reachable', async () => {
    const started = Date.now();
    const run = runServer(
      [
        '--store',
        'redis',
        '--redis-url',
        'redis://lab:hunter2-secret@127.0.0.1:1/0',
        '--data-dir',
        dataDir,
      ],
      { REDIS_URL: '' },
    );
    expect(await run.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const lines = run.output().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^Redis is not reachable at redis:\/\/lab:\*\*\*@127\.0\.0\.1:1\/0 /),
    ]);
    expect(run.output()).not.toContain('hunter2');
  });

  it('exits with status 2 and one line when COOKIE_SECRET is shorter than 32 characters', async () => {
    const run = runServer(['--data-dir', dataDir], { COOKIE_SECRET: 'short' });
    expect(await run.exited).toBe(2);
    expect(run.output().trim().split('\n')).toEqual([
      expect.stringMatching(/^COOKIE_SECRET must be at least 32 characters, not 5/),
    ]);
  });

  it('takes environment variables, and a flag beats its variable', () => {
    const env = {
      TRANSPORT: 'sse',
      PORT: '9001',
      STORE: 'memory',
      EMPTY_ROOM_GRACE_MS: '5',
      ALLOWED_ORIGINS: 'http://a.test,http://b.test',
      ALLOWED_HOSTS: 'classroom.local, lab.school.example.',
    };
    expect(parseOptions([], env)).toMatchObject({
      transport: 'sse',
      port: 9001,
      store: 'memory',
      emptyRoomGraceMs: 5,
      allowedOrigins: ['http://a.test', 'http://b.test'],
      allowedHosts: ['classroom.local', 'lab.school.example.'],
    });
    expect(
      parseOptions(['--port', '9002', '--store', 'file', '--allowed-host', 'pi.local'], env),
    ).toMatchObject({ port: 9002, store: 'file', allowedHosts: ['pi.local'] });
    expect(parseOptions([], {})).toMatchObject({
      transport: 'all',
      port: 8005,
      host: '127.0.0.1',
      store: 'file',
      emptyRoomGraceMs: 10000,
      limits: true,
    });
  });

  it('--limits on|off, LIMITS too, the flag beating the variable; a bad LIMITS exits 2', async () => {
    expect(parseOptions(['--limits', 'off'], {}).limits).toBe(false);
    expect(parseOptions([], { LIMITS: 'off' }).limits).toBe(false);
    expect(parseOptions(['--limits', 'on'], { LIMITS: 'off' }).limits).toBe(true);
    expect(parseOptions(['--limits', 'off'], { LIMITS: 'on' }).limits).toBe(false);
    const run = runServer(['--data-dir', dataDir], { LIMITS: 'sometimes' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/--limits must be one of on, off, not "sometimes"/);
  });

  it('--help names every flag, --limits included', async () => {
    const run = runServer(['--help']);
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('[--limits on|off]');
  });
});

describe('the file store', { timeout: PROCESS_TEST_MS }, () => {
  it('keeps rooms, messages and sessions across a restart', async () => {
    const dir = join(dataDir, 'restart');
    const first = await startServerProcess(['--data-dir', dir, '--empty-room-grace', '60000']);
    const alice = await newSession(first.url);
    const room = await alice.createRoom({ title: 'survivor', password: 'pw' });
    await alice.say(room.id, 'before the restart');
    expect(await first.stop()).toBe(0);

    const second = await startServerProcess(['--data-dir', dir, '--empty-room-grace', '60000']);
    try {
      const rooms = (await (await fetch(`${second.url}/api/rooms`)).json()) as {
        rooms: { id: string }[];
      };
      expect(rooms.rooms).toMatchObject([
        { id: room.id, title: 'survivor', hasPassword: true, owner: alice.user },
      ]);
      // The same cookie is still the same visitor: the secret was kept in the data dir.
      const same = await fetch(`${second.url}/api/rooms/${room.id}/messages`, {
        headers: { cookie: alice.cookie },
      });
      expect(same.status).toBe(200);
      const { messages } = (await same.json()) as { messages: { seq: number; chat: string }[] };
      expect(messages.map((m) => [m.seq, m.chat])).toEqual([[1, 'before the restart']]);
      const next = await fetch(`${second.url}/room/${room.id}/chat`, {
        method: 'POST',
        headers: { cookie: alice.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ chat: 'after' }),
      });
      expect(((await next.json()) as { message: { seq: number } }).message.seq).toBe(2);
    } finally {
      await second.stop();
    }
  });
});

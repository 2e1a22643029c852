import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRANSPORT_NAMES } from '../core/model.ts';
import { parseOptions } from '../server.ts';
import { hasChromium, launchChromium } from './support/browser.ts';
import { eventually, newSession } from './support/http.ts';
import { runServer, type ServerProcess, startServerProcess } from './support/process.ts';
import { NO_REDIS, REDIS_BINARY, type RedisServer, startRedis } from './support/redis.ts';

/**
 * `npm start -- --workers N` (PROTOCOL.md, Many processes), as real processes: one port, N
 * workers behind it, sticky for Socket.IO's sessions. Only the plumbing: these workers share no
 * Redis (the test-only REALTIME_LAB_WORKERS_WITHOUT_REDIS), so no case here needs a room or an
 * event to cross from one worker to another.
 */
const PROCESS_TEST_MS = 60_000;
const WITHOUT_REDIS = { REALTIME_LAB_WORKERS_WITHOUT_REDIS: '1', REDIS_URL: '' };

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'realtime-lab-cluster-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** GET /api/stats on a new connection: the worker it names, and the one its header names. */
async function statsWorker(url: string): Promise<{ worker: number; header: number }> {
  const response = await fetch(`${url}/api/stats`);
  expect(response.headers.get('connection')).toBe('close');
  const { worker } = (await response.json()) as { worker: number };
  return { worker, header: Number(response.headers.get('x-worker')) };
}

/** The workers that answer `count` requests in a row. */
async function workersAnswering(url: string, count: number): Promise<Set<number>> {
  const workers = new Set<number>();
  for (let i = 0; i < count; i += 1) workers.add((await statsWorker(url)).worker);
  return workers;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start -- --workers 3', { timeout: PROCESS_TEST_MS }, () => {
  let server: ServerProcess;
  /** Every worker pid a case has seen, for the last case to check that none is left. */
  const seen = new Set<number>();

  beforeAll(async () => {
    server = await startServerProcess(
      ['--workers', '3', '--store', 'memory', '--data-dir', dataDir],
      WITHOUT_REDIS,
    );
  }, PROCESS_TEST_MS);
  afterAll(async () => {
    if (server.child.exitCode === null) await server.stop();
  });

  it('prints the one ready line, with the workers, once all of them serve', () => {
    const lines = server.output().match(/^listening on .*$/gm);
    expect(lines).toEqual([
      expect.stringMatching(
        /^listening on http:\/\/127\.0\.0\.1:\d+ \(transports: polling, sse, ws, socketio, store: memory, workers: 3\)$/,
      ),
    ]);
  });

  it('answers GET /api/stats from each worker in turn, each saying which (one connection each)', async () => {
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await statsWorker(server.url));
    for (const { worker, header } of answers) expect(header).toBe(worker);
    const workers = new Set(answers.map(({ worker }) => worker));
    expect(workers.size).toBe(3);
    expect(workers.has(server.child.pid!)).toBe(false);
    for (const worker of workers) seen.add(worker);
  });

  it('keeps a Socket.IO session on long polling on its worker, poll after poll', async () => {
    const { cookie } = await newSession(server.url);
    const socket = io(`${server.url}/chat`, {
      transports: ['polling'],
      forceNew: true,
      reconnection: false,
      extraHeaders: { cookie },
    });
    const trouble: string[] = [];
    socket.on('connect_error', (error) => trouble.push(`connect_error: ${error.message}`));
    socket.on('disconnect', (reason) => trouble.push(`disconnect: ${reason}`));
    try {
      await eventually(() => socket.connected || trouble.length > 0, 10_000, 'the connect');
      expect(trouble).toEqual([]);
      const id = socket.id;
      // Each acknowledgement comes back on a poll of its own, each a new connection: without
      // stickiness the next one would reach another worker ("Session ID unknown").
      for (let i = 0; i < 5; i += 1) {
        const ack = await socket.timeout(5000).emitWithAck('nonsense');
        expect(ack).toMatchObject({ status: 400, error: expect.stringMatching(/Unknown event/) });
      }
      expect(trouble).toEqual([]);
      expect([socket.connected, socket.id, socket.io.engine.transport.name]).toEqual([
        true,
        id,
        'polling',
      ]);
    } finally {
      socket.disconnect();
    }
  });

  it('sends each request naming an engine.io sid to its worker, the others round robin', async () => {
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const handshake = await fetch(base);
    const worker = Number(handshake.headers.get('x-worker'));
    const { sid } = JSON.parse((await handshake.text()).slice(1)) as { sid: string };
    const session = `${base}&sid=${sid}`;
    const others: number[] = [];
    const answers: number[] = [];
    // A request of no session between two of the session's moves the round robin on.
    for (const init of [{ method: 'POST', body: '40' }, { method: 'GET' }]) {
      others.push((await statsWorker(server.url)).worker);
      const response = await fetch(session, { ...init, signal: AbortSignal.timeout(5000) });
      expect([response.status, await response.text()]).toEqual([
        200,
        init.method === 'POST' ? 'ok' : expect.stringMatching(/^40\{"sid":/),
      ]);
      answers.push(Number(response.headers.get('x-worker')));
    }
    await fetch(session, { method: 'POST', body: '1' }).then((response) => response.text());
    expect(answers).toEqual([worker, worker]);
    expect(others).not.toContain(worker);
  });

  it('takes a raw WebSocket upgrade to /ws through the primary', async () => {
    const { cookie } = await newSession(server.url);
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, { headers: { cookie } });
    let worker = 0;
    ws.on('upgrade', (response) => {
      worker = Number(response.headers['x-worker']);
    });
    const frames: { type: string; data: unknown }[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    ws.on('error', () => undefined);
    try {
      await new Promise((done, fail) => {
        ws.once('open', done);
        ws.once('error', fail);
      });
      ws.send(JSON.stringify({ type: 'subscribe', lobby: true }));
      await eventually(() => frames.length > 0, 5000, 'the subscribed frame');
      expect(frames[0]).toEqual({ type: 'subscribed', data: { lobby: true } });
      expect(seen.has(worker)).toBe(true);
    } finally {
      ws.terminate();
    }
  });

  it('starts another worker when one dies, and says so in one line', async () => {
    const [victim] = seen;
    process.kill(victim!, 'SIGKILL');
    await eventually(
      () => server.output().includes(`worker ${victim} exited (signal SIGKILL): starting another`),
      10_000,
      'the restart line',
    );
    // The primary hands the new one nothing until it serves: every request is answered.
    let workers = new Set<number>();
    await eventually(
      async () => {
        workers = await workersAnswering(server.url, 3);
        return workers.size === 3;
      },
      45_000,
      'three workers again',
    );
    expect(workers.has(victim!)).toBe(false);
    for (const worker of workers) seen.add(worker);
  });

  it('stops on SIGTERM with status 0, and no worker is left', async () => {
    expect(await server.stop()).toBe(0);
    await eventually(() => [...seen].every((pid) => !alive(pid)), 5000, 'every worker gone');
    expect(seen.size).toBe(4);
  });
});

describe('--workers refusals', { timeout: PROCESS_TEST_MS }, () => {
  it('takes --workers and --redis-url or their variables; one worker is one process', () => {
    const redis = 'redis://127.0.0.1:6379/0';
    expect(parseOptions([], {})).toMatchObject({ workers: 1, redisUrl: undefined });
    expect(parseOptions(['--workers', '1'], {})).toMatchObject({ workers: 1 });
    expect(
      parseOptions(['--workers', '4', '--redis-url', redis, '--store', 'redis'], {}),
    ).toMatchObject({
      workers: 4,
      redisUrl: redis,
    });
    const shared = { WORKERS: '2', REDIS_URL: 'rediss://lab:6380', STORE: 'mongo' };
    expect(parseOptions([], shared)).toMatchObject({
      workers: 2,
      redisUrl: 'rediss://lab:6380',
    });
    expect(parseOptions(['--workers', '3'], { WORKERS: '2', ...WITHOUT_REDIS }).workers).toBe(3);
    expect(() => parseOptions(['--workers', '0'], {})).toThrow(/--workers must be a whole number/);
    expect(() => parseOptions(['--redis-url', 'http://:secret@db'], {})).toThrow(
      /^--redis-url must start with redis:\/\/ or rediss:\/\/, not "http:\/\/:\*\*\*@db"$/,
    );
    expect(() => parseOptions(['--workers', '2'], { REDIS_URL: '' })).toThrow(
      /--workers 2 needs --redis-url/,
    );
  });

  it('exits with status 2 and one line when --workers 2 has no --redis-url', async () => {
    const run = runServer(['--workers', '2', '--store', 'memory', '--data-dir', dataDir], {
      REDIS_URL: '',
      REALTIME_LAB_WORKERS_WITHOUT_REDIS: '',
    });
    expect(await run.exited).toBe(2);
    expect(run.output().trim().split('\n')).toEqual([
      expect.stringMatching(/^--workers 2 needs --redis-url \(or REDIS_URL\)/),
    ]);
  });

  it('stops with the line of a worker that cannot start, instead of starting it again', async () => {
    const run = runServer(['--workers', '2', '--store', 'mongo', '--data-dir', dataDir], {
      ...WITHOUT_REDIS,
      MONGO_URL: '',
    });
    expect(await run.exited).toBe(2);
    expect(run.output().trim().split('\n')).toEqual([
      expect.stringMatching(/^--store mongo needs --mongo-url/),
    ]);
  });
});

if (!hasChromium) {
  console.info('skipping the --workers browser test: apt-get install -y chromium');
}
if (!REDIS_BINARY) console.info(`${NO_REDIS}: the --workers browser test needs it`);

describe.skipIf(!hasChromium || !REDIS_BINARY)(
  'npm start -- --workers 3 --redis-url, in Chromium',
  { timeout: PROCESS_TEST_MS },
  () => {
    let redis: RedisServer;
    let server: ServerProcess;
    beforeAll(async () => {
      redis = await startRedis();
      server = await startServerProcess(
        ['--workers', '3', '--store', 'redis', '--redis-url', redis.url, '--data-dir', dataDir],
        { REDIS_URL: '', COOKIE_SECRET: '' },
      );
    }, PROCESS_TEST_MS);
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
      await redis?.close();
    });

    it('the chat page works on all four transports through the one port, Socket.IO on long polling only', async () => {
      const owner = await newSession(server.url);
      const room = (await owner.createRoom({ title: 'one port, three workers' })).id;
      const browser = await launchChromium();
      const problems: string[] = [];
      try {
        const pages = [];
        const workers = new Set<string>();
        const socketIoPolls: { status: number; sid: boolean }[] = [];
        for (const transport of TRANSPORT_NAMES) {
          const context = await browser.newContext();
          const page = await context.newPage();
          page.setDefaultTimeout(15_000);
          page.on('pageerror', (error) => problems.push(`${transport}: ${error.message}`));
          page.on('response', (response) => {
            void response.headerValue('x-worker').then((worker) => {
              if (worker) workers.add(worker);
            });
            const url = new URL(response.url());
            if (
              url.pathname.startsWith('/socket.io/') &&
              url.searchParams.get('transport') === 'polling'
            ) {
              socketIoPolls.push({ status: response.status(), sid: url.searchParams.has('sid') });
            }
          });
          // No WebSocket for Socket.IO: it stays on its long polling, which needs the stickiness.
          if (transport === 'socketio') {
            await page.routeWebSocket(/\/socket\.io\//, (socket) => socket.close());
          }
          await page.goto(`${server.url}/room/${room}?transport=${transport}`);
          await page.locator('#state[data-state="open"]').waitFor();
          pages.push({ transport, page });
        }
        for (const { transport, page } of pages) {
          await page.fill('#chat', `hello from ${transport}`);
          await page.press('#chat', 'Enter');
        }
        for (const { transport, page } of pages) {
          for (const from of TRANSPORT_NAMES) {
            await page
              .locator('#chat-list > [data-seq]', { hasText: `hello from ${from}` })
              .waitFor({ timeout: 15_000 })
              .catch(() => {
                throw new Error(`the ${transport} page never showed the message from ${from}`);
              });
          }
        }
        const orders = await Promise.all(
          pages.map(({ page }) =>
            page
              .locator('#chat-list > [data-seq]')
              .evaluateAll((items) => items.map((item) => item.getAttribute('data-seq'))),
          ),
        );
        for (const order of orders) expect(order).toEqual(orders[0]);
        expect(workers.size, 'pages and requests answered by more than one worker').toBeGreaterThan(
          1,
        );
        const withSid = socketIoPolls.filter((poll) => poll.sid);
        expect(withSid.length, 'Socket.IO polls after its handshake').toBeGreaterThan(2);
        expect(withSid.filter((poll) => poll.status !== 200)).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  },
);

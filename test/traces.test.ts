import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ExchangeSummary } from '../web/trace/report.ts';
import { TRACES } from '../web/trace/traces.ts';
import type { Report } from '../web/views/wire-report.ts';
import { newSession, type Session } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The inspector's routes and tap (issue 17): a trace token is its maker's, an untraced or a
 * stranger's connection records nothing, what is recorded adds up to what /api/stats counts, and
 * every bound holds. Bad input gets the JSON sentences of PROTOCOL.md's error rules.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ limits: false });
});
afterAll(() => server?.close());

async function newTrace(session: Session): Promise<string> {
  const response = await session.fetch('/api/traces', { method: 'POST' });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { token: string; idleS: number };
  expect(body.token).toMatch(/^[A-Za-z0-9_-]{24}$/);
  expect(body.idleS).toBe(600);
  return body.token;
}

async function summary(session: Session, token: string): Promise<ExchangeSummary[]> {
  const response = await session.fetch(`/api/traces/${token}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { exchanges: ExchangeSummary[] }).exchanges;
}

async function pollingBytes(session: Session): Promise<{ bytesIn: number; bytesOut: number }> {
  const stats = (await (await session.fetch('/api/stats')).json()) as {
    transports: { polling: { bytesIn: number; bytesOut: number } };
  };
  return stats.transports.polling;
}

async function expectRefusal(response: Response, status: number, sentence: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(((await response.json()) as { error: string }).error).toMatch(sentence);
}

describe('POST /api/traces', () => {
  it('makes a token for a session, and refuses no session or a foreign Origin', async () => {
    await expectRefusal(
      await fetch(`${server.url}/api/traces`, { method: 'POST' }),
      401,
      /session/,
    );
    const alice = await newSession(server.url);
    await expectRefusal(
      await alice.fetch('/api/traces', {
        method: 'POST',
        headers: { origin: 'http://evil.example' },
      }),
      403,
      /another site/,
    );
    await newTrace(alice);
  });

  it(`keeps ${TRACES.perUser} live tokens per user: a new one ends the oldest`, async () => {
    const alice = await newSession(server.url);
    const tokens = [];
    for (let i = 0; i <= TRACES.perUser; i += 1) tokens.push(await newTrace(alice));
    expect((await alice.fetch(`/api/traces/${tokens[0]}`)).status).toBe(404);
    for (const token of tokens.slice(1)) {
      expect((await alice.fetch(`/api/traces/${token}`)).status).toBe(200);
    }
  });
});

describe('GET /api/traces/:token', () => {
  it('answers a token to its maker only: anyone else gets the 404 of no token', async () => {
    const [alice, bob] = [await newSession(server.url), await newSession(server.url)];
    const token = await newTrace(alice);
    await expectRefusal(await bob.fetch(`/api/traces/${token}`), 404, /no such trace/);
    await expectRefusal(await fetch(`${server.url}/api/traces/${token}`), 401, /session/);
    for (const hostile of [
      'x',
      `${token}x`,
      'a'.repeat(2000),
      '%2e%2e%2fapi%2fstats',
      '%00',
      encodeURIComponent('<script>'),
    ]) {
      await expectRefusal(await alice.fetch(`/api/traces/${hostile}`), 404, /no such trace/);
    }
  });

  it('takes ?message= as an id, once', async () => {
    const alice = await newSession(server.url);
    const token = await newTrace(alice);
    for (const query of [
      'message=',
      'message=a&message=b',
      `message=${encodeURIComponent('<b>')}`,
      `message=${'a'.repeat(65)}`,
    ]) {
      await expectRefusal(await alice.fetch(`/api/traces/${token}?${query}`), 400, /message id/);
    }
    const report = (await (
      await alice.fetch(`/api/traces/${token}?message=none`)
    ).json()) as Report;
    expect(report.up).toBeNull();
    expect(report.panes.map((pane) => pane.delivery)).toEqual([null, null, null, null]);
  });
});

describe('the tap', () => {
  it("records only its maker's requests that carry the token, and nothing else", async () => {
    const [alice, bob] = [await newSession(server.url), await newSession(server.url)];
    const room = await alice.createRoom();
    const token = await newTrace(alice);
    const poll = (who: Session, query = '') =>
      who.fetch(`/poll/room/${room.id}?after=0&wait=0${query}`).then((r) => r.text());
    await poll(bob, `&trace=${token}`);
    await poll(alice);
    await poll(alice, '&trace=x');
    await new Promise<void>((done, fail) => {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws?trace=${token}`, {
        headers: { cookie: bob.cookie },
      });
      socket.once('open', () => socket.close());
      socket.once('close', () => done());
      socket.once('error', fail);
    });
    expect(await summary(alice, token)).toEqual([]);
  });

  it('records a poll both ways, to the byte that /api/stats counts', async () => {
    const alice = await newSession(server.url);
    const room = await alice.createRoom();
    await alice.say(room.id, 'hello');
    const token = await newTrace(alice);
    const before = await pollingBytes(alice);
    await alice.fetch(`/poll/room/${room.id}?after=0&wait=0&trace=${token}`).then((r) => r.text());
    const after = await pollingBytes(alice);
    const [exchange, ...more] = await summary(alice, token);
    expect(more).toEqual([]);
    expect(exchange).toMatchObject({ endpoint: 'polling', method: 'GET', upgrade: false });
    expect(exchange!.readyState).toBe('closed');
    expect(exchange!.bytesDown).toBe(after.bytesOut - before.bytesOut);
    // The request is rebuilt from what the parser read: the same length as what it read.
    expect(exchange!.bytesUp).toBe(after.bytesIn - before.bytesIn);
    expect([exchange!.unitsUp, exchange!.unitsDown]).toEqual([1, 2]);
  });

  it('finds what carried a message down a long poll, and the POST that carried it up', async () => {
    const alice = await newSession(server.url);
    const room = await alice.createRoom();
    const token = await newTrace(alice);
    // Polls from each answer's cursor, as a client does, until an answer holds `id`.
    let wanted: string | undefined;
    const polls = (async () => {
      let after: number | undefined;
      for (;;) {
        const query = after === undefined ? '' : `&after=${after}`;
        const answer = await alice.fetch(`/poll/room/${room.id}?wait=5${query}&trace=${token}`);
        const body = (await answer.json()) as {
          cursor: number;
          events: { data: { id?: string } }[];
        };
        after = body.cursor;
        if (wanted !== undefined && body.events.some((event) => event.data.id === wanted)) return;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const response = await alice.fetch(`/room/${room.id}/chat?trace=${token}`, {
      method: 'POST',
      json: { chat: 'up and down' },
    });
    const { message } = (await response.json()) as { message: { id: string } };
    wanted = message.id;
    await polls;
    const report = (await (
      await alice.fetch(`/api/traces/${token}?message=${message.id}`)
    ).json()) as Report;
    const polling = report.panes.find((pane) => pane.transport === 'polling')!.delivery!;
    expect(polling.units.map((unit) => [unit.direction, unit.kind])).toEqual([
      ['down', 'head'],
      ['down', 'body'],
    ]);
    const exchanges = await summary(alice, token);
    expect(polling.bytesDown).toBe(exchanges.find((e) => e.id === polling.exchange.id)!.bytesDown);
    for (const unit of [...polling.units, ...report.up!.units]) {
      expect(unit.parts.reduce((sum, part) => sum + part.length, 0)).toBe(unit.length);
    }
    const text = (base64: string) => Buffer.from(base64, 'base64').toString();
    expect(text(report.up!.units[0]!.parts[0]!.bytes)).toBe(
      `POST /room/${room.id}/chat?trace=${token} HTTP/1.1\r\n`,
    );
    expect(report.up!.units.map((unit) => [unit.direction, unit.kind])).toEqual([
      ['up', 'head'],
      ['up', 'bytes'],
      ['down', 'head'],
      ['down', 'body'],
    ]);
    expect(text(report.up!.units[1]!.parts[0]!.bytes)).toBe('{"chat":"up and down"}');
  });

  it(`keeps the newest ${TRACES.exchanges} exchanges of a trace`, async () => {
    const alice = await newSession(server.url);
    const room = await alice.createRoom();
    const token = await newTrace(alice);
    for (let i = 0; i < TRACES.exchanges + 4; i += 1) {
      await alice
        .fetch(`/poll/room/${room.id}?after=0&wait=0&trace=${token}`)
        .then((r) => r.text());
    }
    const ids = (await summary(alice, token)).map((exchange) => exchange.id);
    expect(ids).toEqual(Array.from({ length: TRACES.exchanges }, (_, i) => i + 5));
  });

  it(`holds ${TRACES.perProcess} tokens per process, then answers 429 with Retry-After`, async () => {
    const crowd = await Promise.all(
      Array.from({ length: TRACES.perProcess }, () => newSession(server.url)),
    );
    const answers = await Promise.all(
      crowd.map((session) => session.fetch('/api/traces', { method: 'POST' })),
    );
    const refused = answers.filter((answer) => answer.status === 429);
    // Earlier cases made some tokens of their own: every one past the bound is refused.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers.get('retry-after')).toBe('60');
    await expectRefusal(refused[0]!, 429, /as many connections as it may/);
  });
});

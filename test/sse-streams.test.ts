import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSession, type Session } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * `GET /sse/room/:id` is served beside koa (transports/sse/server.ts `serve`); what it leaves to
 * koa's router (here: the same address with a trailing slash) goes through koa. Both must answer
 * alike: every case, sent once each way, gets the same status, sentence, headers and first frames.
 */

let server: TestServer;
let owner: Session;
let visitor: Session;

/** Open connections per address, low enough for a 429 to be one of the cases. */
const CONNECTIONS = 6;

beforeAll(async () => {
  server = await startServer({
    transport: 'sse',
    heartbeatMs: 200,
    limitSettings: {
      connectionsPerAddress: CONNECTIONS,
      rooms: { perSecond: 100, burst: 100 },
      liveRoomsPerUser: 100,
    },
  });
  owner = await newSession(server.url);
  visitor = await newSession(server.url);
});
afterAll(() => server.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** A refusal's body, or a stream's first bytes (up to its first `: ping`). */
  body: string;
}

/** A raw GET, so that any header can be sent; a stream is read until its first ping. */
function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      const done = () => {
        const { date: _, ...rest } = res.headers;
        resolve({ status: res.statusCode ?? 0, headers: rest, body });
      };
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.includes(': ping\n\n')) {
          req.destroy();
          done();
        }
      });
      res.on('end', done);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The case beside koa and through koa, in turn. */
async function bothWays(
  path: string,
  query = '',
  headers: Record<string, string> = {},
): Promise<[Answer, Answer]> {
  const beside = await get(`${path}${query}`, headers);
  const throughKoa = await get(`${path}/${query}`, headers);
  return [beside, throughKoa];
}

describe('GET /sse/room/:id beside koa and through it', () => {
  it('opens the same stream: headers, retry:, join and members, the ping', async () => {
    // A room each way: a second stream of the same member would not be joined again.
    const [one, two] = [await owner.createRoom(), await owner.createRoom()];
    const beside = await get(`/sse/room/${one.id}`, { cookie: owner.cookie });
    const throughKoa = await get(`/sse/room/${two.id}/`, { cookie: owner.cookie });
    expect(beside.status).toBe(200);
    expect(beside.headers).toEqual(throughKoa.headers);
    expect(beside.headers['content-security-policy']).toBeDefined();
    expect(beside.body.startsWith('retry: 2000\n\n')).toBe(true);
    const lines = (answer: Answer) => answer.body.split('\n').filter((l) => !l.startsWith('data:'));
    expect(lines(beside)).toEqual(lines(throughKoa));
    expect(beside.body).toContain('event: members');
    expect(beside.body).toContain(': ping\n\n');
  });

  it('resumes alike: Last-Event-ID wins over ?after, both replay the same', async () => {
    const room = await owner.createRoom();
    const first = await owner.say(room.id, 'one');
    await owner.say(room.id, 'two');
    const headers = { cookie: owner.cookie, 'last-event-id': String(first.seq) };
    const [beside, throughKoa] = await bothWays(`/sse/room/${room.id}`, '?after=0', headers);
    expect(beside.status).toBe(200);
    const chats = (answer: Answer) => answer.body.match(/event: chat/g)?.length ?? 0;
    expect(chats(beside)).toBe(1);
    expect(chats(throughKoa)).toBe(1);
    const [fromAfter] = await bothWays(`/sse/room/${room.id}`, '?after=0', {
      cookie: owner.cookie,
    });
    expect(chats(fromAfter)).toBe(2);
  });

  const refusals: [string, () => Promise<[string, string, Record<string, string>]>, number][] = [
    ['no session', async () => [`/sse/room/${(await owner.createRoom()).id}`, '', {}], 401],
    [
      'a forged cookie',
      async () => ['/sse/room/x', '', { cookie: 'lab.sid=abc; lab.sid.sig=x' }],
      401,
    ],
    ['an unknown room', async () => ['/sse/room/nope', '', { cookie: owner.cookie }], 404],
    ['a malformed escape', async () => ['/sse/room/%E0%A4%A', '', { cookie: owner.cookie }], 404],
    ['in Korean', async () => ['/sse/room/nope', '?lang=ko', { cookie: owner.cookie }], 404],
    [
      'by Accept-Language',
      async () => ['/sse/room/nope', '', { cookie: owner.cookie, 'accept-language': 'ko' }],
      404,
    ],
    [
      'a malformed ?after',
      async () => [
        `/sse/room/${(await owner.createRoom()).id}`,
        '?after=x',
        { cookie: owner.cookie },
      ],
      400,
    ],
    [
      'a repeated ?after',
      async () => [
        `/sse/room/${(await owner.createRoom()).id}`,
        '?after=1&after=2',
        { cookie: owner.cookie },
      ],
      400,
    ],
    [
      'a malformed Last-Event-ID',
      async () => [
        `/sse/room/${(await owner.createRoom()).id}`,
        '?after=0',
        { cookie: owner.cookie, 'last-event-id': '-1' },
      ],
      400,
    ],
    [
      'a password room',
      async () => [
        `/sse/room/${(await owner.createRoom({ password: 'secret1' })).id}`,
        '',
        { cookie: visitor.cookie },
      ],
      403,
    ],
    [
      'a kicked member',
      async () => {
        const room = await owner.createRoom();
        expect(await owner.kick(room.id, visitor.userId)).toBe(204);
        return [`/sse/room/${room.id}`, '', { cookie: visitor.cookie }];
      },
      403,
    ],
    [
      'a foreign Host',
      async () => ['/sse/room/x', '', { cookie: owner.cookie, host: 'evil.example' }],
      421,
    ],
  ];

  it.each(refusals)('refuses %s alike', async (_, make, status) => {
    const [path, query, headers] = await make();
    const [beside, throughKoa] = await bothWays(path, query, headers);
    expect(beside.status).toBe(status);
    expect(beside).toEqual(throughKoa);
  });

  it('refuses a full room alike (409)', async () => {
    const room = await owner.createRoom({ max: 2 });
    const third = await newSession(server.url);
    const member = await get(`/sse/room/${room.id}`, { cookie: visitor.cookie });
    expect(member.status).toBe(200);
    const stay = request(`${server.url}/sse/room/${room.id}`, {
      headers: { cookie: owner.cookie },
    });
    const held = new Promise((done) => stay.once('response', done));
    stay.end();
    await held;
    const helper = request(`${server.url}/sse/room/${room.id}`, {
      headers: { cookie: visitor.cookie },
    });
    const heldToo = new Promise((done) => helper.once('response', done));
    helper.end();
    await heldToo;
    const [beside, throughKoa] = await bothWays(`/sse/room/${room.id}`, '', {
      cookie: third.cookie,
    });
    stay.destroy();
    helper.destroy();
    expect(beside.status).toBe(409);
    expect(beside).toEqual(throughKoa);
  });

  it('refuses past the open connections of an address alike (429, Retry-After)', async () => {
    const room = await owner.createRoom();
    const held = [];
    for (let i = 0; i < CONNECTIONS; i += 1) {
      const req = request(`${server.url}/sse/room/${room.id}`, {
        headers: { cookie: owner.cookie },
      });
      held.push(req);
      await new Promise((done) => req.once('response', done).end());
    }
    const [beside, throughKoa] = await bothWays(`/sse/room/${room.id}`, '', {
      cookie: owner.cookie,
    });
    for (const req of held) req.destroy();
    expect(beside.status).toBe(429);
    expect(beside.headers['retry-after']).toBeDefined();
    expect(beside).toEqual(throughKoa);
  });
});

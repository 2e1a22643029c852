import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../core/model.ts';
import { JSON_LIMIT } from '../web/chat-posts.ts';
import { newSession, type Session } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * `POST /room/:id/chat` is served beside koa (web/chat-posts.ts) when its body is plain JSON and
 * its session is one koa-session verified before; everything else goes through koa. Both must
 * answer alike: the same cases, sent once each way, get the same status, sentence, headers and
 * outcome. `application/vnd.api+json` is a type koa-body parses as JSON and the path beside koa
 * leaves to koa, so it sends the very same body through koa.
 */

let server: TestServer;
let owner: Session;

beforeAll(async () => {
  // Limits on, with a small post burst, so a 429 is one of the cases.
  server = await startServer({
    transport: 'sse',
    limitSettings: { posts: { perSecond: 0.001, burst: 40 } },
  });
  owner = await newSession(server.url);
});
afterAll(() => server.close());

interface Answer {
  status: number;
  type: string | undefined;
  retryAfter: boolean;
  security: string | undefined;
  body: string;
}

/** A raw POST, so that any header and any body bytes can be sent. */
function send(
  session: Session,
  path: string,
  body: string | Buffer,
  headers: Record<string, string | number>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      { method: 'POST', headers: { cookie: session.cookie, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            retryAfter: res.headers['retry-after'] !== undefined,
            security: res.headers['content-security-policy'] as string | undefined,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The case sent beside koa (application/json) and through koa (vnd.api+json), in turn. */
async function bothWays(
  session: Session,
  path: string,
  body: string | Buffer,
  headers: Record<string, string | number> = {},
): Promise<[Answer, Answer]> {
  const beside = await send(session, path, body, {
    'content-type': 'application/json',
    ...headers,
  });
  const throughKoa = await send(session, path, body, {
    'content-type': 'application/vnd.api+json',
    ...headers,
  });
  return [beside, throughKoa];
}

async function history(room: string): Promise<string[]> {
  const response = await owner.fetch(`/api/rooms/${room}/messages?limit=200`);
  return ((await response.json()) as { messages: { chat?: string }[] }).messages.map(
    (message) => message.chat ?? '',
  );
}

describe('POST /room/:id/chat, beside koa and through it', () => {
  it('refuses every bad case alike, stores nothing for them', async () => {
    const room = (await owner.createRoom({ title: 'both ways' })).id;
    // koa-session verifies the cookie once (through koa); from then on it is known.
    expect(
      (await owner.fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: 'first' } })).status,
    ).toBe(201);
    const secret = (await owner.createRoom({ title: 'secret', password: 'pw' })).id;
    const stranger = await newSession(server.url);
    await stranger.fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: 'hello' } });

    const cases: [string, string, string | Buffer, Record<string, string | number>, number][] = [
      ['no chat', `/room/${room}/chat`, '{}', {}, 400],
      ['an empty body', `/room/${room}/chat`, '', {}, 400],
      ['an empty chat', `/room/${room}/chat`, '{"chat":""}', {}, 400],
      [
        'a chat too long',
        `/room/${room}/chat`,
        JSON.stringify({ chat: 'x'.repeat(LIMITS.chatMax + 1) }),
        {},
        400,
      ],
      ['a chat that is an object', `/room/${room}/chat`, '{"chat":{"$ne":null}}', {}, 400],
      ['an array body', `/room/${room}/chat`, '["chat"]', {}, 400],
      ['a JSON string', `/room/${room}/chat`, '"chat"', {}, 400],
      ['not JSON', `/room/${room}/chat`, '{"chat": nope', {}, 400],
      ['a __proto__ key', `/room/${room}/chat`, '{"chat":"x","__proto__":{"admin":true}}', {}, 400],
      ['a whisper to a colour', `/room/${room}/chat`, '{"chat":"psst","to":"#a3c25e"}', {}, 400],
      ['a body past 64 KiB', `/room/${room}/chat`, Buffer.alloc(JSON_LIMIT + 1, 0x20), {}, 413],
      [
        'a chunked body past 64 KiB',
        `/room/${room}/chat`,
        Buffer.alloc(JSON_LIMIT * 2, 0x20),
        { 'transfer-encoding': 'chunked' },
        413,
      ],
      ['a room that does not exist', '/room/nosuchroom000/chat', '{"chat":"x"}', {}, 404],
      ['a malformed room id', '/room/%zz/chat', '{"chat":"x"}', {}, 404],
      [
        'a foreign Origin',
        `/room/${room}/chat`,
        '{"chat":"x"}',
        { origin: 'https://evil.example' },
        403,
      ],
      ['in Korean', `/room/${room}/chat`, '{}', { 'accept-language': 'ko' }, 400],
      ['?lang=ko', `/room/${room}/chat?lang=ko`, '{}', {}, 400],
    ];
    for (const [what, path, body, headers, status] of cases) {
      const [beside, throughKoa] = await bothWays(owner, path, body, headers);
      expect(beside, what).toEqual(throughKoa);
      expect(beside.status, what).toBe(status);
      expect(beside.type, what).toBe('application/json; charset=utf-8');
      expect(beside.security, what).toMatch(/default-src 'self'/);
      const { error } = JSON.parse(beside.body) as { error: string };
      expect(error, what).toMatch(/\S/);
      expect(error, what).not.toMatch(/at .*\.ts:\d+|Error:/);
    }
    // Someone who has not entered the password room, on both ways.
    const [beside, throughKoa] = await bothWays(stranger, `/room/${secret}/chat`, '{"chat":"x"}');
    expect(beside).toEqual(throughKoa);
    expect(beside.status).toBe(403);
    expect(await history(room)).toEqual(expect.not.arrayContaining(['x', 'psst']));
    expect(await history(secret)).toEqual([]);
  });

  it('stores a good post once each way, in order, with the same answer', async () => {
    const room = (await owner.createRoom({ title: 'good posts' })).id;
    const writer = await newSession(server.url);
    // Verified once through koa, as any first post is.
    expect(
      (await writer.fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: 'hi' } })).status,
    ).toBe(201);
    const [beside, throughKoa] = await bothWays(writer, `/room/${room}/chat`, '{"chat":"one"}');
    expect([beside.status, throughKoa.status]).toEqual([201, 201]);
    const a = (JSON.parse(beside.body) as { message: Record<string, unknown> }).message;
    const b = (JSON.parse(throughKoa.body) as { message: Record<string, unknown> }).message;
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect([a.userId, a.chat, b.chat]).toEqual([writer.userId, 'one', 'one']);
    expect(b.seq).toBe((a.seq as number) + 1);
    expect((await history(room)).slice(-2)).toEqual(['one', 'one']);
    // A byte order mark, and a character of three UTF-8 bytes: read alike both ways.
    for (const body of ['\uFEFF{"chat":"bom"}', '{"chat":"안녕"}']) {
      const [withBom, koaBom] = await bothWays(writer, `/room/${room}/chat`, Buffer.from(body));
      expect([withBom.status, koaBom.status], body).toEqual([201, 201]);
      const chats = [withBom, koaBom].map(
        (answer) => (JSON.parse(answer.body) as { message: { chat: string } }).message.chat,
      );
      expect(chats, body).toEqual(Array(2).fill(body.replace(/^\uFEFF/, '').slice(9, -2)));
    }
    // A charset other than UTF-8 goes through koa, which reads it.
    const latin = await send(writer, `/room/${room}/chat`, '{"chat":"x"}', {
      'content-type': 'application/json; charset=latin1',
    });
    expect(latin.status).toBe(201);
  });

  it('past the post limit: 429 with Retry-After on both ways, nothing stored', async () => {
    const room = (await owner.createRoom({ title: 'limits' })).id;
    const poster = await newSession(server.url);
    let refused: [Answer, Answer] | undefined;
    for (let i = 0; i < 60 && !refused; i += 1) {
      const pair = await bothWays(poster, `/room/${room}/chat`, JSON.stringify({ chat: `n${i}` }));
      if (pair[0].status === 429 && pair[1].status === 429) refused = pair;
    }
    expect(refused?.[0]).toEqual(refused?.[1]);
    expect(refused?.[0].retryAfter).toBe(true);
    expect((await history(room)).length).toBe(40);
  });

  it('a body cut off midway gets no answer and stores nothing', async () => {
    const room = (await owner.createRoom({ title: 'cut off' })).id;
    const { connect } = await import('node:net');
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    const answered: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => answered.push(chunk));
    socket.write(
      `POST /room/${room}/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${owner.cookie}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"chat":"hal',
    );
    await new Promise((done) => setTimeout(done, 100));
    socket.destroy();
    await new Promise((done) => setTimeout(done, 100));
    expect(answered).toEqual([]);
    expect(await history(room)).toEqual([]);
  });
});

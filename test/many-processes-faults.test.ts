import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../core/model.ts';
import { clientFor } from './support/clients.ts';
import { eventually, newSession, type Session, sessionOf } from './support/http.ts';
import { type ServerProcess, startServerProcess } from './support/process.ts';
import { NO_REDIS, REDIS_BINARY, type RedisServer, startRedis } from './support/redis.ts';

/**
 * PROTOCOL.md, Many processes, as an attacker or a bad network finds it: real `npm start`
 * processes on one real redis-server, and real clients.
 */
const SECRET = 'many-processes-faults-secret-many-processes-faults';

async function cluster(redis: RedisServer, count: number, extra: string[] = []) {
  return Promise.all(
    Array.from({ length: count }, () =>
      startServerProcess(
        ['--store', 'redis', '--redis-url', redis.url, '--empty-room-grace', '600000', ...extra],
        { COOKIE_SECRET: SECRET },
      ),
    ),
  );
}

/** The same session (cookie) on another process. */
function on(process: ServerProcess, session: Session): Session {
  return sessionOf(process.url, session, session.cookie);
}

async function history(session: Session, room: string): Promise<Message[]> {
  const response = await session.fetch(`/api/rooms/${room}/messages?after=0&limit=200`);
  return ((await response.json()) as { messages: Message[] }).messages;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

if (!REDIS_BINARY) {
  console.info(NO_REDIS);
  describe.skip('many processes, faults', () => it('needs redis-server', () => undefined));
} else {
  describe('two processes on one Redis, attacked', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis();
      servers = await cluster(redis, 2);
    }, 60_000);
    afterAll(async () => {
      redis?.resume();
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await redis?.close();
    });

    it('gives back texts made to break the seq splice byte for byte, in the history and live on the other process', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'texts' })).id;
      const reader = clientFor('ws', servers[1]!.url, on(servers[1]!, owner));
      await reader.connectRoom(room);
      const texts = [
        '"seq":0',
        '","seq":0,"createdAt":"x',
        '\\',
        '\\"seq\\":0}',
        '}{',
        'é 漢字 😀 \u2028 \u2029 end',
        '\ud800 lone surrogate',
        `${'x'.repeat(1999)}"`,
        '\u0000 nul',
        '😀'.repeat(1000),
      ];
      const posted = [];
      for (const text of texts) posted.push(await owner.say(room, text));
      await reader.waitFor(() => reader.chats().length >= texts.length, 'the chats');
      const stored = (await history(on(servers[1]!, owner), room)).filter((m) => m.kind === 'chat');
      expect(JSON.stringify(stored)).toBe(JSON.stringify(posted));
      expect(JSON.stringify(reader.chats())).toBe(JSON.stringify(posted));
      reader.close();
    });

    it('while Redis answers nothing (SIGSTOP), posts queued in one room answer 503 within the timeout, not one after another, and none is stored later', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'paused' })).id;
      const reader = clientFor('sse', servers[1]!.url, on(servers[1]!, owner));
      await reader.connectRoom(room);
      await owner.say(room, 'before');
      await reader.waitFor(() => reader.chats().length === 1, 'the first chat');
      redis.pause();
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const response = await owner.fetch(`/room/${room}/chat`, {
            method: 'POST',
            json: { chat: `paused ${i}` },
          });
          return { status: response.status, ms: Date.now() - started, ...(await response.json()) };
        }),
      );
      redis.resume();
      for (const answer of answers) {
        expect(answer).toMatchObject({ status: 503, error: expect.stringMatching(/Redis/) });
        expect(answer.ms).toBeLessThan(8000);
      }
      // Once it answers again, posting works; what was refused with 503 never appears.
      await eventually(
        async () =>
          (await owner.fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: 'after' } }))
            .status === 201,
        15_000,
        'a post after the pause',
      );
      await reader.waitFor(() => reader.chats().some((m) => m.chat === 'after'), 'the last chat');
      const texts = (await history(owner, room)).flatMap((m) =>
        m.kind === 'chat' ? [m.chat] : [],
      );
      expect(texts).toEqual(['before', 'after']);
      expect(reader.chats().map((m) => m.chat)).toEqual(['before', 'after']);
      reader.close();
    }, 60_000);

    it('a pause of Redis longer than a lease makes no connected member exit', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'paused members' })).id;
      const guest = await newSession(servers[1]!.url);
      const watcher = clientFor('sse', servers[0]!.url, owner);
      const other = clientFor('ws', servers[1]!.url, on(servers[1]!, guest));
      await watcher.connectRoom(room);
      await other.connectRoom(room);
      await watcher.waitFor(() => watcher.events.filter((e) => e.type === 'join').length === 2);
      redis.pause();
      await sleep(11_000);
      redis.resume();
      // Past a sweep and a renewal of every process, and a member grace.
      await sleep(5000);
      await owner.say(room, 'still here');
      await watcher.waitFor(() => watcher.chats().length === 1, 'the chat');
      const said = watcher.events
        .filter((e) => ['join', 'exit', 'owner'].includes(e.type))
        .map((e) => (e.data as Message).chat);
      expect(said).toEqual([`${owner.user} joined`, `${guest.user} joined`]);
      const members = await (await on(servers[1]!, owner).fetch('/api/rooms')).json();
      expect(members).toMatchObject({
        rooms: expect.arrayContaining([
          expect.objectContaining({ id: room, ownerId: owner.userId }),
        ]),
      });
      watcher.close();
      other.close();
    }, 60_000);
  });
}

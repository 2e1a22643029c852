import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, TransportName } from '../core/model.ts';
import { clientFor } from './support/clients.ts';
import { eventually, newSession, type Session } from './support/http.ts';
import { type ServerProcess, startServerProcess } from './support/process.ts';
import { NO_REDIS, REDIS_BINARY, type RedisServer, startRedis } from './support/redis.ts';
import { on, sharedProcesses } from './support/shared-processes.ts';

/**
 * PROTOCOL.md, Many processes, as an attacker or a bad network finds it: real `npm start`
 * processes on one real redis-server, and real clients.
 */
async function history(session: Session, room: string): Promise<Message[]> {
  const response = await session.fetch(`/api/rooms/${room}/messages?after=0&limit=200`);
  return ((await response.json()) as { messages: Message[] }).messages;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

// Without redis-server every case here is skipped, with the one printed line saying why.
if (!REDIS_BINARY) console.info(NO_REDIS);

describe.skipIf(!REDIS_BINARY)('many processes, faults', () => {
  describe('two processes on one Redis, attacked', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis();
      servers = await sharedProcesses(redis, 2);
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

  describe('three processes, racing', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis();
      servers = await sharedProcesses(redis, 3, ['--empty-room-grace', '1500']);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await redis?.close();
    });

    it('lets 15 users joining a room of 4 on three processes at once in 4 times at most, and removes it once when they go', async () => {
      let owner: Session = await newSession(servers[0]!.url);
      const lobbies = servers.map((server) => clientFor('ws', server.url, on(server, owner)));
      for (const lobby of lobbies) await lobby.connectLobby();
      const room = (await owner.createRoom({ title: 'race', max: 4 })).id;
      const transports: TransportName[] = ['ws', 'sse', 'socketio'];
      const racers = await Promise.all(
        Array.from({ length: 15 }, (_, i) => newSession(servers[i % 3]!.url)),
      );
      const clients = racers.map((session, i) =>
        clientFor(transports[i % 3]!, servers[i % 3]!.url, session),
      );
      const outcomes = await Promise.allSettled(clients.map((client) => client.connectRoom(room)));
      const admitted = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
      expect(admitted).toBe(4);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ status: 409 });
      }
      const joins = (await history(on(servers[1]!, owner), room)).filter((m) =>
        m.chat?.endsWith(' joined'),
      );
      expect(joins).toHaveLength(4);
      for (const client of clients) client.close();
      for (const lobby of lobbies) {
        await lobby.waitFor(
          () => lobby.events.some((e) => e.type === 'removeRoom'),
          'removeRoom',
          15_000,
        );
      }
      await sleep(2000);
      for (const lobby of lobbies) {
        expect(lobby.events.filter((e) => e.type === 'removeRoom')).toHaveLength(1);
        lobby.close();
      }
      owner = on(servers[2]!, owner);
      expect((await owner.fetch(`/api/rooms/${room}/messages`)).status).toBe(404);
    }, 60_000);

    it("a kick on one process ends the kicked user's streams on the other two, once, and keeps them out everywhere", async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'kick across' })).id;
      const watcher = clientFor('ws', servers[0]!.url, owner);
      await watcher.connectRoom(room);
      const target = await newSession(servers[1]!.url);
      const streams = [
        clientFor('sse', servers[1]!.url, on(servers[1]!, target)),
        clientFor('socketio', servers[2]!.url, on(servers[2]!, target)),
      ];
      for (const stream of streams) await stream.connectRoom(room);
      expect(await owner.kick(room, target.userId)).toBe(204);
      for (const stream of streams) {
        await stream.waitFor(() => stream.events.some((e) => e.type === 'kicked'), 'kicked');
      }
      await sleep(3000);
      for (const server of servers) {
        const response = await on(server, target).fetch(`/api/rooms/${room}/messages`);
        expect(response.status).toBe(403);
      }
      const said = watcher.events
        .filter((e) => ['join', 'exit'].includes(e.type))
        .map((e) => (e.data as Message).chat);
      expect(said).toEqual([
        `${owner.user} joined`,
        `${target.user} joined`,
        `${target.user} left`,
      ]);
      for (const client of [watcher, ...streams]) client.close();
    }, 30_000);
  });

  describe('Redis restarted without its data', () => {
    let redis: RedisServer;
    const servers: ServerProcess[] = [];
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      await redis?.close();
    });

    it('keeps one cookie secret: a process started after the loss takes the sessions of one started before', async () => {
      // No COOKIE_SECRET: the first process makes the shared one, in Redis.
      const args = ['--store', 'redis', '--redis-url', redis.url];
      servers.push(await startServerProcess(args));
      const visitor = await newSession(servers[0]!.url);
      await redis.stop(true);
      await redis.start();
      // The first process reconnects within a second.
      await sleep(2000);
      servers.push(await startServerProcess(args));
      const me = await on(servers[1]!, visitor).fetch('/api/me');
      expect(await me.json()).toMatchObject({ userId: visitor.userId });
    }, 60_000);
  });
});

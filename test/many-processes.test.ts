import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, TransportName } from '../core/model.ts';
import { t } from '../web/views/i18n/index.ts';
import { clientFor, type TestClient } from './support/clients.ts';
import { type Front, startFront } from './support/front.ts';
import { eventually, newSession, type Session, sessionOf } from './support/http.ts';
import { type MongoForTests, mongoForTests } from './support/mongo-wire.ts';
import type { ServerProcess } from './support/process.ts';
import { NO_REDIS, REDIS_BINARY, type RedisServer, startRedis } from './support/redis.ts';
import { on, sharedProcesses } from './support/shared-processes.ts';
import { openSse } from './support/sse.ts';

/**
 * PROTOCOL.md, Many processes: real `npm start` processes sharing one real redis-server, with
 * `--store redis` and one COOKIE_SECRET, talked to by every transport's own client.
 */
async function historySeqs(session: Session, room: string): Promise<number[]> {
  const seqs: number[] = [];
  for (;;) {
    const after = seqs.at(-1) ?? 0;
    const response = await session.fetch(`/api/rooms/${room}/messages?after=${after}&limit=200`);
    const { messages } = (await response.json()) as { messages: Message[] };
    if (messages.length === 0) return seqs;
    seqs.push(...messages.map((message) => message.seq));
  }
}

// Without redis-server every case here is skipped, with the one printed line saying why.
if (!REDIS_BINARY) console.info(NO_REDIS);

describe.skipIf(!REDIS_BINARY)('many processes', () => {
  describe('three processes on one Redis', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis();
      servers = await sharedProcesses(redis, 3);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await redis?.close();
    });

    it('delivers 200 messages posted round-robin to every transport on every process, in one order, with seqs 1..N', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'shared', max: 50 })).id;
      const transports: TransportName[] = ['ws', 'sse', 'socketio', 'polling'];
      const clients: TestClient[] = [];
      for (const [i, transport] of transports.entries()) {
        const server = servers[i % 3]!;
        const session = await newSession(servers[(i + 1) % 3]!.url);
        const client = clientFor(transport, server.url, on(server, session));
        await client.connectRoom(room);
        clients.push(client);
      }
      const posted: string[] = [];
      for (let i = 0; i < 200; i += 1) {
        const text = `m${i}`;
        await on(servers[i % 3]!, owner).say(room, text);
        posted.push(text);
      }
      for (const client of clients) {
        await client.waitFor(() => client.chats().length >= 200, '200 chats', 20_000);
      }
      const orders = clients.map((client) => client.chats().map((message) => message.chat));
      for (const order of orders) expect(order).toEqual(posted);
      const seqOrders = clients.map((client) => client.chats().map((message) => message.seq));
      for (const seqs of seqOrders) expect(seqs).toEqual(seqOrders[0]);
      const seqs = await historySeqs(on(servers[2]!, owner), room);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(seqs.length).toBeGreaterThanOrEqual(200 + transports.length);
      for (const client of clients) client.close();
    }, 90_000);

    it('gives a room its last place once when two users take it on two processes at once', async () => {
      for (let round = 0; round < 5; round += 1) {
        const owner = await newSession(servers[0]!.url);
        const room = (await owner.createRoom({ title: `last place ${round}`, max: 2 })).id;
        const first = clientFor('sse', servers[0]!.url, owner);
        await first.connectRoom(room);
        const racers = await Promise.all([
          newSession(servers[1]!.url),
          newSession(servers[2]!.url),
        ]);
        const clients = racers.map((session, i) =>
          clientFor(i === 0 ? 'ws' : 'sse', servers[i + 1]!.url, session),
        );
        const outcomes = await Promise.allSettled(
          clients.map((client) => client.connectRoom(room)),
        );
        const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        expect(refused).toHaveLength(1);
        expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ status: 409 });
        for (const client of [first, ...clients]) client.close();
      }
    }, 60_000);

    it('shares sessions, rooms and the lobby: a room made on one process is listed and entered on the others', async () => {
      const owner = await newSession(servers[1]!.url);
      const lobby = clientFor('ws', servers[2]!.url, owner);
      await lobby.connectLobby();
      const room = await owner.createRoom({ title: 'seen everywhere', password: 'pw' });
      await lobby.waitFor(() => lobby.events.some((e) => e.type === 'newRoom'), 'newRoom');
      const listed = await (await on(servers[0]!, owner).fetch('/api/rooms')).json();
      expect((listed as { rooms: { id: string }[] }).rooms.map((r) => r.id)).toContain(room.id);
      const guest = await newSession(servers[0]!.url);
      expect((await on(servers[2]!, guest).fetch(`/api/rooms/${room.id}/messages`)).status).toBe(
        403,
      );
      const entered = await on(servers[1]!, guest).fetch(`/room/${room.id}/enter`, {
        method: 'POST',
        json: { password: 'pw' },
      });
      expect(entered.status).toBe(204);
      lobby.close();
    }, 30_000);
  });

  describe('kill -9 of one process while messages keep coming', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    const fronts: Front[] = [];
    beforeAll(async () => {
      redis = await startRedis();
      servers = await sharedProcesses(redis, 3);
    }, 60_000);
    afterAll(async () => {
      for (const front of fronts) await front.close();
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await redis?.close();
    });

    it('its clients resume on another process with nothing lost and nothing twice; a user only there exits', async () => {
      const [doomed, other, third] = servers as [ServerProcess, ServerProcess, ServerProcess];
      const owner = await newSession(other.url);
      const room = (await owner.createRoom({ title: 'kill -9', max: 50 })).id;
      const watcher = clientFor('ws', other.url, owner);
      await watcher.connectRoom(room);
      // Every transport's client on the doomed process, each through a front that fails over.
      const clients: TestClient[] = [];
      const users: Session[] = [];
      for (const transport of ['sse', 'polling', 'ws', 'socketio'] as const) {
        const front = await startFront(doomed.url);
        fronts.push(front);
        const session = await newSession(doomed.url);
        users.push(session);
        const client = clientFor(
          transport,
          front.url,
          sessionOf(front.url, session, session.cookie),
        );
        await client.connectRoom(room);
        clients.push(client);
      }
      // And one user whose only stream is on the doomed process, with no one to bring it back.
      const lonely = await newSession(doomed.url);
      const stream = await openSse(`${doomed.url}/sse/room/${room}`, { cookie: lonely.cookie });
      expect(stream.status).toBe(200);
      await watcher.waitFor(
        () => watcher.events.filter((e) => e.type === 'join').length >= 5,
        'joins',
      );

      const acknowledged: string[] = [];
      let posting = true;
      const poster = (async () => {
        for (let i = 0; posting; i += 1) {
          const server = i % 2 === 0 ? other : third;
          const response = await on(server, owner)
            .fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: `k${i}` } })
            .catch(() => undefined);
          if (response?.status === 201) acknowledged.push(`k${i}`);
          await response?.body?.cancel();
        }
      })();
      await eventually(() => acknowledged.length >= 30, 10_000, 'posts before the kill');
      doomed.child.kill('SIGKILL');
      const killedAt = Date.now();
      for (const front of fronts) front.pointAt(other.url);
      await watcher.waitFor(
        () =>
          watcher.events.some(
            (e) => e.type === 'exit' && (e.data as Message).chat === `${lonely.user} left`,
          ),
        'the lonely user exits',
        15_000,
      );
      const exitAfterMs = Date.now() - killedAt;
      await eventually(() => acknowledged.length >= 150, 30_000, 'posts after the kill');
      posting = false;
      await poster;

      for (const client of clients) {
        await client.waitFor(
          () => acknowledged.every((text) => client.chats().some((m) => m.chat === text)),
          'every acknowledged message',
          20_000,
        );
        const texts = client.chats().map((m) => m.chat);
        expect(new Set(texts).size, `${client.transport}: nothing twice`).toBe(texts.length);
        const seqs = client.seqs();
        expect(seqs, `${client.transport}: in seq order`).toEqual([...seqs].sort((a, b) => a - b));
        client.close();
      }
      // Within 10 s plus the member grace (2 s), and the users who came back did not exit.
      expect(exitAfterMs).toBeLessThan(12_000);
      const exits = watcher.events.filter((e) => e.type === 'exit');
      expect(exits.map((e) => (e.data as Message).chat)).toEqual([`${lonely.user} left`]);
      watcher.close();
    }, 120_000);
  });

  describe('--store mongo with --redis-url', () => {
    let redis: RedisServer;
    let mongo: MongoForTests;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis();
      mongo = await mongoForTests();
      const url = mongo.urlFor('many_processes');
      servers = await sharedProcesses(redis, 2, ['--store', 'mongo', '--mongo-url', url]);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await mongo?.close();
      await redis?.close();
    });

    it('posts on two processes at once reach both in seq order, with no gap: MongoDB gives the seq, Redis the fan-out', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'mongo and redis', max: 20 })).id;
      const readers = [clientFor('sse', servers[0]!.url, owner)];
      const guest = await newSession(servers[1]!.url);
      readers.push(clientFor('ws', servers[1]!.url, on(servers[1]!, guest)));
      for (const reader of readers) await reader.connectRoom(room);
      const posts = Array.from({ length: 60 }, (_, i) =>
        on(servers[i % 2]!, i % 4 < 2 ? owner : guest).say(room, `c${i}`),
      );
      const seqs = (await Promise.all(posts)).map((message) => message.seq).sort((a, b) => a - b);
      for (const reader of readers) {
        await reader.waitFor(() => reader.chats().length >= 60, '60 chats', 15_000);
        const got = reader.chats().map((message) => message.seq);
        expect(got, reader.transport).toEqual(seqs);
      }
      const stored = await historySeqs(owner, room);
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
      for (const reader of readers) reader.close();
    }, 60_000);
  });

  describe('Redis stopped and started again under load', () => {
    let redis: RedisServer;
    let servers: ServerProcess[];
    beforeAll(async () => {
      redis = await startRedis({ persistent: true });
      servers = await sharedProcesses(redis, 2);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(servers?.map((server) => server.stop()) ?? []);
      await redis?.close();
    });

    it('answers 503 with a sentence meanwhile, loses nothing acknowledged, and recovers by itself', async () => {
      const owner = await newSession(servers[0]!.url);
      const room = (await owner.createRoom({ title: 'outage' })).id;
      const reader = clientFor('sse', servers[1]!.url, on(servers[1]!, owner));
      await reader.connectRoom(room);
      const acknowledged: string[] = [];
      const refusals: { status: number; error: string }[] = [];
      let posting = true;
      const poster = (async () => {
        for (let i = 0; posting; i += 1) {
          const response = await owner
            .fetch(`/room/${room}/chat`, { method: 'POST', json: { chat: `p${i}` } })
            .catch(() => undefined);
          if (response?.status === 201) acknowledged.push(`p${i}`);
          else if (response) refusals.push({ status: response.status, ...(await response.json()) });
          await new Promise((done) => setTimeout(done, 20));
        }
      })();
      await eventually(() => acknowledged.length >= 20, 10_000, 'posts before the outage');
      await redis.stop(true);
      await eventually(() => refusals.length >= 3, 10_000, '503s while Redis is away');
      // A Korean reader is told the same in Korean (issue 16: every sentence a person sees).
      const korean = await owner.fetch(`/room/${room}/chat`, {
        method: 'POST',
        json: { chat: 'ko' },
        headers: { 'accept-language': 'ko' },
      });
      expect(korean.status).toBe(503);
      expect(await korean.json()).toEqual({ error: t('ko', 'error.redisUnreachable') });
      const during = acknowledged.length;
      await new Promise((done) => setTimeout(done, 1000));
      await redis.start();
      await eventually(
        () => acknowledged.length >= during + 20,
        20_000,
        'posts after Redis is back',
      );
      posting = false;
      await poster;

      expect(refusals[0]).toMatchObject({ status: 503, error: expect.stringMatching(/Redis/) });
      expect(new Set(refusals.map((refusal) => refusal.status))).toEqual(new Set([503]));
      const stored = new Set<string>();
      let after = 0;
      for (;;) {
        const response = await owner.fetch(`/api/rooms/${room}/messages?after=${after}&limit=200`);
        const { messages } = (await response.json()) as { messages: Message[] };
        if (messages.length === 0) break;
        for (const message of messages) if (message.chat) stored.add(message.chat);
        after = messages.at(-1)!.seq;
      }
      for (const text of acknowledged) expect(stored.has(text), text).toBe(true);
      await reader.waitFor(
        () => acknowledged.every((text) => reader.chats().some((m) => m.chat === text)),
        'every acknowledged message on the stream',
        15_000,
      );
      const seen = reader.chats().map((message) => message.seq);
      expect(new Set(seen).size).toBe(seen.length);
      reader.close();
    }, 90_000);
  });
});

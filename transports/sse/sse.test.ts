import type { Socket } from 'node:net';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepPosting } from '../../test/support/clients.ts';
import { eventually, memberList, newSession, type Session } from '../../test/support/http.ts';
import { type MongoForTests, mongoForTests } from '../../test/support/mongo-wire.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { openSse } from '../../test/support/sse.ts';

/**
 * The SSE transport end to end, once with the memory store and once with `--store mongo` against
 * the MongoDB wire-protocol test server (or the `mongod` of MONGO_URL): the same cases, the same
 * figures, whatever keeps the rooms and messages.
 */
describe.each(['memory', 'mongo'] as const)('--store %s', (store) => {
  let server: TestServer;
  let alice: Session;
  let bob: Session;
  let mongo: MongoForTests | undefined;

  const database = `realtime-lab-sse-${process.pid}`;
  /** The server's sockets that carry an SSE stream now (to cut them as a network would). */
  const sseSockets = new Set<Socket>();

  beforeAll(async () => {
    let stored = {};
    if (store === 'mongo') {
      mongo = await mongoForTests();
      stored = { store, mongoUrl: mongo.urlFor(database) };
    }
    server = await startServer({
      transport: 'sse',
      memberGraceMs: 300,
      limits: false,
      ...stored,
    });
    server.server.on('request', (req) => {
      if (req.url?.startsWith('/sse/')) sseSockets.add(req.socket);
    });
    alice = await newSession(server.url);
    bob = await newSession(server.url);
  });
  afterAll(async () => {
    await server.close();
    await mongo?.dropDatabase(database);
    await mongo?.close();
  });

  /**
   * The cases that write and replay thousands of messages: through the wire-protocol test server
   * (JavaScript, in this process) they take several times as long as in memory, 24 s of the 6 MB
   * replay's 30 s on a machine with other work; the time it needs, not a wait on anything.
   */
  const heavyMs = (ms: number) => (store === 'mongo' ? ms * 4 : ms);

  const roomUrl = (id: string, query = '') => `${server.url}/sse/room/${id}${query}`;

  describe('the stream', () => {
    it('starts with retry: 2000, then join and members; stored events carry id: seq', async () => {
      const room = await alice.createRoom();
      const stream = await openSse(roomUrl(room.id), { cookie: alice.cookie });
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(stream.headers.get('cache-control')).toContain('no-cache');
      await stream.waitFor(2);
      expect(stream.frames[0]).toEqual({ retry: '2000' });
      const [join, members] = stream.events();
      expect(join).toMatchObject({
        type: 'join',
        id: 1,
        data: { seq: 1, kind: 'system', user: 'system', chat: `${alice.user} joined` },
      });
      expect(members).toEqual({
        type: 'members',
        data: { members: memberList(alice), ownerId: alice.userId },
      });
      const sent = await bob.say(room.id, 'hello');
      await stream.waitFor(1, 'chat');
      expect(stream.events().at(-1)).toEqual({ type: 'chat', id: sent.seq, data: sent });
      stream.close();
    });

    it('with after=0 sends the history first, then live events', async () => {
      const room = await alice.createRoom();
      await alice.say(room.id, 'one');
      await alice.say(room.id, 'two');
      const stream = await openSse(roomUrl(room.id, '?after=0'), { cookie: bob.cookie });
      await stream.waitFor(3);
      const stored = stream.events().filter((event) => event.id !== undefined);
      expect(stored.map((event) => (event.data as { chat: string }).chat)).toEqual([
        'one',
        'two',
        `${bob.user} joined`,
      ]);
      expect(stored.map((event) => event.id)).toEqual([1, 2, 3]);
      stream.close();
    });
  });

  describe('refusals are plain HTTP statuses before any stream', () => {
    it('401 without a session, 404 for unknown and malformed rooms, 400 for a bad cursor', async () => {
      const room = await alice.createRoom();
      const cases: [string, string | undefined, number][] = [
        [roomUrl(room.id), undefined, 401],
        [roomUrl('nope'), alice.cookie, 404],
        [`${server.url}/sse/room/${'%24'.repeat(3)}`, alice.cookie, 404],
        [roomUrl(room.id, '?after=-3'), alice.cookie, 400],
        [roomUrl(room.id, '?after=1e3'), alice.cookie, 400],
      ];
      for (const [url, cookie, status] of cases) {
        const stream = await openSse(url, { cookie });
        expect(stream.status, url).toBe(status);
        expect(stream.headers.get('content-type')).toContain('application/json');
        expect(JSON.parse(stream.body).error).toEqual(expect.any(String));
      }
      const badHeader = await openSse(roomUrl(room.id), { cookie: alice.cookie, lastEventId: 'x' });
      expect(badHeader.status).toBe(400);
    });

    it('403 for a password room without the grant, then 200 after entering it', async () => {
      const room = await alice.createRoom({ password: 'pw' });
      expect((await openSse(roomUrl(room.id), { cookie: bob.cookie })).status).toBe(403);
      const enter = await bob.fetch(`/room/${room.id}/enter`, {
        method: 'POST',
        json: { password: 'pw' },
      });
      const cookie = enter.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
      const stream = await openSse(roomUrl(room.id), { cookie });
      expect(stream.status).toBe(200);
      stream.close();
    });

    it('409 when the room is full; a member is never refused (second tab)', async () => {
      const room = await alice.createRoom({ max: 2 });
      const carol = await newSession(server.url);
      const a = await openSse(roomUrl(room.id), { cookie: alice.cookie });
      const b = await openSse(roomUrl(room.id), { cookie: bob.cookie });
      const c = await openSse(roomUrl(room.id), { cookie: carol.cookie });
      expect(c.status).toBe(409);
      expect(JSON.parse(c.body).error).toBe('The room is full.');
      const page = await carol.fetch(`/room/${room.id}`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(303);
      expect(decodeURIComponent(page.headers.get('location') ?? '')).toContain('The room is full.');
      const secondTab = await openSse(roomUrl(room.id), { cookie: bob.cookie });
      expect(secondTab.status).toBe(200);
      for (const stream of [a, b, secondTab]) stream.close();
    });
  });

  describe('resume', () => {
    it('Last-Event-ID gets exactly the missed messages, in order; the header beats ?after', async () => {
      const room = await alice.createRoom();
      for (let i = 1; i <= 6; i++) await alice.say(room.id, `m${i}`);
      const stream = await openSse(roomUrl(room.id, '?after=1'), {
        cookie: bob.cookie,
        lastEventId: '4',
      });
      await stream.waitFor(3, undefined);
      const chats = stream.events().filter((event) => event.type === 'chat');
      expect(chats.map((event) => event.id)).toEqual([5, 6]);
      stream.close();
    });

    it('an EventSource that drops reconnects by itself with Last-Event-ID: nothing lost, nothing twice, while messages keep coming', async () => {
      const room = await alice.createRoom();
      const received: number[] = [];
      const source = new EventSource(roomUrl(room.id, '?after=0'), {
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            headers: { ...(init?.headers as Record<string, string>), cookie: bob.cookie },
          }),
      });
      source.addEventListener('chat', (event) => received.push(Number(event.lastEventId)));
      let opens = 0;
      source.addEventListener('open', () => {
        opens += 1;
      });
      await eventually(() => opens === 1);

      const poster = keepPosting(alice, room.id);
      // Cut the stream from the server side twice while the poster runs; the EventSource comes
      // back after the stream's `retry: 2000`.
      for (const reconnected of [2, 3]) {
        await poster.more(20);
        for (const socket of openSockets()) socket.destroy();
        await eventually(() => opens === reconnected, 10_000, 'the reconnect');
      }
      await eventually(() => poster.posted >= 60, 10_000, 'posts');
      const total = await poster.stop();
      await eventually(() => received.length >= total, 10_000, 'every message');
      source.close();
      expect(opens).toBe(3);
      const chatSeqs = received;
      expect(new Set(chatSeqs).size).toBe(chatSeqs.length);
      expect(chatSeqs.length).toBe(total);
      expect([...chatSeqs].sort((x, y) => x - y)).toEqual(chatSeqs);
    });

    it('replay racing live posts: a late subscriber with after=0 sees every message once, in seq order', {
      timeout: heavyMs(20_000),
    }, async () => {
      const room = await alice.createRoom();
      for (let i = 0; i < 300; i++) await alice.say(room.id, `h${i}`);
      const live = Promise.all(Array.from({ length: 50 }, (_, i) => alice.say(room.id, `l${i}`)));
      const stream = await openSse(roomUrl(room.id, '?after=0'), { cookie: bob.cookie });
      await live;
      await stream.waitFor(350, 'chat', heavyMs(10_000));
      const seqs = stream
        .events()
        .filter((event) => event.id !== undefined)
        .map((event) => event.id!);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      stream.close();
    });
  });

  function openSockets(): Socket[] {
    return [...sseSockets].filter((socket) => !socket.destroyed);
  }

  describe('the lobby stream', () => {
    it('needs no session and gets newRoom and roomUpdate (members and owner)', async () => {
      const lobby = await openSse(`${server.url}/sse/lobby`);
      expect(lobby.status).toBe(200);
      const room = await alice.createRoom({ title: 'lobby test' });
      // Only this room's events: an earlier test's member may leave meanwhile (a roomUpdate).
      const ofRoom = (type: string) =>
        lobby.events().find((e) => e.type === type && (e.data as { id: string }).id === room.id);
      await eventually(() => ofRoom('newRoom') !== undefined, 5000, 'newRoom');
      expect(ofRoom('newRoom')?.data).toMatchObject({
        id: room.id,
        title: 'lobby test',
        members: 0,
      });
      const member = await openSse(roomUrl(room.id), { cookie: bob.cookie });
      await eventually(() => ofRoom('roomUpdate') !== undefined, 5000, 'roomUpdate');
      expect(ofRoom('roomUpdate')?.data).toMatchObject({
        id: room.id,
        members: 1,
      });
      member.close();
      lobby.close();
    });
  });
});

/**
 * One table of cases, four transports: every case runs against each transport with that
 * transport's own client (the one the pages and the bench use) and a real server serving only
 * that transport. Where a case meets a wire that differs (a dead peer, a shutdown, a reader that
 * stopped reading), test/support/wire.ts holds the per-transport column; the case is written once.
 * What only one transport has (its frames, flags, headers) lives in transports/<name>/<name>.test.ts.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MembersPayload,
  type Message,
  TRANSPORT_NAMES,
  type TransportName,
} from '../core/model.ts';
import { ClientError } from '../transports/client.ts';
import { clientFor, keepPosting, type TestClient } from './support/clients.ts';
import {
  eventually,
  memberList,
  newSession,
  type Session,
  sessionOf,
  transportStats,
} from './support/http.ts';
import { type MongoForTests, mongoForTests } from './support/mongo-wire.ts';
import { badInputCases } from './support/raw.ts';
import { startServer, type TestServer } from './support/server.ts';
import { WIRES } from './support/wire.ts';

const MEMBER_GRACE_MS = 300;

/**
 * Every transport on the memory store, and SSE once more on `--store mongo` (the MongoDB
 * wire-protocol test server, or the `mongod` of MONGO_URL): the rows replay, kick, remove and
 * whisper through the mongo adapter too.
 */
const COLUMNS: { transport: TransportName; store: 'memory' | 'mongo' }[] = [
  ...TRANSPORT_NAMES.map((transport) => ({ transport, store: 'memory' as const })),
  { transport: 'sse', store: 'mongo' },
];

describe.each(COLUMNS)('$transport, --store $store', ({ transport, store }) => {
  /** Where this transport's wire differs in a case below (test/support/wire.ts). */
  const wire = WIRES[transport];
  /** Every client a case made, closed after the cases (a failed case leaves none open). */
  const clients: TestClient[] = [];
  let server: TestServer;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let mongo: MongoForTests | undefined;
  /** The databases this column's servers used, dropped after the cases. */
  const databases: string[] = [];
  /** The store options of a new server: for mongo, a database of its own. */
  const stored = (): { store?: 'mongo'; mongoUrl?: string } => {
    if (!mongo) return {};
    const database = `realtime-lab-table-${process.pid}-${databases.length}`;
    databases.push(database);
    return { store: 'mongo', mongoUrl: mongo.urlFor(database) };
  };

  beforeAll(async () => {
    if (store === 'mongo') mongo = await mongoForTests();
    server = await startServer({
      transport,
      memberGraceMs: MEMBER_GRACE_MS,
      pollLingerMs: 400,
      heartbeatMs: 1000,
      limits: false,
      ...stored(),
    });
    alice = await newSession(server.url);
    bob = await newSession(server.url);
    carol = await newSession(server.url);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server.close();
    for (const database of databases) await mongo?.dropDatabase(database);
    await mongo?.close();
  });

  function client(session: Session, url = server.url): TestClient {
    const made = clientFor(transport, url, session);
    clients.push(made);
    return made;
  }

  /**
   * A server of the case's own, for a case that counts (stats, connections) or ends it: nothing
   * of an earlier case (a member's exit, a lobby event) can move its figures.
   */
  function ownServer(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
    const ownStore = overrides.store === undefined ? stored() : {};
    return startServer({
      transport,
      memberGraceMs: MEMBER_GRACE_MS,
      limits: false,
      ...ownStore,
      ...overrides,
    });
  }

  const counters = (url: string) => transportStats(url, transport);

  /** Alice's and Bob's clients, both in `room`. */
  async function aliceAndBob(room: string): Promise<[TestClient, TestClient]> {
    const [a, b] = [client(alice), client(bob)];
    await a.connectRoom(room);
    await b.connectRoom(room);
    return [a, b];
  }

  const membersOf = (c: TestClient) =>
    c.events.filter((e) => e.type === 'members').at(-1)?.data as MembersPayload | undefined;

  it('join, members and exit go to every member, in that order', async () => {
    const room = await alice.createRoom();
    const a = client(alice);
    await a.connectRoom(room.id);
    await a.waitFor(() => membersOf(a)?.members.length === 1, 'own members');
    const b = client(bob);
    await b.connectRoom(room.id);
    await a.waitFor(() => membersOf(a)?.members.length === 2, 'members of two');
    expect(membersOf(a)).toEqual({ members: memberList(alice, bob), ownerId: alice.userId });
    const joins = a.events.filter((e) => e.type === 'join').map((e) => (e.data as Message).chat);
    expect(joins).toEqual([`${alice.user} joined`, `${bob.user} joined`]);
    b.close();
    await a.waitFor(() => a.events.some((e) => e.type === 'exit'), 'the exit');
    expect((a.events.find((e) => e.type === 'exit')!.data as Message).chat).toBe(
      `${bob.user} left`,
    );
    await a.waitFor(() => membersOf(a)?.members.length === 1, 'members after the exit');
    a.close();
  });

  it('chat arrives in seq order, and send() goes the transport’s way up with its answer', async () => {
    const room = await alice.createRoom();
    const [a, b] = await aliceAndBob(room.id);
    const httpBefore = await httpRequests();
    const sent = await Promise.all(Array.from({ length: 20 }, (_, i) => a.send(`m${i}`)));
    const httpAfter = await httpRequests();
    for (const message of sent)
      expect(message).toMatchObject({ room: room.id, user: alice.user, kind: 'chat' });
    expect(new Set(sent.map((m) => m.seq)).size).toBe(20);
    // ws and Socket.IO send over the socket; polling and SSE post.
    const posts = httpAfter - httpBefore - 1;
    expect(posts).toBe(transport === 'ws' || transport === 'socketio' ? 0 : 20);
    // Both the other member and the sender itself get every message, in seq order.
    for (const c of [a, b]) {
      await c.waitFor(() => c.chats().length === 20, 'twenty chats');
      const seqs = c.chats().map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(c.chats().map((m) => m.chat))).toEqual(new Set(sent.map((m) => m.chat)));
    }
    await expect(a.send('   ')).rejects.toMatchObject({ status: 400 });
    await expect(a.send('x'.repeat(2001))).rejects.toMatchObject({ status: 400 });
    await expect(a.send('hi', { toId: '#a3c25e' })).rejects.toMatchObject({ status: 400 });
    a.close();
    b.close();
  });

  async function httpRequests(): Promise<number> {
    const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as {
      http: { requests: number };
    };
    return stats.http.requests;
  }

  it('resumes after dropped connections with nothing lost and nothing twice, while messages keep coming', async () => {
    const room = await alice.createRoom();
    const b = client(bob);
    await b.connectRoom(room.id, { after: 0 });
    const poster = keepPosting(alice, room.id);
    for (let drop = 0; drop < 3; drop++) {
      await poster.more(15);
      b.drop();
    }
    await poster.more(15);
    const posted = await poster.stop();
    await b.waitFor(() => b.chats().length >= posted, `all ${posted} chats`, 15_000);
    await new Promise((done) => setTimeout(done, 100));
    const seqs = b.seqs();
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(b.chats().map((m) => m.chat)).toEqual(Array.from({ length: posted }, (_, i) => `n${i}`));
    b.close();
  });

  it('after drop() the client is open again soon, even when nothing happens in the room', async () => {
    const room = await alice.createRoom();
    const b = client(bob);
    await b.connectRoom(room.id, { after: 0 });
    const states: string[] = [];
    b.on('state', (state) => states.push(state));
    const dropped = Date.now();
    b.drop();
    await b.waitFor(() => states.includes('connecting') && b.state === 'open', 'open again', 5000);
    expect(Date.now() - dropped).toBeLessThan(3000);
    b.close();
  });

  it('refuses a full room (409), a password room without the grant (403), an unknown room (404), no session (401); never a member', async () => {
    const full = await alice.createRoom({ max: 2 });
    const [a, b] = await aliceAndBob(full.id);
    const refusal = async (session: Session, room: string) => {
      const c = client(session);
      try {
        await c.connectRoom(room);
      } catch (error) {
        expect(c.state).toBe('closed');
        return error;
      } finally {
        c.close();
      }
      return null;
    };
    const error = await refusal(carol, full.id);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ status: 409, message: 'The room is full.' });
    const locked = await alice.createRoom({ password: 'pw' });
    expect(await refusal(carol, locked.id)).toMatchObject({ status: 403 });
    expect(await refusal(carol, 'no-such-room')).toMatchObject({ status: 404 });
    expect(
      await refusal(sessionOf(server.url, { user: '', userId: '' }, ''), full.id),
    ).toMatchObject({ status: 401 });
    // A member is never refused: bob's second tab.
    const secondTab = client(bob);
    await secondTab.connectRoom(full.id);
    expect(secondTab.state).toBe('open');
    for (const each of [a, b, secondTab]) each.close();
  });

  it('kick: the kicked client is told and stops; the others see the exit; no post, no way back (403)', async () => {
    const room = await alice.createRoom();
    const [a, b] = await aliceAndBob(room.id);
    await a.waitFor(() => membersOf(a)?.members.length === 2, 'two members');
    expect(await alice.kick(room.id, bob.userId)).toBe(204);
    await b.waitFor(() => b.events.some((e) => e.type === 'kicked'), 'kicked');
    expect(b.events.find((e) => e.type === 'kicked')!.data).toEqual({ id: room.id });
    await a.waitFor(() => a.events.some((e) => e.type === 'exit'), 'exit');
    await a.waitFor(() => membersOf(a)?.members.length === 1, 'members after the exit');
    expect(membersOf(a)).toEqual({ members: memberList(alice), ownerId: alice.userId });
    expect(a.events.some((e) => e.type === 'kicked')).toBe(false);
    await alice.say(room.id, 'after the kick');
    await a.waitFor(() => a.chats().length === 1, 'the next chat');
    await new Promise((done) => setTimeout(done, 200));
    expect(b.chats()).toEqual([]);
    expect(b.state).toBe('closed');
    // The kicked user may not come back, nor post.
    await expect(b.send('still here?')).rejects.toMatchObject({ status: 403 });
    await expect(client(bob).connectRoom(room.id)).rejects.toMatchObject({ status: 403 });
    a.close();
  });

  it('whispers reach their two users only', async () => {
    const room = await alice.createRoom();
    const [a, b, c] = [client(alice), client(bob), client(carol)];
    for (const each of [a, b, c]) await each.connectRoom(room.id);
    const whisper = await a.send('for bob', { toId: bob.userId });
    expect(whisper).toMatchObject({ toId: bob.userId, to: bob.user });
    await a.send('for all');
    for (const each of [a, b, c])
      await each.waitFor(() => each.chats().some((m) => m.chat === 'for all'), 'the public chat');
    expect(a.chats().map((m) => m.chat)).toEqual(['for bob', 'for all']);
    expect(b.chats().map((m) => m.chat)).toEqual(['for bob', 'for all']);
    expect(c.chats().map((m) => m.chat)).toEqual(['for all']);
    for (const each of [a, b, c]) each.close();
  });

  it('room removal while subscribed: removeRoom on the room and the lobby; the room ends; then 404', async () => {
    const room = await alice.createRoom();
    const b = client(bob);
    const lobby = client(carol);
    await lobby.connectLobby();
    await b.connectRoom(room.id);
    expect((await alice.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    await b.waitFor(() => b.events.some((e) => e.type === 'removeRoom'), 'removeRoom');
    await lobby.waitFor(
      () =>
        lobby.events.some(
          (e) => e.type === 'removeRoom' && (e.data as { id: string }).id === room.id,
        ),
      'lobby removeRoom',
    );
    expect(b.events.find((e) => e.type === 'removeRoom')!.data).toEqual({ id: room.id });
    await b.waitFor(() => b.state === 'closed', 'the room closed');
    await expect(client(bob).connectRoom(room.id)).rejects.toMatchObject({ status: 404 });
    b.close();
    lobby.close();
  });

  it('the lobby gets newRoom and roomUpdate', async () => {
    const lobby = client(carol);
    await lobby.connectLobby();
    const room = await alice.createRoom({ title: `lobby ${transport}` });
    await lobby.waitFor(
      () =>
        lobby.events.some((e) => e.type === 'newRoom' && (e.data as { id: string }).id === room.id),
      'newRoom',
    );
    const b = client(bob);
    await b.connectRoom(room.id);
    await lobby.waitFor(
      () =>
        lobby.events.some(
          (e) =>
            e.type === 'roomUpdate' && (e.data as { id: string; members: number }).members === 1,
        ),
      'roomUpdate',
    );
    b.close();
    lobby.close();
  });

  it('connectRoom resolves once live; after=0 brings the history first; lastSeq follows the chats', async () => {
    const room = await alice.createRoom();
    await alice.say(room.id, 'before');
    const b = client(bob);
    const states: string[] = [];
    b.on('state', (state) => states.push(state));
    await b.connectRoom(room.id, { after: 0 });
    expect(b.state).toBe('open');
    const sent = await b.send('mine');
    await b.waitFor(() => b.chats().length === 2, 'the history and the own chat');
    expect(b.chats().map((m) => m.chat)).toEqual(['before', 'mine']);
    expect(b.lastSeq).toBe(sent.seq);
    b.close();
    expect(b.state).toBe('closed');
    expect(states).toEqual(['connecting', 'open', 'closed']);
  });

  it('stats: connections, requests, eventsOut and bytes move as the client sees them', async () => {
    const own = await ownServer();
    try {
      const owner = await newSession(own.url);
      const room = await owner.createRoom();
      const before = await counters(own.url);
      expect(before.connections).toBe(0);
      const c = client(owner, own.url);
      await c.connectRoom(room.id);
      await c.send('counted');
      // join, members and the chat (polling may bring `members` after the chat).
      await c.waitFor(() => c.events.length === 3, 'join, members, chat');
      // Polling: the next poll pending again.
      await eventually(async () => (await counters(own.url)).connections === 1, 5000, 'one');
      const during = await counters(own.url);
      // Every event the client got, and nothing else (acknowledgements are not events).
      expect(c.events.map((e) => e.type).sort()).toEqual(['chat', 'join', 'members']);
      expect(during.eventsOut - before.eventsOut).toBe(c.events.length);
      const [fewest, most] = wire.stats.requests;
      expect(during.requests - before.requests).toBeGreaterThanOrEqual(fewest);
      expect(during.requests - before.requests).toBeLessThanOrEqual(most);
      // The events' JSON and more (headers, framing) out; requests (headers included) in.
      const payload = JSON.stringify(c.events.map((e) => e.data)).length;
      expect(during.bytesOut - before.bytesOut).toBeGreaterThan(payload);
      expect(during.bytesIn - before.bytesIn).toBeGreaterThan(100);
      // The lobby on the same client: its own stream (polling, SSE) or the same socket.
      await c.connectLobby();
      await eventually(
        async () => (await counters(own.url)).connections === wire.stats.withLobby,
        5000,
        `${wire.stats.withLobby} connections with the lobby`,
      );
      c.close();
      await eventually(async () => (await counters(own.url)).connections === 0, 5000, 'none');
    } finally {
      await own.close();
    }
  });

  it('a client that stops reading is cut off past the bound, and resumes by seq with nothing lost', {
    timeout: 60_000,
  }, async () => {
    const own = await ownServer();
    try {
      const [owner, reader] = [await newSession(own.url), await newSession(own.url)];
      const room = await owner.createRoom();
      const stalled = await wire.stall({
        url: own.url,
        port: own.port,
        session: reader,
        room: room.id,
      });
      const before = await counters(own.url);
      expect(before.cutOffs).toBe(0);
      // 2000 characters each: at least 600 (past the 1 MiB bound), and on until the server has
      // let the reader go (its kernel buffers take some megabytes first).
      const chat = 'x'.repeat(2000);
      let posted = 0;
      /** The reader's queue on /api/stats after each batch, until it is cut off. */
      const queued: number[] = [];
      for (let batch = 0; batch < 100; batch++) {
        await Promise.all(Array.from({ length: 50 }, () => owner.say(room.id, chat)));
        posted += 50;
        const stats = await counters(own.url);
        if (stats.cutOffs === 0) queued.push(stats.largestQueueBytes);
        if (posted >= 600 && stats.connections === 0 && stats.cutOffs > 0) break;
      }
      const after = await counters(own.url);
      expect(after.connections).toBe(0);
      // Cut off by the bound, once; its queue grew towards the bound first (polling: the seat's
      // buffer, one answer's worth of events), and the reader was the only one with a queue.
      expect(after.cutOffs).toBe(1);
      const growing = queued.filter((bytes) => bytes > 0);
      expect(growing.length, `the samples ${queued}`).toBeGreaterThanOrEqual(2);
      expect(growing).toEqual([...growing].sort((x, y) => x - y));
      expect(growing.at(-1)).toBeGreaterThan(growing[0]!);
      expect(Math.max(...growing)).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
      await stalled.resume();
      // The resume replays more than the bound in one burst: a client that reads gets it whole,
      // and then the live chats under the bound again.
      const c = client(reader, own.url);
      await c.connectRoom(room.id, { after: 0 });
      await c.waitFor(() => c.chats().length === posted, `the ${posted} chats`, 30_000);
      const live = await owner.say(room.id, 'live');
      await c.waitFor(() => c.chats().at(-1)?.seq === live.seq, 'the live chat');
      const seqs = c.chats().map((m) => m.seq);
      expect(new Set(seqs).size).toBe(posted + 1);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(c.state).toBe('open');
      c.close();
    } finally {
      await own.close();
    }
  });

  it(`heartbeat: ${wire.heartbeat.what}; a live client stays`, async () => {
    const quick = await ownServer({ memberGraceMs: 100, heartbeatMs: 200, pollLingerMs: 300 });
    try {
      const [owner, peer] = [await newSession(quick.url), await newSession(quick.url)];
      const room = await owner.createRoom();
      const watcher = client(owner, quick.url);
      await watcher.connectRoom(room.id);
      const states: string[] = [];
      watcher.on('state', (state) => states.push(state));
      const context = { url: quick.url, port: quick.port, session: peer, room: room.id };
      const started = Date.now();
      const { dies, done } = await wire.heartbeat.peer(context);
      await done;
      if (dies) {
        const left = `${peer.user} left`;
        await watcher.waitFor(
          () => watcher.events.some((e) => e.type === 'exit' && (e.data as Message).chat === left),
          'the dead peer’s exit',
        );
        expect(Date.now() - started).toBeGreaterThanOrEqual(wire.heartbeat.notBeforeMs);
      }
      // The watcher lived through the same beats: still open, never reconnected, still served.
      const sent = await owner.say(room.id, 'still here');
      await watcher.waitFor(() => watcher.chats().some((m) => m.seq === sent.seq), 'a chat');
      expect(watcher.state).toBe('open');
      expect(states).toEqual([]);
      watcher.close();
    } finally {
      await quick.close();
    }
  });

  it(`shutdown: ${wire.shutdown.what}; the clients keep trying and resume on the next server`, async () => {
    const doomed = await ownServer({ store: 'file', keepData: true });
    let revived: TestServer | undefined;
    let closing: Promise<void> | undefined;
    try {
      const [owner, peer] = [await newSession(doomed.url), await newSession(doomed.url)];
      const [room, quiet] = [await owner.createRoom(), await peer.createRoom()];
      const held = await wire.shutdown.hold({
        url: doomed.url,
        port: doomed.port,
        session: peer,
        room: quiet.id,
      });
      const c = client(owner, doomed.url);
      await c.connectRoom(room.id, { after: 0 });
      const lobby = client(owner, doomed.url);
      await lobby.connectLobby();
      const started = Date.now();
      closing = doomed.close();
      await closing;
      expect(Date.now() - started).toBeLessThan(2000);
      await held.ended();
      await c.waitFor(() => c.state === 'connecting', 'the client to notice');
      // The same port and data dir: the room, its messages and the session's cookie hold.
      revived = await ownServer({ store: 'file', dataDir: doomed.dataDir, port: doomed.port });
      await c.waitFor(() => c.state === 'open', 'the resume', 10_000);
      const sent = await owner.say(room.id, 'after the restart');
      await c.waitFor(
        () => c.chats().some((m) => m.seq === sent.seq),
        'the chat on the next server',
      );
      const seqs = c.seqs();
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      const next = await owner.createRoom({ title: 'after the restart' });
      await lobby.waitFor(
        () =>
          lobby.events.some(
            (e) => e.type === 'newRoom' && (e.data as { id: string }).id === next.id,
          ),
        'the lobby on the next server',
        10_000,
      );
      c.close();
      lobby.close();
    } finally {
      await (closing ?? doomed.close());
      await revived?.close();
      await rm(doomed.dataDir, { recursive: true, force: true });
    }
  });

  describe('bad input is answered with a clear error and loses nothing', () => {
    for (const [name, run] of Object.entries(badInputCases[transport])) {
      it(name, async () => {
        const room = await alice.createRoom();
        await run({ url: server.url, port: server.port, session: alice, room: room.id });
      });
    }
  });

  it('other transports’ endpoints answer 404', async () => {
    const room = await alice.createRoom();
    const paths = {
      polling: `/poll/room/${room.id}?wait=0`,
      sse: `/sse/room/${room.id}`,
      ws: '/ws',
      socketio: '/socket.io/?EIO=4&transport=polling',
    };
    for (const [name, path] of Object.entries(paths)) {
      const response = await alice.fetch(path);
      if (name === transport) expect(response.status, name).not.toBe(404);
      else expect(response.status, name).toBe(404);
      await response.body?.cancel();
    }
  });
});

describe('one room, four transports', () => {
  it('each of four clients sends, and all four receive all four messages in one identical order', async () => {
    const server = await startServer({ transport: 'all' });
    const clients: TestClient[] = [];
    try {
      const owner = await newSession(server.url);
      const room = await owner.createRoom({ title: 'four ways' });
      const sessions = await Promise.all(TRANSPORT_NAMES.map(() => newSession(server.url)));
      clients.push(...TRANSPORT_NAMES.map((name, i) => clientFor(name, server.url, sessions[i]!)));
      for (const c of clients) await c.connectRoom(room.id);
      await Promise.all(clients.map((c, i) => c.send(`from ${TRANSPORT_NAMES[i]}`)));
      for (const c of clients) await c.waitFor(() => c.chats().length === 4, 'four chats');
      const orders = clients.map((c) => c.chats().map((m) => `${m.seq}:${m.chat}`));
      for (const order of orders) expect(order).toEqual(orders[0]);
      expect(new Set(orders[0]!.map((entry) => entry.split(':')[1]))).toEqual(
        new Set(TRANSPORT_NAMES.map((name) => `from ${name}`)),
      );
      // Every client also saw the same members list in the end.
      const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as {
        transports: Record<string, { eventsOut: number }>;
      };
      for (const name of TRANSPORT_NAMES)
        expect(stats.transports[name]!.eventsOut).toBeGreaterThan(0);
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
  });
});

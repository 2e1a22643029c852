/**
 * One table of cases, four transports: every case runs against each transport with that
 * transport's own client (the one the pages and the bench use) and a real server serving only
 * that transport. Transport-specific wire details live in transports/<name>/<name>.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type MembersPayload,
  type Message,
  TRANSPORT_NAMES,
  type TransportName,
} from '../core/model.ts';
import { ClientError } from '../transports/client.ts';
import { clientFor, type TestClient } from './support/clients.ts';
import { memberList, newSession, type Session, sessionOf } from './support/http.ts';
import { badInputCases } from './support/raw.ts';
import { startServer, type TestServer } from './support/server.ts';

const MEMBER_GRACE_MS = 300;

describe.each(TRANSPORT_NAMES)('%s', (transport: TransportName) => {
  let server: TestServer;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startServer({
      transport,
      memberGraceMs: MEMBER_GRACE_MS,
      pollLingerMs: 400,
      heartbeatMs: 1000,
      limits: false,
    });
    alice = await newSession(server.url);
    bob = await newSession(server.url);
    carol = await newSession(server.url);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  function client(session: Session): TestClient {
    const made = clientFor(transport, server.url, session);
    clients.push(made);
    return made;
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
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
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
    let posted = 0;
    let posting = true;
    const poster = (async () => {
      for (; posting; posted++) await alice.say(room.id, `n${posted}`);
    })();
    for (let drop = 0; drop < 3; drop++) {
      const target = posted + 15;
      await b.waitFor(() => posted >= target, 'posts');
      b.drop();
    }
    const target = posted + 15;
    await b.waitFor(() => posted >= target, 'posts');
    posting = false;
    await poster;
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

  it('refuses a full room (409), a password room without the grant (403), an unknown room (404), no session (401)', async () => {
    const full = await alice.createRoom({ max: 2 });
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(full.id);
    await b.connectRoom(full.id);
    const refusal = async (session: Session, room: string) => {
      const c = client(session);
      try {
        await c.connectRoom(room);
      } catch (error) {
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
    a.close();
    b.close();
  });

  it('kick: the kicked client is told and stops; the others see the exit', async () => {
    const room = await alice.createRoom();
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(room.id);
    await b.connectRoom(room.id);
    await a.waitFor(() => membersOf(a)?.members.length === 2, 'two members');
    expect(
      (await alice.fetch(`/room/${room.id}/kick`, { method: 'POST', json: { userId: bob.userId } }))
        .status,
    ).toBe(204);
    await b.waitFor(() => b.events.some((e) => e.type === 'kicked'), 'kicked');
    expect(b.events.find((e) => e.type === 'kicked')!.data).toEqual({ id: room.id });
    await a.waitFor(() => a.events.some((e) => e.type === 'exit'), 'exit');
    expect(a.events.some((e) => e.type === 'kicked')).toBe(false);
    await alice.say(room.id, 'after the kick');
    await a.waitFor(() => a.chats().length === 1, 'the next chat');
    await new Promise((done) => setTimeout(done, 200));
    expect(b.chats()).toEqual([]);
    expect(b.state).toBe('closed');
    a.close();
  });

  it('whispers reach their two users only', async () => {
    const room = await alice.createRoom();
    const [a, b, c] = [client(alice), client(bob), client(carol)];
    for (const each of [a, b, c]) await each.connectRoom(room.id);
    await a.send('for bob', { toId: bob.userId });
    await a.send('for all');
    for (const each of [a, b, c])
      await each.waitFor(() => each.chats().some((m) => m.chat === 'for all'), 'the public chat');
    expect(a.chats().map((m) => m.chat)).toEqual(['for bob', 'for all']);
    expect(b.chats().map((m) => m.chat)).toEqual(['for bob', 'for all']);
    expect(c.chats().map((m) => m.chat)).toEqual(['for all']);
    for (const each of [a, b, c]) each.close();
  });

  it('room removal while subscribed: removeRoom on the room and the lobby', async () => {
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
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ transport: 'all' });
  });
  afterAll(() => server.close());

  it('each of four clients sends, and all four receive all four messages in one identical order', async () => {
    const owner = await newSession(server.url);
    const room = await owner.createRoom({ title: 'four ways' });
    const sessions = await Promise.all(TRANSPORT_NAMES.map(() => newSession(server.url)));
    const clients = TRANSPORT_NAMES.map((name, i) => clientFor(name, server.url, sessions[i]!));
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
    for (const c of clients) c.close();
  });
});

import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Message } from '../../core/model.ts';
import { keepPosting, recorded } from '../../test/support/clients.ts';
import {
  eventually,
  memberList,
  newSession,
  postBigHistory,
  type Session,
} from '../../test/support/http.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { engineSocket as openEngineSocket } from '../../test/support/socketio.ts';
import type { ClientError } from '../client.ts';
import { SocketIoClient, type SocketIoClientOptions } from './client.ts';

let server: TestServer;
let alice: Session;
let bob: Session;
let carol: Session;
/** Everything a test opened, closed after it. */
const opened: { close(): void }[] = [];

beforeAll(async () => {
  server = await startServer({ transport: 'socketio', memberGraceMs: 300, limits: false });
  alice = await newSession(server.url);
  bob = await newSession(server.url);
  carol = await newSession(server.url);
});
afterEach(async () => {
  for (const each of opened.splice(0)) each.close();
  await eventually(async () => (await stats()).socketio.connections === 0, 5000, 'no connections');
});
afterAll(() => server.close());

const EVIL = 'http://evil.example';

/** A bare socket.io-client socket on a namespace, without reconnection. */
function rawSocket(
  nsp: '/chat' | '/room',
  options: { cookie?: string; origin?: string; transports?: string[]; url?: string } = {},
): Socket {
  const extraHeaders: Record<string, string> = {};
  if (options.cookie) extraHeaders.cookie = options.cookie;
  if (options.origin) extraHeaders.origin = options.origin;
  const socket = io(`${options.url ?? server.url}${nsp}`, {
    forceNew: true,
    reconnection: false,
    extraHeaders,
    ...(options.transports ? { transports: options.transports } : {}),
  });
  opened.push({ close: () => socket.disconnect() });
  return socket;
}

/** Resolves with 'connected' or the connect_error's message and data. */
function outcome(socket: Socket): Promise<{ message: string; data?: unknown }> {
  return new Promise((done) => {
    socket.once('connect', () => done({ message: 'connected' }));
    socket.once('connect_error', (error) =>
      done({ message: error.message, data: (error as { data?: unknown }).data }),
    );
  });
}

async function connected(socket: Socket): Promise<Socket> {
  expect((await outcome(socket)).message).toBe('connected');
  return socket;
}

function record(socket: Socket, types: readonly string[]) {
  const events: { type: string; data: unknown }[] = [];
  for (const type of types) socket.on(type, (data: unknown) => events.push({ type, data }));
  return events;
}

function ack(socket: Socket, event: string, ...args: unknown[]) {
  return socket.timeout(3000).emitWithAck(event, ...args) as Promise<Record<string, unknown>>;
}

/** This transport's client for a session, recording every event it reports. */
function client(session: Session, options: Partial<SocketIoClientOptions> = {}) {
  const made = new SocketIoClient({
    baseUrl: server.url,
    cookie: session.cookie,
    reconnectionDelayMs: 100,
    ...options,
  });
  opened.push(made);
  return recorded(made);
}

interface Counters {
  connections: number;
  requests: number;
  eventsOut: number;
  bytesOut: number;
  bytesIn: number;
}

async function stats(url = server.url): Promise<{ socketio: Counters; http: Counters }> {
  const body = (await (await fetch(`${url}/api/stats`)).json()) as {
    transports: { socketio: Counters };
    http: Counters;
  };
  return { socketio: body.transports.socketio, http: body.http };
}

async function storedChats(room: string): Promise<string[]> {
  const response = await alice.fetch(`/api/rooms/${room}/messages`);
  const { messages } = (await response.json()) as { messages: Message[] };
  return messages.filter((m) => m.kind === 'chat').map((m) => m.chat!);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('the endpoint', () => {
  it('engine.io answers /socket.io/ (koa never does); every other path still reaches koa', async () => {
    const response = await alice.fetch('/socket.io/?EIO=4&transport=polling');
    expect(response.status).toBe(200);
    // koa sets these on everything it answers.
    expect(response.headers.get('content-security-policy')).toBeNull();
    const body = await response.text();
    expect(body.startsWith('0{')).toBe(true);
    const open = JSON.parse(body.slice(1)) as { sid: string };
    expect(open).toMatchObject({ sid: expect.any(String), maxPayload: 65536 });
    await closeSession(open.sid);
    const me = await alice.fetch('/api/me');
    expect(me.status).toBe(200);
    expect(me.headers.get('content-security-policy')).not.toBeNull();
    const outside = await alice.fetch('/socket.io');
    expect(outside.status).toBe(404);
    expect(await outside.json()).toEqual({ error: expect.any(String) });
  });

  it('serves the client script the book loads, as JavaScript, counted as Socket.IO bytes', async () => {
    const before = await stats();
    const response = await fetch(`${server.url}/socket.io/socket.io.js`, {
      headers: { 'accept-encoding': 'identity' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const script = await response.text();
    expect(script).toMatch(/^\/\*!\n \* Socket\.IO v4\./);
    expect(script).toContain('function lookup');
    const after = await stats();
    expect(after.socketio.requests - before.socketio.requests).toBe(1);
    expect(after.socketio.bytesOut - before.socketio.bytesOut).toBeGreaterThan(
      Buffer.byteLength(script),
    );
    // The second GET /api/stats, nothing else.
    expect(after.http.requests - before.http.requests).toBe(1);
    // Its cache check, and the minified kin; a name Socket.IO does not serve is engine.io's.
    const etag = response.headers.get('etag')!;
    const again = await fetch(`${server.url}/socket.io/socket.io.js`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect((await fetch(`${server.url}/socket.io/socket.io.min.js`)).status).toBe(200);
    const other = await fetch(`${server.url}/socket.io/other.js`);
    expect(other.status).toBe(400);
    await other.body?.cancel();
  });

  it('a foreign Origin is refused: the polling handshake, a websocket-only client, and later polls and upgrades of a session', async () => {
    const poll = await alice.fetch('/socket.io/?EIO=4&transport=polling', {
      headers: { origin: EVIL },
    });
    expect(poll.status).toBe(403);
    expect(await poll.json()).toMatchObject({ message: expect.stringContaining('Origin') });
    for (const transports of [undefined, ['websocket'], ['polling']]) {
      const refused = await outcome(
        rawSocket('/chat', { cookie: alice.cookie, origin: EVIL, transports }),
      );
      expect(refused.message, String(transports)).not.toBe('connected');
    }
    expect(await upgradeStatus('/socket.io/?EIO=4&transport=websocket', { origin: EVIL })).toBe(
      400,
    );
    // A session opened from the right origin, then used from another one.
    const open = await alice.fetch('/socket.io/?EIO=4&transport=polling', {
      headers: { origin: server.url },
    });
    const { sid } = JSON.parse((await open.text()).slice(1)) as { sid: string };
    const later = await alice.fetch(`/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      headers: { origin: EVIL },
    });
    expect(later.status).toBe(400);
    await later.body?.cancel();
    const upgrade = `/socket.io/?EIO=4&transport=websocket&sid=${sid}`;
    expect(await upgradeStatus(upgrade, { origin: EVIL })).toBe(400);
    await closeSession(sid);
    // Its own origin, or none (programs), is welcome.
    for (const origin of [server.url, undefined]) {
      await connected(rawSocket('/chat', { cookie: alice.cookie, origin }));
      await connected(
        rawSocket('/chat', { cookie: alice.cookie, origin, transports: ['websocket'] }),
      );
    }
  });

  it('/chat without a session fails with connect_error "unauthorized" (its data says 401); the client rejects with 401', async () => {
    for (const transports of [undefined, ['websocket']]) {
      const refused = await outcome(rawSocket('/chat', { transports }));
      expect(refused).toEqual({
        message: 'unauthorized',
        data: { status: 401, error: expect.stringContaining('/api/me') },
      });
    }
    const room = await alice.createRoom();
    const anonymous = client({ ...alice, cookie: '' });
    await expect(anonymous.connectRoom(room.id)).rejects.toMatchObject({ status: 401 });
    expect(anonymous.state).toBe('closed');
  });
});

describe('namespace /chat', () => {
  it("the book's form: join with a bare room id; events come by name, the payload being the event's data, stored ones with their seq", async () => {
    const room = await alice.createRoom();
    const socket = await connected(rawSocket('/chat', { cookie: alice.cookie }));
    const events = record(socket, ['join', 'members', 'chat']);
    socket.emit('join', room.id);
    await eventually(() => events.length >= 2, 3000, 'join and members');
    expect(events[0]).toEqual({
      type: 'join',
      data: expect.objectContaining({
        seq: 1,
        room: room.id,
        user: 'system',
        kind: 'system',
        chat: `${alice.user} joined`,
      }),
    });
    expect(events[1]).toEqual({
      type: 'members',
      data: { members: memberList(alice), ownerId: alice.userId },
    });
    const sent = await bob.say(room.id, 'hello');
    await eventually(() => events.length === 3, 3000, 'the chat');
    expect(events[2]).toEqual({ type: 'chat', data: sent });
  });

  it('join {room, after} is acknowledged with {ok:true} before anything is sent, then the history, then live events', async () => {
    const room = await alice.createRoom();
    await alice.say(room.id, 'one');
    await alice.say(room.id, 'two');
    const socket = await connected(rawSocket('/chat', { cookie: bob.cookie }));
    const log: string[] = [];
    for (const type of ['chat', 'join', 'members']) {
      socket.on(type, (data: Message) => log.push(data.seq ? `${type}:${data.seq}` : type));
    }
    // A plain callback: it runs as the acknowledgement is read, before any later packet.
    const answer = await new Promise((done) => {
      socket.emit('join', { room: room.id, after: 0 }, (answer: unknown) => {
        log.push('ack');
        done(answer);
      });
    });
    expect(answer).toEqual({ ok: true });
    await eventually(() => log.includes('members'), 3000, 'members');
    await alice.say(room.id, 'three');
    await eventually(() => log.includes('chat:4'), 3000, 'the live chat');
    expect(log).toEqual(['ack', 'chat:1', 'chat:2', 'join:3', 'members', 'chat:4']);
  });

  it('chat with an ack answers {message}; leave ends the subscription', async () => {
    const room = await alice.createRoom();
    const socket = await connected(rawSocket('/chat', { cookie: alice.cookie }));
    const events = record(socket, ['chat']);
    expect(await ack(socket, 'join', room.id)).toEqual({ ok: true });
    const answer = await ack(socket, 'chat', { room: room.id, chat: '  hi  ' });
    expect(answer).toEqual({
      message: expect.objectContaining({ room: room.id, user: alice.user, chat: 'hi', seq: 2 }),
    });
    await eventually(() => events.length === 1, 3000, 'own chat');
    expect(await ack(socket, 'leave', room.id)).toEqual({ ok: true });
    await bob.say(room.id, 'after leave');
    await sleep(200);
    expect(events).toHaveLength(1);
    // A whisper goes over the socket too, to a userId.
    const whisper = await ack(socket, 'chat', { room: room.id, chat: 'psst', toId: bob.userId });
    expect(whisper).toMatchObject({ message: { toId: bob.userId, to: bob.user } });
  });

  it('refusals come back in the join acknowledgement: 404, 403 (password), 409; the socket stays', async () => {
    const full = await alice.createRoom({ max: 2 });
    const locked = await alice.createRoom({ password: 'pw' });
    const a = client(alice);
    const b = client(bob);
    await a.connectRoom(full.id);
    await b.connectRoom(full.id);
    const socket = await connected(rawSocket('/chat', { cookie: carol.cookie }));
    expect(await ack(socket, 'join', 'no-such-room')).toEqual({
      error: 'This room does not exist (any more).',
      status: 404,
    });
    expect(await ack(socket, 'join', locked.id)).toMatchObject({ status: 403 });
    expect(await ack(socket, 'join', { room: full.id })).toEqual({
      error: 'The room is full.',
      status: 409,
    });
    expect(socket.connected).toBe(true);
  });
});

describe('namespace /room (the lobby)', () => {
  it('needs no session and streams newRoom, roomUpdate and removeRoom', async () => {
    const socket = await connected(rawSocket('/room'));
    const all = record(socket, ['newRoom', 'roomUpdate', 'removeRoom']);
    const room = await alice.createRoom({ title: 'lobby test' });
    // Rooms of earlier tests may still report their members leaving.
    const events = () =>
      all.filter((e) => e.data === room.id || (e.data as { id?: string }).id === room.id);
    await eventually(() => events().length === 1, 3000, 'newRoom');
    // The book's payloads: `_id` and a `password` flag beside the Room.
    expect(events()[0]).toEqual({
      type: 'newRoom',
      data: { ...room, members: 0, _id: room.id, password: false },
    });
    await client(bob).connectRoom(room.id);
    await eventually(() => events().length === 2, 3000, 'roomUpdate');
    expect(events()[1]).toEqual({
      type: 'roomUpdate',
      data: expect.objectContaining({ id: room.id, _id: room.id, password: false, members: 1 }),
    });
    expect((await alice.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(() => events().some((e) => e.type === 'removeRoom'), 3000, 'removeRoom');
    // The book compares the row's `data-id` with the payload: the bare id.
    expect(events().at(-1)).toEqual({ type: 'removeRoom', data: room.id });
    expect(await ack(socket, 'join', room.id)).toMatchObject({ status: 400 });
  });
});

describe('the client lobby', () => {
  it("reports what every transport's client does: the Room alone, and removeRoom as {id}", async () => {
    const c = client(carol);
    await c.connectLobby();
    const room = await alice.createRoom({ title: 'secret', password: 'pw' });
    const ofRoom = () => c.events.filter((e) => (e.data as { id?: string }).id === room.id);
    await eventually(() => ofRoom().length === 1, 3000, 'newRoom');
    expect(ofRoom()[0]).toEqual({ type: 'newRoom', data: { ...room, members: 0 } });
    expect((await alice.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(() => ofRoom().length === 2, 3000, 'removeRoom');
    expect(ofRoom()[1]).toEqual({ type: 'removeRoom', data: { id: room.id } });
  });

  it('after a drop, what changed meanwhile is reported as lobby events (lobby events carry no cursor)', async () => {
    const gone = await alice.createRoom({ title: 'going' });
    const c = client(carol, { reconnectionDelayMs: 300 });
    await c.connectLobby();
    let created: { id: string } | undefined;
    // Only these two rooms: on a busy machine an earlier test's room, empty for the grace, may go.
    const changes = () =>
      c.events.filter(
        (e) =>
          ['newRoom', 'removeRoom'].includes(e.type) &&
          [gone.id, created?.id].includes((e.data as { id?: string } | null)?.id),
      );
    await eventually(() => c.wire === 'websocket', 3000, 'the upgrade');
    c.drop();
    created = await alice.createRoom({ title: 'new while away' });
    expect((await alice.fetch(`/room/${gone.id}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(() => changes().length === 2, 5000, 'the changes');
    expect(changes()).toEqual(
      expect.arrayContaining([
        { type: 'removeRoom', data: { id: gone.id } },
        { type: 'newRoom', data: expect.objectContaining({ id: created.id }) },
      ]),
    );
  });
});

describe('bad input', () => {
  // The rest of it is a case of test/transports.test.ts (test/support/raw.ts, socketIoCases).
  it('a packet that is not Socket.IO closes the connection (Socket.IO’s own rule), nothing else', async () => {
    const { ws, frames } = await engineSocket(alice.cookie);
    const closed = new Promise((done) => ws.once('close', done));
    ws.send('42/chat,{not json');
    await closed;
    expect(frames[0]).toMatch(/^0\{/);
    const still = await connected(rawSocket('/chat', { cookie: alice.cookie }));
    expect(still.connected).toBe(true);
  });
});

describe('the client', () => {
  for (const transports of [undefined, ['websocket'], ['polling']] as const) {
    const name = transports?.join() ?? 'polling then websocket';
    it(`${name}: joins, sends over the socket with an ack, gets the history with after=0`, async () => {
      const room = await alice.createRoom();
      await alice.say(room.id, 'before');
      const httpBefore = (await stats()).http.requests;
      const c = client(bob, transports ? { transports: [...transports] } : {});
      await c.connectRoom(room.id, { after: 0 });
      expect(c.state).toBe('open');
      const sent = await c.send('mine');
      expect(sent).toMatchObject({ room: room.id, user: bob.user, chat: 'mine' });
      await eventually(() => c.chats().length === 2, 3000, 'two chats');
      expect(c.chats().map((m) => m.chat)).toEqual(['before', 'mine']);
      expect(c.lastSeq).toBe(sent.seq);
      // Nothing went through koa: only this stats request.
      expect((await stats()).http.requests).toBe(httpBefore + 1);
      if (transports?.[0] === 'polling') expect(c.wire).toBe('polling');
      else await eventually(() => c.wire === 'websocket', 3000, 'the upgrade to websocket');
    });
  }

  // The default (polling, then the upgrade) is a case of test/transports.test.ts.
  for (const transports of [['websocket'], ['polling']] as const) {
    const name = transports.join();
    it(`${name}: resumes after drop() with nothing lost and nothing twice, while messages keep coming`, async () => {
      const room = await alice.createRoom();
      const c = client(bob, { transports: [...transports] });
      await c.connectRoom(room.id, { after: 0 });
      const poster = keepPosting(alice, room.id);
      let opens = 0;
      c.on('state', (state) => {
        if (state === 'open') opens += 1;
      });
      for (let drop = 1; drop <= 3; drop++) {
        await poster.more(15, 5000);
        c.drop();
        await eventually(() => opens === drop, 5000, `reconnect ${drop}`);
      }
      await poster.more(15, 5000);
      const posted = await poster.stop();
      await eventually(() => c.chats().length >= posted, 10_000, `all ${posted} chats`);
      await sleep(100);
      const seqs = c.seqs();
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(c.chats().map((m) => m.chat)).toEqual(
        Array.from({ length: posted }, (_, i) => `n${i}`),
      );
      expect(c.lastSeq).toBe(seqs.at(-1));
    });
  }

  it('a send during an outage is sent after the reconnect (Socket.IO buffers it) or rejects with 504; never both', async () => {
    const room = await alice.createRoom();
    for (const [ackTimeoutMs, expected] of [
      [5000, 'sent'],
      [1, 504],
    ] as const) {
      const c = client(bob, { ackTimeoutMs, reconnectionDelayMs: 200 });
      await c.connectRoom(room.id);
      c.drop();
      const result = await c.send(`during ${ackTimeoutMs}`).then(
        () => 'sent',
        (error: ClientError) => error.status,
      );
      expect(result).toBe(expected);
      await eventually(() => c.state === 'open', 3000, 'the reconnect');
    }
    await sleep(200);
    expect(await storedChats(room.id)).toEqual(['during 5000']);
  });
});

/** A bare engine.io websocket (test/support/socketio.ts), closed after the test. */
async function engineSocket(cookie: string) {
  const engine = await openEngineSocket(server.port, cookie);
  opened.push({ close: () => engine.ws.terminate() });
  return engine;
}

/** Ends an engine.io session opened by hand: a `close` packet (type 1) in a POST. */
async function closeSession(sid: string): Promise<void> {
  const response = await alice.fetch(`/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain;charset=UTF-8' },
    body: '1',
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

/** The status a raw upgrade request gets (101 when accepted). */
function upgradeStatus(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, {
      headers: { cookie: alice.cookie, ...headers },
    });
    ws.on('upgrade', (response) => {
      done(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('unexpected-response', (_request, response) => {
      done(response.statusCode ?? 0);
      response.resume();
    });
    ws.on('error', () => done(0));
  });
}

describe('replays asked for and never read', () => {
  it('a connection that joins with the whole history again and again, reading none, is closed', async () => {
    const room = await alice.createRoom();
    await postBigHistory(alice, room.id);
    const socket = await connected(
      rawSocket('/chat', { cookie: bob.cookie, transports: ['websocket'] }),
    );
    const closed = new Promise<string>((done) =>
      socket.once('disconnect', (reason) => done(reason)),
    );
    const engine = socket.io.engine as unknown as {
      transport: { ws: { _socket: { pause(): void } } };
    };
    engine.transport.ws._socket.pause();
    for (let i = 0; i < 8; i++) {
      socket.emit('join', { room: room.id, after: 0 });
      await new Promise((done) => setTimeout(done, 100));
    }
    const reason = await Promise.race([
      closed,
      new Promise((done) => setTimeout(() => done('still open'), 10_000)),
    ]);
    expect(reason).not.toBe('still open');
  });
});

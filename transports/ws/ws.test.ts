import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { keepPosting } from '../../test/support/clients.ts';
import {
  eventually,
  memberList,
  newSession,
  postBigHistory,
  type Session,
} from '../../test/support/http.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { follow, nextError, openWs as rawWs, wsUrl } from '../../test/support/ws.ts';
import { WsClient } from './client.ts';

let server: TestServer;
let alice: Session;
let bob: Session;

beforeAll(async () => {
  // A long heartbeat here: the heartbeat case of test/transports.test.ts has a short one.
  server = await startServer({
    transport: 'ws',
    memberGraceMs: 300,
    heartbeatMs: 60_000,
    limits: false,
  });
  alice = await newSession(server.url);
  bob = await newSession(server.url);
});
afterAll(() => server?.close());

/** A raw socket on this file's server (test/support/ws.ts). */
const openWs = (cookie: string | undefined) => rawWs(server.url, cookie);

/** An upgrade by hand, to read the server's exact answer on the raw socket. */
async function rawUpgrade(path: string, headers: Record<string, string>): Promise<string> {
  const socket = connect(server.port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk) => {
    answer += chunk;
  });
  const lines = Object.entries({
    Host: `127.0.0.1:${server.port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
  await new Promise((done) => socket.once('close', done));
  return answer;
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function client(session: Session): WsClient {
  return new WsClient({ baseUrl: server.url, cookie: session.cookie, WebSocket });
}

/** The server's upgraded sockets that are still open (to cut them as a network would). */
const upgraded = new Set<Socket>();
const collectUpgrade = (_req: unknown, socket: Socket) => upgraded.add(socket);
beforeAll(() => {
  server.server.on('upgrade', collectUpgrade);
});
function serverSockets(): Socket[] {
  return [...upgraded].filter((socket) => !socket.destroyed);
}

describe('the upgrade', () => {
  it('is refused with 401 and a JSON sentence without a session', async () => {
    const answer = await rawUpgrade('/ws', {});
    expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(answer).toContain('Content-Type: application/json\r\n');
    expect(answer).toContain('Connection: close\r\n');
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!).error).toMatch(/session/);
    await expect(openWs(undefined)).rejects.toThrow('upgrade 401');
  });

  it('is refused with 403 from a foreign Origin, accepted from its own', async () => {
    const foreign = await rawUpgrade('/ws', {
      Origin: 'http://evil.example',
      Cookie: alice.cookie,
    });
    expect(foreign).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(JSON.parse(foreign.split('\r\n\r\n')[1]!).error).toMatch(/Origin/);
    const own = new WebSocket(wsUrl(server.url), {
      headers: { cookie: alice.cookie },
      origin: server.url,
    });
    await new Promise((done, fail) => {
      own.once('open', done);
      own.once('error', fail);
    });
    own.close();
  });

  it('on another path, with nobody else to answer it, ends the socket', async () => {
    // The test's own upgrade listener would count as someone else.
    server.server.off('upgrade', collectUpgrade);
    try {
      const answer = await rawUpgrade('/elsewhere', { Cookie: alice.cookie });
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    } finally {
      server.server.on('upgrade', collectUpgrade);
    }
  });

  it('GET /ws without an upgrade answers what the upgrade would: 401, 403, else 426', async () => {
    expect((await fetch(`${server.url}/ws`)).status).toBe(401);
    const foreign = await alice.fetch('/ws', { headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    const fine = await alice.fetch('/ws');
    expect(fine.status).toBe(426);
    expect(((await fine.json()) as { error: string }).error).toEqual(expect.any(String));
  });
});

describe('frames', () => {
  it('subscribed, then join and members; events are {type, id, data} with id = seq', async () => {
    const room = await alice.createRoom();
    const ws = await openWs(alice.cookie);
    ws.send({ type: 'subscribe', room: room.id });
    await ws.waitFor('members');
    expect(ws.frames[0]).toEqual({ type: 'subscribed', data: { room: room.id } });
    expect(ws.frames[1]).toMatchObject({
      type: 'join',
      id: 1,
      data: { seq: 1, kind: 'system', user: 'system', chat: `${alice.user} joined` },
    });
    expect(ws.frames[2]).toEqual({
      type: 'members',
      data: { members: memberList(alice), ownerId: alice.userId },
    });
    const sent = await bob.say(room.id, 'hello');
    await ws.waitFor('chat');
    expect(ws.frames.at(-1)).toEqual({ type: 'chat', id: sent.seq, data: sent });
    ws.close();
  });

  it('with after, the history comes first (after subscribed), then live events', async () => {
    const room = await alice.createRoom();
    await alice.say(room.id, 'one');
    await alice.say(room.id, 'two');
    const ws = await openWs(bob.cookie);
    await follow(ws, room.id, 0);
    await ws.waitFor('join');
    await alice.say(room.id, 'three');
    await ws.waitFor('chat', 3);
    expect(ws.frames[0]!.type).toBe('subscribed');
    const stored = ws.frames.filter((f) => f.id !== undefined);
    expect(stored.map((f) => f.id)).toEqual([1, 2, 3, 4]);
    expect(stored.map((f) => f.data.chat)).toEqual(['one', 'two', `${bob.user} joined`, 'three']);
    ws.close();
  });

  it('a chat frame with ref gets `sent`; without ref, the own chat event is the ack', async () => {
    const room = await alice.createRoom();
    const ws = await openWs(alice.cookie);
    await follow(ws, room.id);
    ws.send({ type: 'chat', room: room.id, chat: '  with ref  ', ref: 'a1' });
    const [sent] = await ws.waitFor('sent');
    expect(sent!.data).toMatchObject({
      ref: 'a1',
      message: { chat: 'with ref', user: alice.user },
    });
    const message = sent!.data.message as { seq: number };
    await ws.waitFor((f) => f.type === 'chat' && f.id === message.seq);
    ws.send({ type: 'chat', room: room.id, chat: 'no ref' });
    await ws.waitFor('chat', 2);
    await sleep(50);
    expect(ws.frames.filter((f) => f.type === 'sent')).toHaveLength(1);
    // Posting needs no subscription; a numeric ref comes back as it went.
    ws.send({ type: 'unsubscribe', room: room.id });
    ws.send({ type: 'chat', room: room.id, chat: 'unsubscribed', ref: 7 });
    await ws.waitFor('sent', 2);
    expect(ws.frames.filter((f) => f.type === 'sent')[1]!.data.ref).toBe(7);
    ws.close();
  });

  it('chat refusals are error frames carrying the ref: 400, 403, 404', async () => {
    const room = await alice.createRoom();
    const locked = await alice.createRoom({ password: 'pw' });
    const ws = await openWs(bob.cookie);
    const cases: [unknown, number][] = [
      [{ type: 'chat', room: room.id, chat: '   ', ref: 'r1' }, 400],
      [{ type: 'chat', room: room.id, chat: 'x'.repeat(2001), ref: 'r2' }, 400],
      [{ type: 'chat', room: room.id, chat: { $ne: null }, ref: 'r3' }, 400],
      [{ type: 'chat', room: room.id, ref: 'r4' }, 400],
      [{ type: 'chat', room: room.id, chat: 'hi', toId: 'bob', ref: 'r5' }, 400],
      [{ type: 'chat', room: room.id, chat: 'hi', toId: { $gt: '' }, ref: 'r6' }, 400],
      [{ type: 'chat', room: room.id, chat: 'hi', to: '#a3c25e', ref: 'r6b' }, 400],
      [{ type: 'chat', room: 'nope', chat: 'hi', ref: 'r7' }, 404],
      [{ type: 'chat', room: { $ne: null }, chat: 'hi', ref: 'r8' }, 404],
      [{ type: 'chat', room: locked.id, chat: 'hi', ref: 'r9' }, 403],
    ];
    for (const [frame, status] of cases) {
      const error = await nextError(ws, frame);
      expect(error, JSON.stringify(frame)).toEqual({
        error: expect.any(String),
        status,
        ref: (frame as { ref: string }).ref,
      });
    }
    expect(ws.socket.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});

describe('subscriptions', () => {
  it('refusals (404, 403, 409) are error frames naming the room; the socket stays open', async () => {
    const full = await alice.createRoom({ max: 2 });
    const locked = await alice.createRoom({ password: 'pw' });
    const carol = await newSession(server.url);
    const a = await openWs(alice.cookie);
    const b = await openWs(bob.cookie);
    await follow(a, full.id);
    await follow(b, full.id);
    const c = await openWs(carol.cookie);
    expect(await nextError(c, { type: 'subscribe', room: full.id })).toEqual({
      error: 'The room is full.',
      status: 409,
      room: full.id,
    });
    expect(await nextError(c, { type: 'subscribe', room: locked.id })).toMatchObject({
      status: 403,
      room: locked.id,
    });
    expect(await nextError(c, { type: 'subscribe', room: 'missing' })).toMatchObject({
      status: 404,
      room: 'missing',
    });
    // A member is never refused: bob's second tab.
    const secondTab = await openWs(bob.cookie);
    await follow(secondTab, full.id);
    expect(c.socket.readyState).toBe(WebSocket.OPEN);
    for (const ws of [a, b, c, secondTab]) ws.close();
  });

  it('one socket follows several rooms and the lobby; unsubscribe stops a room', async () => {
    const one = await alice.createRoom();
    const two = await alice.createRoom();
    const ws = await openWs(bob.cookie);
    await follow(ws, one.id);
    await follow(ws, two.id);
    ws.send({ type: 'subscribe', lobby: true });
    await ws.waitFor((f) => f.type === 'subscribed' && f.data.lobby === true);
    await alice.say(one.id, 'in one');
    await alice.say(two.id, 'in two');
    await ws.waitFor('chat', 2);
    ws.send({ type: 'unsubscribe', room: one.id });
    ws.send({ type: 'unsubscribe', room: 'never-followed' });
    // The POSTs below go on another connection: they could overtake the unsubscribe. The server
    // reads a socket's frames in order, so once a later frame is answered the unsubscribe is done.
    ws.send({ type: 'subscribe', lobby: true });
    await ws.waitFor((f) => f.type === 'subscribed' && f.data.lobby === true, 2);
    await alice.say(one.id, 'one again');
    await alice.say(two.id, 'two again');
    const three = await alice.createRoom({ title: 'third' });
    await ws.waitFor((f) => f.type === 'newRoom' && f.data.id === three.id);
    await ws.waitFor('chat', 3);
    await sleep(50);
    const chats = ws.frames.filter((f) => f.type === 'chat').map((f) => f.data.chat);
    expect(chats).toEqual(['in one', 'in two', 'two again']);
    expect(ws.frames.filter((f) => f.type === 'error')).toEqual([]);
    ws.close();
  });

  it('subscribing again to a followed room replaces it: a resume, no duplicate, no exit', async () => {
    const room = await alice.createRoom();
    const ws = await openWs(bob.cookie);
    await follow(ws, room.id, 0);
    await alice.say(room.id, 'a');
    await ws.waitFor('chat');
    await follow(ws, room.id, 1);
    await alice.say(room.id, 'b');
    await ws.waitFor('chat', 3);
    await sleep(400);
    const stored = ws.frames.filter((f) => f.id !== undefined);
    // join(1), a(2) on the first; a(2) again after `after: 1`, then b(3): each once per subscription.
    expect(stored.map((f) => [f.type, f.id])).toEqual([
      ['join', 1],
      ['chat', 2],
      ['chat', 2],
      ['chat', 3],
    ]);
    ws.close();
  });

  it('kicked: the frame, then that room goes quiet; the socket and its lobby stay; 403 after', async () => {
    const room = await alice.createRoom();
    const owner = await openWs(alice.cookie);
    await follow(owner, room.id);
    const ws = await openWs(bob.cookie);
    ws.send({ type: 'subscribe', lobby: true });
    await follow(ws, room.id);
    expect(await alice.kick(room.id, bob.userId)).toBe(204);
    await ws.waitFor('kicked');
    expect(ws.frames.find((f) => f.type === 'kicked')).toEqual({
      type: 'kicked',
      data: { id: room.id },
    });
    await owner.waitFor('exit');
    const before = ws.frames.length;
    await alice.say(room.id, 'after the kick');
    await owner.waitFor('chat');
    const other = await alice.createRoom();
    await ws.waitFor((f) => f.type === 'newRoom' && f.data.id === other.id);
    expect(ws.frames.slice(before).some((f) => f.type === 'chat')).toBe(false);
    expect(await nextError(ws, { type: 'subscribe', room: room.id })).toMatchObject({
      status: 403,
      room: room.id,
    });
    ws.close();
    owner.close();
  });

  it('room removal: removeRoom on the room subscription and on the lobby, then 404', async () => {
    const room = await alice.createRoom();
    const ws = await openWs(bob.cookie);
    await follow(ws, room.id);
    ws.send({ type: 'subscribe', lobby: true });
    await ws.waitFor('subscribed', 2);
    expect((await alice.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    const removals = await ws.waitFor('removeRoom', 2);
    expect(removals).toEqual([
      { type: 'removeRoom', data: { id: room.id } },
      { type: 'removeRoom', data: { id: room.id } },
    ]);
    expect(await nextError(ws, { type: 'subscribe', room: room.id })).toMatchObject({
      status: 404,
    });
    ws.close();
  });
});

describe('WsClient', () => {
  it('drop() and server-side cuts while messages keep coming: nothing lost, nothing twice', async () => {
    const room = await alice.createRoom();
    const chat = client(bob);
    const received: number[] = [];
    chat.on('chat', (message) => received.push(message.seq));
    const states: string[] = [];
    chat.on('state', (state) => states.push(state));
    await chat.connectRoom(room.id, { after: 0 });

    const poster = keepPosting(alice, room.id);
    for (const cut of ['drop', 'server', 'drop', 'server']) {
      await poster.more(15);
      if (cut === 'drop') chat.drop();
      else for (const socket of serverSockets()) socket.destroy();
      await eventually(() => chat.state === 'connecting', 5000, 'the drop');
      await eventually(() => chat.state === 'open', 10_000, 'the reconnect');
    }
    const posted = await poster.stop();
    const last = (await alice.say(room.id, 'last')).seq;
    await eventually(() => received.includes(last), 10_000, 'every message');
    chat.close();
    expect(received.length).toBe(posted + 1);
    expect(new Set(received).size).toBe(received.length);
    expect([...received].sort((x, y) => x - y)).toEqual(received);
    expect(states.filter((state) => state === 'open').length).toBe(5);
  }, 60_000);

  it('the lobby: live events, and after a drop the changes it missed, as events', async () => {
    // A WebSocket that cannot reach the server while the gate is closed (port 1 refuses).
    const gate = { closed: false, refused: 0 };
    class GatedWebSocket extends WebSocket {
      constructor(url: string, options?: { headers: Record<string, string> }) {
        if (gate.closed) gate.refused += 1;
        super(gate.closed ? url.replace(/:\d+\//, ':1/') : url, options);
      }
    }
    const lobby = new WsClient({
      baseUrl: server.url,
      cookie: alice.cookie,
      WebSocket: GatedWebSocket,
    });
    const events: [string, string][] = [];
    for (const type of ['newRoom', 'roomUpdate', 'removeRoom'] as const) {
      lobby.on(type, (data) => events.push([type, data.id]));
    }
    const gone = await alice.createRoom({ title: 'will go' });
    await lobby.connectLobby();
    const fresh = await alice.createRoom({ title: 'fresh' });
    await eventually(() => events.some(([t, id]) => t === 'newRoom' && id === fresh.id));
    const member = client(bob);
    await member.connectRoom(fresh.id);
    await eventually(() => events.some(([t, id]) => t === 'roomUpdate' && id === fresh.id));

    // While the lobby is away (its reconnects are refused): one room goes, one comes.
    gate.closed = true;
    lobby.drop();
    await eventually(() => gate.refused >= 1, 5000, 'a refused reconnect');
    events.length = 0;
    await alice.fetch(`/room/${gone.id}`, { method: 'DELETE' });
    const missed = await alice.createRoom({ title: 'missed' });
    gate.closed = false;
    await eventually(
      () =>
        events.some(([t, id]) => t === 'removeRoom' && id === gone.id) &&
        events.some(([t, id]) => t === 'newRoom' && id === missed.id),
      10_000,
      'the resync',
    );
    expect(events.filter(([, id]) => id === missed.id)).toEqual([['newRoom', missed.id]]);
    member.close();
    lobby.close();
  });
});

describe('replays asked for and never read', () => {
  it('a socket that asks for the whole history again and again, reading none, is cut off', async () => {
    const room = await alice.createRoom();
    await postBigHistory(alice, room.id);
    const ws = await openWs(bob.cookie);
    (ws.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      ws.send({ type: 'subscribe', room: room.id, after: 0 });
      await sleep(100);
    }
    const code = await Promise.race([ws.closed, sleep(10_000).then(() => 'still open')]);
    expect(code).not.toBe('still open');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

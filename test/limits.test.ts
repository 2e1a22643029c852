/**
 * PROTOCOL.md, Limits, on the real server with real clients, on every transport each limit
 * applies to. Most servers here stop the limits' clock (`limitClock`), so that no bucket refills
 * while a test empties it and every count is exact; the burst of posts runs on the real clock.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRANSPORT_NAMES, type TransportName } from '../core/model.ts';
import type { ServerOptions } from '../server.ts';
import { cookieHeader, eventually, newSession, type Session, sessionOf } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

const servers: TestServer[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function serve(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = await startServer(options);
  servers.push(server);
  return server;
}

/** A server whose limits' clock stands still: buckets empty and never refill. */
function frozen(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const now = Date.now();
  return serve({ limitClock: () => now, ...options });
}

/** A 429 as PROTOCOL.md puts it: `Retry-After` in whole seconds and a sentence. */
async function expectRefused(response: Response, retryAfter?: string): Promise<string> {
  expect(response.status).toBe(429);
  expect(response.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  if (retryAfter !== undefined) expect(response.headers.get('retry-after')).toBe(retryAfter);
  const { error } = (await response.json()) as { error: string };
  expect(error).toMatch(/wait|remove|close/);
  return error;
}

async function storedChats(session: Session, room: string) {
  const response = await session.fetch(`/api/rooms/${room}/messages?after=0&limit=1000`);
  const { messages } = (await response.json()) as {
    messages: { kind: string; seq: number; chat?: string }[];
  };
  return messages.filter((m) => m.kind !== 'system');
}

function enter(session: Session, room: string, password: string): Promise<Response> {
  return session.fetch(`/room/${room}/enter`, { method: 'POST', json: { password } });
}

/** Who sends where: a server, a session, and a room of it. */
interface Seat {
  server: TestServer;
  session: Session;
  room: string;
}

/** One send on a transport's way up: the message's seq, or the refusal's status. */
type Outcome = { seq: number } | { status: number };

/** Opens a way up and returns a function that sends one chat on it. */
type WayUp = (seat: Seat) => Promise<(chat: string) => Promise<Outcome>>;

const post: WayUp =
  async ({ session, room }) =>
  async (chat) => {
    const response = await session.fetch(`/room/${room}/chat`, { method: 'POST', json: { chat } });
    if (response.status === 201) {
      return { seq: ((await response.json()) as { message: { seq: number } }).message.seq };
    }
    if (response.status === 429) await expectRefused(response);
    else await response.body?.cancel();
    return { status: response.status };
  };

type WsFrame = { type: string; data: Record<string, unknown> };

const wsFrame: WayUp = async ({ server, session, room }) => {
  const socket = await openWs(server, session);
  const answers = new Map<string, (frame: WsFrame) => void>();
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as WsFrame;
    answers.get(String(frame.data.ref))?.(frame);
  });
  let refs = 0;
  return async (chat) => {
    const ref = `r${++refs}`;
    const frame = await new Promise<WsFrame>((done) => {
      answers.set(ref, done);
      socket.send(JSON.stringify({ type: 'chat', room, chat, ref }));
    });
    if (frame.type === 'sent') return { seq: (frame.data.message as { seq: number }).seq };
    expect(frame).toEqual({ type: 'error', data: { error: expect.any(String), status: 429, ref } });
    return { status: frame.data.status as number };
  };
};

const socketIoEmit: WayUp = async ({ server, session, room }) => {
  const socket = await openSocketIo(server, session);
  return async (chat) => {
    const answer = (await socket.timeout(10_000).emitWithAck('chat', { room, chat })) as {
      message?: { seq: number };
      error?: string;
      status?: number;
    };
    if (answer.message) return { seq: answer.message.seq };
    expect(answer).toEqual({ error: expect.any(String), status: expect.any(Number) });
    return { status: answer.status! };
  };
};

/** Each transport's way up (PROTOCOL.md, Transports): polling and SSE send by POST. */
const WAYS_UP: Record<TransportName, [string, WayUp]> = {
  polling: ['POST /room/:id/chat', post],
  sse: ['POST /room/:id/chat', post],
  ws: ['the chat frame with ref', wsFrame],
  socketio: ['the chat emit with an acknowledgement', socketIoEmit],
};

function openWs(server: TestServer, session: Session): Promise<WebSocket> {
  return new Promise((done, fail) => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { cookie: session.cookie },
    });
    closers.push(() => socket.terminate());
    socket.once('open', () => done(socket));
    socket.once('error', fail);
  });
}

/** A ws upgrade that must be refused: its status and Retry-After. */
function refusedUpgrade(url: string, cookie: string): Promise<{ status: number; retry?: string }> {
  return new Promise((done, fail) => {
    const socket = new WebSocket(url, { headers: { cookie } });
    closers.push(() => socket.terminate());
    socket.once('open', () => fail(new Error(`the upgrade to ${url} was accepted`)));
    socket.once('unexpected-response', (_req, res) => {
      done({ status: res.statusCode!, retry: res.headers['retry-after'] as string | undefined });
      res.destroy();
    });
    socket.once('error', () => undefined);
  });
}

async function openSocketIo(server: TestServer, session: Session): Promise<Socket> {
  const socket = io(`${server.url}/chat`, {
    forceNew: true,
    reconnection: false,
    extraHeaders: { cookie: session.cookie },
  });
  closers.push(() => socket.disconnect());
  await new Promise<void>((done, fail) => {
    socket.once('connect', () => done());
    socket.once('connect_error', fail);
  });
  return socket;
}

async function connections(server: TestServer, transport: TransportName): Promise<number> {
  const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as {
    transports: Record<string, { connections: number }>;
  };
  return stats.transports[transport]!.connections;
}

describe('chat and GIF posts: 20 a second per session, bursts of 200', () => {
  describe.each(TRANSPORT_NAMES)('%s', (transport) => {
    const [way, open] = WAYS_UP[transport];

    it(`a burst of 400 on ${way}: at least 200 accepted, the rest 429, never a 500, and exactly the accepted stored`, async () => {
      const server = await serve({ transport });
      const alice = await newSession(server.url);
      const room = (await alice.createRoom()).id;
      const send = await open({ server, session: alice, room });
      const started = Date.now();
      const outcomes = await Promise.all(Array.from({ length: 400 }, (_, i) => send(`m${i}`)));
      const elapsedS = (Date.now() - started) / 1000;
      const accepted = outcomes.filter((o): o is { seq: number } => 'seq' in o);
      const statuses = outcomes
        .filter((o) => 'status' in o)
        .map((o) => (o as { status: number }).status);
      expect(new Set(statuses)).toEqual(new Set([429]));
      expect(accepted.length).toBeGreaterThanOrEqual(200);
      // The bucket refills at 20 a second while the burst is under way, and no faster.
      expect(accepted.length).toBeLessThanOrEqual(200 + Math.ceil(elapsedS * 20) + 1);
      const stored = await storedChats(alice, room);
      expect(stored.map((m) => m.seq)).toEqual(accepted.map((o) => o.seq).sort((a, b) => a - b));
      // The limit is per session: another one still sends.
      const bob = await newSession(server.url);
      expect(await (await open({ server, session: bob, room }))('from bob')).toHaveProperty('seq');
    });
  });

  it('a GIF post takes from the same bucket, and a refused upload leaves no file behind', async () => {
    const server = await frozen();
    const alice = await newSession(server.url);
    const { id } = await alice.createRoom();
    const gif = () => {
      const form = new FormData();
      form.append('gif', new Blob([Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;')]), 'a.gif');
      return alice.fetch(`/room/${id}/gif`, { method: 'POST', body: form });
    };
    expect((await gif()).status).toBe(201);
    for (let i = 0; i < 199; i += 1) await alice.say(id, `m${i}`);
    await expectRefused(await gif(), '1');
    await expectRefused(
      await alice.fetch(`/room/${id}/chat`, { method: 'POST', json: { chat: 'one more' } }),
      '1',
    );
    expect(await storedChats(alice, id)).toHaveLength(200);
    expect(await readdir(join(server.dataDir, 'gifs'))).toHaveLength(1);
    expect(await readdir(join(server.dataDir, 'tmp'))).toEqual([]);
  });
});

describe('password attempts: 10 a minute per session and room, 60 per address', () => {
  it('the 11th attempt of a session on a room gets 429 with Retry-After, even with the right password', async () => {
    const server = await frozen();
    const owner = await newSession(server.url);
    const guesser = await newSession(server.url);
    const locked = await owner.createRoom({ password: 'right' });
    const other = await owner.createRoom({ password: 'right' });
    for (let i = 0; i < 10; i += 1)
      expect((await enter(guesser, locked.id, `w${i}`)).status).toBe(403);
    await expectRefused(await enter(guesser, locked.id, 'w10'), '6');
    await expectRefused(await enter(guesser, locked.id, 'right'), '6');
    // Refused, the page shows the form again with the sentence, not a redirect.
    const form = await guesser.postForm(`/room/${locked.id}/enter`, 'password=right');
    expect(form.status).toBe(429);
    expect(form.headers.get('retry-after')).toBe('6');
    expect(await form.text()).toContain('Too many password attempts');
    // Per room and per session: the other room, and another session, still get their answer.
    expect((await enter(guesser, other.id, 'right')).status).toBe(204);
    expect((await enter(await newSession(server.url), locked.id, 'right')).status).toBe(204);
    // The owner and rooms without a password are no attempt.
    for (let i = 0; i < 15; i += 1) expect((await enter(owner, locked.id, 'x')).status).toBe(204);
  });

  it("the book's GET /room/:id?password= counts as an attempt, in the same bucket as /enter", async () => {
    const server = await frozen();
    const owner = await newSession(server.url);
    const guesser = await newSession(server.url);
    const locked = await owner.createRoom({ password: 'right' });
    const byAddress = (password: string, accept = 'application/json') =>
      guesser.fetch(`/room/${locked.id}?password=${password}`, { headers: { accept } });
    for (let i = 0; i < 5; i += 1) {
      expect((await enter(guesser, locked.id, `w${i}`)).status).toBe(403);
      expect((await byAddress(`q${i}`)).status).toBe(403);
    }
    await expectRefused(await byAddress('right'), '6');
    await expectRefused(await enter(guesser, locked.id, 'right'), '6');
    // A page is sent back to the form with the sentence, the password out of the address.
    const page = await byAddress('right', 'text/html');
    expect(page.status).toBe(303);
    const location = new URL(page.headers.get('location')!, server.url);
    expect(location.pathname).toBe(`/room/${locked.id}`);
    expect(location.searchParams.get('error')).toMatch(/^Too many password attempts/);
    expect(location.search).not.toContain('right');
    // Another session still gets its answer.
    const other = await newSession(server.url);
    const entered = await other.fetch(`/room/${locked.id}?password=right`);
    expect(entered.status).toBe(303);
    expect(entered.headers.get('location')).toBe(`/room/${locked.id}`);
  });

  it('the 61st attempt from one address, across sessions, gets 429', async () => {
    const server = await frozen();
    const owner = await newSession(server.url);
    const locked = await owner.createRoom({ password: 'right' });
    for (let s = 0; s < 6; s += 1) {
      const session = await newSession(server.url);
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => enter(session, locked.id, `w${s}-${i}`)),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(403));
    }
    const late = await newSession(server.url);
    const sentence = await expectRefused(await enter(late, locked.id, 'right'), '1');
    expect(sentence).toMatch(/from your network/);
  });
});

describe('room creation: 10 a minute per session, 20 live rooms per user', () => {
  it('the 11th room in a minute gets 429', async () => {
    const server = await frozen();
    const alice = await newSession(server.url);
    for (let i = 0; i < 10; i += 1) await alice.createRoom({ title: `r${i}` });
    await expectRefused(
      await alice.fetch('/room', { method: 'POST', json: { title: 'r10' } }),
      '6',
    );
    // The new-room form shows the sentence.
    const form = await alice.postForm('/room', 'title=r10&max=10');
    expect(form.status).toBe(429);
    expect(form.headers.get('retry-after')).toBe('6');
    expect(await form.text()).toContain('creating rooms too fast');
    await (await newSession(server.url)).createRoom();
  });

  // The per-minute bucket is raised (a test-only option) so that 20 rooms can be made at once.
  it('the 21st live room of a user gets 429; a room removed makes room for another', async () => {
    const server = await frozen({ limitSettings: { rooms: { perSecond: 1, burst: 100 } } });
    const alice = await newSession(server.url);
    const rooms = [];
    for (let i = 0; i < 20; i += 1) rooms.push(await alice.createRoom({ title: `r${i}` }));
    const create = () => alice.fetch('/room', { method: 'POST', json: { title: 'one more' } });
    expect(await expectRefused(await create(), '60')).toMatch(/own 20 rooms/);
    expect((await alice.fetch(`/room/${rooms[0]!.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await create()).status).toBe(201);
    await expectRefused(await create());
    await (await newSession(server.url)).createRoom();
  });
});

describe('new sessions: 600 a minute per address', () => {
  it('the 601st new session gets 429; sessions already made keep working', async () => {
    const server = await frozen();
    const first = await fetch(`${server.url}/api/me`);
    const cookie = cookieHeader(first);
    const { userId } = (await first.json()) as { userId: string };
    for (let made = 1; made < 600; made += 50) {
      const batch = Math.min(50, 600 - made);
      const answers = await Promise.all(
        Array.from({ length: batch }, () => fetch(`${server.url}/api/me`)),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        await answer.body?.cancel();
      }
    }
    await expectRefused(await fetch(`${server.url}/api/me`), '1');
    // Every way a session is made is refused the same way; the lobby page still shows.
    const lobby = await fetch(server.url, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(lobby.status).toBe(429);
    expect(lobby.headers.get('retry-after')).toBe('1');
    expect(await lobby.text()).toContain('Too many new sessions');
    const room = await fetch(`${server.url}/room`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'x' }),
    });
    await expectRefused(room);
    const known = await fetch(`${server.url}/api/me`, { headers: { cookie } });
    expect(known.status).toBe(200);
    expect(((await known.json()) as { userId: string }).userId).toBe(userId);
  });
});

// 2,000 real sockets are too many for a test on two shared cores: a test-only option lowers the
// cap to 4; the code counts the same way at any cap.
const CAP = 4;

/** Opens one connection of a transport (none with a lobby or room event to come); returns its close. */
const opens: Record<TransportName, (seat: Seat) => Promise<() => void>> = {
  polling: async ({ session }) => {
    // A lobby poll at the current cursor stays pending: no lobby event comes in these tests.
    const { cursor } = (await (await session.fetch('/poll/lobby')).json()) as { cursor: number };
    const controller = new AbortController();
    session
      .fetch(`/poll/lobby?cursor=${cursor}&wait=50`, { signal: controller.signal })
      .catch(() => undefined);
    return () => controller.abort();
  },
  sse: async ({ session }) => {
    const controller = new AbortController();
    const response = await session.fetch('/sse/lobby', { signal: controller.signal });
    expect(response.status).toBe(200);
    return () => controller.abort();
  },
  ws: async ({ server, session }) => {
    const socket = await openWs(server, session);
    return () => socket.terminate();
  },
  socketio: async ({ server, session }) => {
    const socket = await openSocketIo(server, session);
    return () => socket.disconnect();
  },
};

/** The next connection of a transport, which must be refused with 429. */
const refusedNext: Record<TransportName, (seat: Seat) => Promise<void>> = {
  polling: async ({ session, room }) => {
    // The room poll is served beside koa, the lobby poll through it: both refuse alike.
    await expectRefused(await session.fetch(`/poll/room/${room}?after=0&wait=0`));
    await expectRefused(await session.fetch('/poll/lobby?cursor=1&wait=0'));
  },
  sse: async ({ session, room }) => {
    await expectRefused(await session.fetch(`/sse/room/${room}`));
    await expectRefused(await session.fetch('/sse/lobby'));
  },
  ws: async ({ server, session }) => {
    const refused = await refusedUpgrade(`${server.url.replace('http', 'ws')}/ws`, session.cookie);
    expect(refused).toEqual({ status: 429, retry: '5' });
    // The probe a browser client makes to learn why says the same.
    expect((await session.fetch('/ws')).status).toBe(429);
  },
  socketio: async ({ server, session }) => {
    await expectRefused(await session.fetch('/socket.io/?EIO=4&transport=polling'), '5');
    const url = `${server.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
    expect(await refusedUpgrade(url, session.cookie)).toEqual({ status: 429, retry: '5' });
  },
};

describe('open streams and sockets: 2,000 per address', () => {
  it.each(TRANSPORT_NAMES)(
    '%s: past the cap, the next one gets 429; a closed one frees its place',
    async (transport) => {
      const server = await serve({ transport, limitSettings: { connectionsPerAddress: CAP } });
      const alice = await newSession(server.url);
      const seat = { server, session: alice, room: (await alice.createRoom()).id };
      const open = () => connections(server, transport);
      const close = [];
      for (let i = 0; i < CAP; i += 1) close.push(await opens[transport](seat));
      await eventually(async () => (await open()) === CAP, 5000, 'open');
      await refusedNext[transport](seat);
      close[0]!();
      await eventually(async () => (await open()) === CAP - 1, 5000, 'one closed');
      close.push(await opens[transport](seat));
      await eventually(async () => (await open()) === CAP, 5000, 'reopened');
      await refusedNext[transport](seat);
    },
  );

  it('the cap counts all four transports together', async () => {
    const server = await serve({ limitSettings: { connectionsPerAddress: CAP } });
    const alice = await newSession(server.url);
    const seat = { server, session: alice, room: (await alice.createRoom()).id };
    for (const transport of TRANSPORT_NAMES) await opens[transport](seat);
    await eventually(async () => (await connections(server, 'polling')) === 1, 5000, 'the poll');
    for (const transport of TRANSPORT_NAMES) await refusedNext[transport](seat);
  });
});

describe('--limits off', () => {
  it('lifts every limit', async () => {
    const server = await frozen({ limits: false, limitSettings: { connectionsPerAddress: 1 } });
    const alice = await newSession(server.url);
    const room = (await alice.createRoom({ password: 'right' })).id;
    const seat = { server, session: alice, room };
    const send = await post(seat);
    const outcomes = await Promise.all(Array.from({ length: 400 }, (_, i) => send(`m${i}`)));
    expect(outcomes.filter((o) => 'seq' in o)).toHaveLength(400);
    const bob = await newSession(server.url);
    for (let i = 0; i < 12; i += 1) expect((await enter(bob, room, `w${i}`)).status).toBe(403);
    for (let i = 0; i < 25; i += 1) await bob.createRoom({ title: `r${i}` });
    for (let i = 0; i < 3; i += 1) await opens.sse(seat);
    for (let i = 0; i < 3; i += 1) await openWs(server, alice);
    expect(await connections(server, 'sse')).toBe(3);
  });
});

describe('a classroom behind one address', () => {
  it('60 students who each create a room, enter one and chat trip no limit', async () => {
    const server = await serve();
    const teacher = await newSession(server.url);
    const locked = await teacher.createRoom({ password: 'class', max: 100 });
    const students = await Promise.all(Array.from({ length: 60 }, () => newSession(server.url)));
    await Promise.all(
      students.map(async (student, s) => {
        const own = await student.createRoom({ title: `student ${s}` });
        const entered = await enter(student, locked.id, 'class');
        expect(entered.status).toBe(204);
        // The grant is kept in the session cookie.
        const inside = sessionOf(server.url, student, cookieHeader(entered));
        const said = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            inside.say(i % 2 ? own.id : locked.id, `s${s}-${i}`),
          ),
        );
        expect(said).toHaveLength(20);
      }),
    );
    expect(await storedChats(teacher, locked.id)).toHaveLength(600);
  });
});

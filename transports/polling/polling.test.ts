import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Room } from '../../core/model.ts';
import {
  eventually,
  memberList,
  newSession,
  type Session,
  type TransportCounters,
  transportStats,
} from '../../test/support/http.ts';
import { startServer, type TestServer } from '../../test/support/server.ts';
import { PollingClient } from './client.ts';

interface WireEvent {
  type: string;
  id?: number;
  data: unknown;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: { events: WireEvent[]; cursor: number; error?: string };
  ms: number;
}

let server: TestServer;
let alice: Session;
let bob: Session;

beforeAll(async () => {
  server = await startServer({ transport: 'polling', memberGraceMs: 200, limits: false });
  alice = await newSession(server.url);
  bob = await newSession(server.url);
});
afterAll(() => server.close());

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function get(
  base: string,
  path: string,
  cookie?: string,
  signal?: AbortSignal,
): Promise<Answer> {
  const started = Date.now();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (cookie) headers.cookie = cookie;
  const response = await fetch(`${base}${path}`, { headers, signal });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: text ? JSON.parse(text) : null,
    ms: Date.now() - started,
  };
}

const poll = (who: Session | null, room: string, query = '') =>
  get(server.url, `/poll/room/${room}${query ? `?${query}` : ''}`, who?.cookie);

/** Polls with wait=0 until the answers run dry; every event and the last cursor. */
async function drain(who: Session, room: string, after = 0) {
  const events: WireEvent[] = [];
  let cursor = after;
  for (let round = 0; ; round++) {
    const answer = await get(server.url, `/poll/room/${room}?after=${cursor}&wait=0`, who.cookie);
    expect(answer.status).toBe(200);
    events.push(...answer.body.events);
    cursor = answer.body.cursor;
    if (answer.body.events.length === 0 && round > 0) return { events, cursor };
    await sleep(50);
  }
}

async function roomView(id: string, base = server.url): Promise<Room | undefined> {
  const response = await fetch(`${base}/api/rooms`);
  return ((await response.json()) as { rooms: Room[] }).rooms.find((room) => room.id === id);
}

const stats = () => transportStats(server.url, 'polling');

/** The stats once no poll of an earlier test is pending any more. */
async function idleStats(): Promise<TransportCounters> {
  await eventually(async () => (await stats()).connections === 0, 5000, 'no pending poll');
  return stats();
}

/** A new room of Alice's, drained by `who`, and then `who`'s poll of it (wait=20), `ms` on. */
async function pendingPoll(who: Session, ms: number) {
  const room = await alice.createRoom();
  const { cursor } = await drain(who, room.id);
  const pending = poll(who, room.id, `after=${cursor}&wait=20`);
  await sleep(ms);
  return { room, cursor, pending };
}

const chats = (events: WireEvent[]) =>
  events.filter((event) => event.type === 'chat').map((event) => (event.data as Message).chat);

describe('room polls', () => {
  it('after=0 replays the history; wait=0 then answers at once with no events', async () => {
    const room = await alice.createRoom();
    const one = await alice.say(room.id, 'one');
    const first = await poll(bob, room.id, 'after=0&wait=0');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.text).toMatch(/^\{"events":\[.*\],"cursor":\d+\}$/);
    expect(first.body.events[0]).toEqual({ type: 'chat', id: one.seq, data: one });
    const { events, cursor } = await drain(bob, room.id, first.body.cursor);
    const all = [...first.body.events, ...events];
    expect(all.find((e) => e.type === 'join')).toMatchObject({
      id: 2,
      data: { kind: 'system', chat: `${bob.user} joined` },
    });
    expect(all.find((e) => e.type === 'members')).toEqual({
      type: 'members',
      data: { members: memberList(bob), ownerId: alice.userId },
    });
    const quiet = await poll(bob, room.id, `after=${cursor}&wait=0`);
    expect(quiet.body).toEqual({ events: [], cursor });
    expect(quiet.ms).toBeLessThan(1000);
  });

  it('a pending poll answers as soon as a message is posted, well under its wait', async () => {
    const { room, pending } = await pendingPoll(bob, 200);
    const sent = await alice.say(room.id, 'hello');
    const answer = await pending;
    expect(answer.ms).toBeLessThan(2000);
    expect(answer.body).toEqual({
      events: [{ type: 'chat', id: sent.seq, data: sent }],
      cursor: sent.seq,
    });
  });

  it('answers empty after `wait` seconds with the cursor unchanged', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    const answer = await poll(bob, room.id, `after=${cursor}&wait=1`);
    expect(answer.body).toEqual({ events: [], cursor });
    expect(answer.ms).toBeGreaterThanOrEqual(950);
    expect(answer.ms).toBeLessThan(3000);
  });

  it('without `after`, only what happens next: the cursor starts at the newest seq', async () => {
    const room = await alice.createRoom();
    for (const text of ['a', 'b', 'c']) await alice.say(room.id, text);
    const first = await poll(bob, room.id, 'wait=0');
    expect(chats(first.body.events)).toEqual([]);
    expect(first.body.cursor).toBeGreaterThanOrEqual(3);
    const { events } = await drain(bob, room.id, first.body.cursor);
    const all = [...first.body.events, ...events];
    expect(chats(all)).toEqual([]);
    expect(all.filter((e) => e.type === 'join').map((e) => e.id)).toEqual([4]);
  });

  it('the cursor moves past whispers the client cannot see', async () => {
    const room = await alice.createRoom();
    const carol = await newSession(server.url);
    const { cursor } = await drain(carol, room.id);
    const whisper = await alice.say(room.id, 'for bob only', bob.userId);
    const answer = await poll(carol, room.id, `after=${cursor}&wait=0`);
    expect(answer.body).toEqual({ events: [], cursor: whisper.seq });
    const bobs = await poll(bob, room.id, `after=${cursor}&wait=0`);
    expect(chats(bobs.body.events)).toEqual(['for bob only']);
  });

  it('caps an answer at 500 stored events; the cursor stops at the last one sent', async () => {
    const room = await alice.createRoom();
    for (let batch = 0; batch < 11; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => alice.say(room.id, `m${batch}-${i}`)));
    }
    const first = await poll(bob, room.id, 'after=0&wait=0');
    const stored = first.body.events.filter((e) => e.id !== undefined);
    expect(stored).toHaveLength(500);
    expect(stored.map((e) => e.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(first.body.cursor).toBe(500);
    const rest = await drain(bob, room.id, first.body.cursor);
    const seqs = rest.events.filter((e) => e.type === 'chat').map((e) => e.id);
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => 501 + i));
  });
});

describe('paged replays', () => {
  it('whispers inside a capped replay and posts during it: every message bob may see, once, in order', async () => {
    const room = await alice.createRoom();
    const carol = await newSession(server.url);
    const say = (n: number, prefix: string, toId?: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => alice.say(room.id, `${prefix}${i}`, toId)));
    for (let i = 0; i < 6; i++) await say(50, `p${i}-`);
    for (let i = 0; i < 3; i++) await say(50, `w${i}-`, carol.userId);
    for (let i = 0; i < 3; i++) await say(50, `q${i}-`);
    // Posts keep coming while bob's first poll replays, 500 stored events an answer at most.
    const live = (async () => {
      for (let i = 0; i < 60; i++) await alice.say(room.id, `live${i}`);
    })();
    const first = await poll(bob, room.id, 'after=0&wait=0');
    await live;
    const rest = await drain(bob, room.id, first.body.cursor);
    const got = [...first.body.events, ...rest.events]
      .filter((e) => e.type === 'chat')
      .map((e) => e.id);
    const history = await fetch(`${server.url}/api/rooms/${room.id}/messages?after=0&limit=1000`, {
      headers: { cookie: bob.cookie },
    });
    const visible = (
      (await history.json()) as { messages: { seq: number; kind: string }[] }
    ).messages
      .filter((m) => m.kind === 'chat')
      .map((m) => m.seq);
    expect(visible.length).toBeGreaterThan(450);
    expect(got).toEqual(visible);
  });
});

describe('bad input and refusals', () => {
  it('401 without a session, 404 for unknown or malformed rooms, 403 without the password', async () => {
    const room = await alice.createRoom();
    const secret = await alice.createRoom({ password: 'pw' });
    const cases: [Session | null, string, number][] = [
      [null, room.id, 401],
      [bob, 'nope', 404],
      [bob, '%24%24%24', 404],
      [bob, 'x'.repeat(65), 404],
      [bob, secret.id, 403],
    ];
    for (const [who, id, status] of cases) {
      const answer = await poll(who, id, 'wait=0');
      expect(answer.status, `${id} ${status}`).toBe(status);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.body.error).toEqual(expect.any(String));
    }
    expect((await poll(alice, secret.id, 'wait=0')).status).toBe(200);
  });

  it('409 when the room is full; a member is never refused', async () => {
    const room = await alice.createRoom({ max: 2 });
    const carol = await newSession(server.url);
    const dave = await newSession(server.url);
    expect((await poll(bob, room.id, 'wait=0')).status).toBe(200);
    expect((await poll(carol, room.id, 'wait=0')).status).toBe(200);
    const refused = await poll(dave, room.id, 'wait=0');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('The room is full.');
    expect((await poll(bob, room.id, 'wait=0')).status).toBe(200);
  });
});

describe('between polls', () => {
  it('`members` events are kept for the next poll, coalesced to the newest', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    const carol = await newSession(server.url);
    const dave = await newSession(server.url);
    await poll(carol, room.id, 'wait=0');
    await eventually(async () => (await roomView(room.id))?.members === 2);
    await poll(dave, room.id, 'wait=0');
    await eventually(async () => (await roomView(room.id))?.members === 3);
    await sleep(100);
    const answer = await poll(bob, room.id, `after=${cursor}&wait=0`);
    const members = answer.body.events.filter((e) => e.type === 'members');
    expect(members).toEqual([
      { type: 'members', data: { members: memberList(bob, carol, dave), ownerId: alice.userId } },
    ]);
    const joins = answer.body.events.filter((e) => e.type === 'join');
    expect(joins.map((e) => (e.data as Message).chat)).toEqual([
      `${carol.user} joined`,
      `${dave.user} joined`,
    ]);
  });

  it('`kicked` is kept for the next poll, which gets it last; later polls get 403', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    expect(await alice.kick(room.id, bob.userId)).toBe(204);
    const answer = await poll(bob, room.id, `after=${cursor}&wait=0`);
    expect(answer.status).toBe(200);
    expect(answer.body.events.at(-1)).toEqual({ type: 'kicked', data: { id: room.id } });
    const after = await poll(bob, room.id, `after=${answer.body.cursor}&wait=0`);
    expect(after.status).toBe(403);
  });

  it('a pending poll gets `kicked` at once', async () => {
    const { room, pending } = await pendingPoll(bob, 100);
    await alice.kick(room.id, bob.userId);
    const answer = await pending;
    expect(answer.ms).toBeLessThan(2000);
    expect(answer.body.events.at(-1)).toEqual({ type: 'kicked', data: { id: room.id } });
  });

  it('`removeRoom` is kept for the next poll; later polls get 404', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    expect((await alice.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    const answer = await poll(bob, room.id, `after=${cursor}&wait=0`);
    expect(answer.body.events).toEqual([{ type: 'removeRoom', data: { id: room.id } }]);
    expect((await poll(bob, room.id, `after=${cursor}&wait=0`)).status).toBe(404);
  });

  it('two concurrent polls of one session and room: the first answers at once, empty', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    const before = await idleStats();
    const first = poll(bob, room.id, `after=${cursor}&wait=20`);
    await sleep(200);
    const second = poll(bob, room.id, `after=${cursor}&wait=20`);
    const displaced = await first;
    expect(displaced.body).toEqual({ events: [], cursor });
    expect(displaced.ms).toBeLessThan(2000);
    await sleep(100);
    expect((await stats()).connections).toBe(before.connections + 1);
    const sent = await alice.say(room.id, 'to the second');
    const answer = await second;
    expect(answer.body.events).toEqual([{ type: 'chat', id: sent.seq, data: sent }]);
  });
  it('two sessions of one colour each hold their own poll: neither answers the other', async () => {
    // About 3,240 colours exist: among 400 sessions two share one all but surely.
    const byColour = new Map<string, Session>();
    let twins: [Session, Session] | undefined;
    for (let i = 0; i < 400 && !twins; i += 1) {
      const session = await newSession(server.url);
      const same = byColour.get(session.user);
      if (same) twins = [same, session];
      else byColour.set(session.user, session);
    }
    expect(twins).toBeDefined();
    const [first, second] = twins!;
    const room = await alice.createRoom();
    // Two users now: the second's join (and its members) reach the first, who drains them too.
    const early = (await drain(first, room.id)).cursor;
    const cursors = [(await drain(second, room.id)).cursor];
    cursors.unshift((await drain(first, room.id, early)).cursor);
    const before = await stats();
    const polls = [first, second].map((who, i) =>
      poll(who, room.id, `after=${cursors[i]}&wait=20`),
    );
    await sleep(500);
    const sent = await alice.say(room.id, 'to both twins');
    for (const answer of await Promise.all(polls)) {
      expect(answer.ms).toBeGreaterThan(400);
      expect(answer.body.events).toEqual([{ type: 'chat', id: sent.seq, data: sent }]);
    }
    expect((await stats()).requests - before.requests).toBeLessThan(6);
  });
});

describe('a client that goes away', () => {
  it('ends its pending poll; the seq-less events meanwhile wait for its next poll', async () => {
    const room = await alice.createRoom();
    const { cursor } = await drain(bob, room.id);
    const before = await idleStats();
    const controller = new AbortController();
    const path = `/poll/room/${room.id}?after=${cursor}&wait=20`;
    const gone = get(server.url, path, bob.cookie, controller.signal).catch(() => null);
    await eventually(async () => (await stats()).connections === before.connections + 1);
    controller.abort();
    expect(await gone).toBe(null);
    await eventually(async () => (await stats()).connections === before.connections);
    const carol = await newSession(server.url);
    await poll(carol, room.id, 'wait=0');
    await eventually(async () => (await roomView(room.id))?.members === 2);
    await sleep(100);
    const answer = await poll(bob, room.id, `after=${cursor}&wait=0`);
    expect(answer.body.events.map((e) => e.type)).toEqual(['join', 'members']);
    expect(answer.body.events[1]!.data).toEqual({
      members: memberList(bob, carol),
      ownerId: alice.userId,
    });
  });
});

describe('membership', () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startServer({ transport: 'polling', memberGraceMs: 200, pollLingerMs: 300 });
  });
  afterAll(() => short.close());

  const membersOf = async (id: string) => (await roomView(id, short.url))?.members;

  it('a client that keeps polling, or holds a pending poll, stays a member: no exit, no second join', async () => {
    const owner = await newSession(short.url);
    const visitor = await newSession(short.url);
    const room = await owner.createRoom();
    let cursor = 0;
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      const path = `/poll/room/${room.id}?after=${cursor}&wait=0`;
      cursor = (await get(short.url, path, visitor.cookie)).body.cursor;
      await sleep(150);
    }
    const pending = get(short.url, `/poll/room/${room.id}?after=${cursor}&wait=2`, visitor.cookie);
    await sleep(1500);
    expect(await membersOf(room.id)).toBe(1);
    await pending;
    const history = await owner.fetch(`/api/rooms/${room.id}/messages?after=0`);
    const { messages } = (await history.json()) as { messages: Message[] };
    expect(messages.map((m) => m.chat)).toEqual([`${visitor.user} joined`]);
  });
});

describe('the lobby', () => {
  it('needs no session; the first poll answers at once with the cursor, then events follow it', async () => {
    const first = await get(server.url, '/poll/lobby?wait=20');
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(1000);
    expect(first.body.events).toEqual([]);
    let cursor = first.body.cursor;
    let pending = get(server.url, `/poll/lobby?cursor=${cursor}&wait=20`);
    await sleep(100);
    const room = await alice.createRoom({ title: 'lobby poll' });
    const newRoom = (events: WireEvent[]) =>
      events.find((e) => e.type === 'newRoom' && (e.data as Room).id === room.id);
    let answer = await pending;
    // An earlier test's member may leave meanwhile: its roomUpdate can come first, then the next
    // poll from the answer's cursor brings the room.
    while (!newRoom(answer.body.events) && answer.body.events.length > 0) {
      expect(answer.body.cursor).toBe(cursor + answer.body.events.length);
      cursor = answer.body.cursor;
      pending = get(server.url, `/poll/lobby?cursor=${cursor}&wait=20`);
      answer = await pending;
    }
    expect(answer.ms).toBeLessThan(2000);
    expect(answer.body.cursor).toBe(cursor + answer.body.events.length);
    expect(newRoom(answer.body.events)).toMatchObject({
      type: 'newRoom',
      data: { id: room.id, title: 'lobby poll', members: 0 },
    });
    const quiet = await get(server.url, `/poll/lobby?cursor=${answer.body.cursor}&wait=0`);
    expect(quiet.body).toEqual({ events: [], cursor: answer.body.cursor });
  });

  it('a cursor the log does not cover answers at once, empty, with the current cursor', async () => {
    const { body } = await get(server.url, '/poll/lobby');
    for (const stale of [0, body.cursor + 1000]) {
      const answer = await get(server.url, `/poll/lobby?cursor=${stale}&wait=20`);
      // The current cursor: an earlier test's member may leave meanwhile and move it on.
      const current = (await get(server.url, '/poll/lobby')).body.cursor;
      expect(answer.ms).toBeLessThan(1000);
      expect(answer.body.events).toEqual([]);
      expect(answer.body.cursor).toBeGreaterThanOrEqual(body.cursor);
      expect(answer.body.cursor).toBeLessThanOrEqual(current);
    }
  });

  it('after a gap (a cursor the server no longer covers) the client reloads the list', async () => {
    let hold: Promise<void> | undefined;
    let release = () => {};
    const fetchWithGap: typeof fetch = async (input, init) => {
      let url = String(input);
      if (hold && url.includes('/poll/lobby?') && url.includes('cursor=')) {
        await hold;
        hold = undefined;
        url = url.replace(/cursor=\d+/, 'cursor=1');
      }
      return fetch(url, init);
    };
    const known = await alice.createRoom({ title: 'known' });
    const client = new PollingClient({ baseUrl: server.url, fetch: fetchWithGap, wait: 5 });
    const seen: string[] = [];
    client.on('newRoom', (room) => seen.push(`new ${room.title}`));
    client.on('removeRoom', ({ id }) => seen.push(`remove ${id}`));
    await client.connectLobby();
    hold = new Promise((done) => {
      release = done;
    });
    client.drop();
    await sleep(100);
    await alice.createRoom({ title: 'missed' });
    await alice.fetch(`/room/${known.id}`, { method: 'DELETE' });
    await sleep(100);
    expect(seen).toEqual([]);
    release();
    await eventually(() => seen.length >= 2);
    expect(seen.sort()).toEqual([`remove ${known.id}`, 'new missed'].sort());
    client.close();
  });
});

describe('PollingClient', () => {
  it('short polling (wait=0 with an interval) gets the messages too', async () => {
    const room = await alice.createRoom();
    const client = new PollingClient({
      baseUrl: server.url,
      cookie: bob.cookie,
      wait: 0,
      interval: 50,
    });
    const received: string[] = [];
    client.on('chat', (message) => received.push(message.chat ?? ''));
    await client.connectRoom(room.id);
    for (const text of ['s1', 's2', 's3']) await alice.say(room.id, text);
    await eventually(() => received.length === 3);
    expect(received).toEqual(['s1', 's2', 's3']);
    client.close();
  });
});

describe('two tabs of one session', () => {
  it('both get every message, and they displace each other without a storm of requests', async () => {
    const room = await alice.createRoom();
    const tabs = [0, 1].map(() => new PollingClient({ baseUrl: server.url, cookie: bob.cookie }));
    const received = tabs.map(() => [] as number[]);
    for (const [i, tab] of tabs.entries()) {
      tab.on('chat', (message) => received[i]!.push(message.seq));
    }
    await Promise.all(tabs.map((tab) => tab.connectRoom(room.id, { after: 0 })));
    const before = await stats();
    const posted: number[] = [];
    for (let i = 0; i < 10; i++) {
      posted.push((await alice.say(room.id, `t${i}`)).seq);
      await sleep(200);
    }
    await eventually(() => received.every((seqs) => seqs.length === posted.length), 10_000);
    expect(received).toEqual([posted, posted]);
    const requests = (await stats()).requests - before.requests;
    expect(requests).toBeLessThan(40);
    for (const tab of tabs) tab.close();
  });
});

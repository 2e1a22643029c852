import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../test/support/http.ts';
import { ChatService, type Visitor } from './chat.ts';
import { ChatError } from './errors.ts';
import { GifFiles } from './gifs.ts';
import type { MembersPayload, Message, RoomEvent } from './model.ts';
import { MemoryStore } from './store/memory.ts';

/**
 * A memory store whose history reads are slow, so live events race the replay, and whose writes
 * can be made to fail as during a database outage (a stand-in for the mongo store's 503).
 */
class SlowHistoryStore extends MemoryStore {
  delayMs = 0;
  down = false;
  override async appendMessage(draft: Parameters<MemoryStore['appendMessage']>[0]) {
    if (this.down) throw new ChatError(503, 'The database is not reachable right now.');
    return super.appendMessage(draft);
  }
  override async removeRoom(id: string) {
    if (this.down) throw new ChatError(503, 'The database is not reachable right now.');
    return super.removeRoom(id);
  }
  override async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    const result = await super.messagesAfter(room, after, limit);
    if (this.delayMs > 0) await new Promise((done) => setTimeout(done, this.delayMs));
    return result;
  }
}

const alice: Visitor = { userId: 'alice-userid-0001', user: '#aaaaaa', granted: [] };
const bob: Visitor = { userId: 'bob-userid-00002', user: '#bbbbbb', granted: [] };
const carol: Visitor = { userId: 'carol-userid-003', user: '#cccccc', granted: [] };
/** Alice's colour, someone else: two users of one colour are two users. */
const twin: Visitor = { userId: 'twin-userid-0004', user: alice.user, granted: [] };

let dir: string;
let store: SlowHistoryStore;
let chat: ChatService;

async function openChat(): Promise<ChatService> {
  return ChatService.open({
    store,
    gifs: await GifFiles.open(dir),
    emptyRoomGraceMs: 60_000,
    memberGraceMs: 50,
  });
}

/** A new ChatService on the same store, as after a restart: it knows no recent events. */
async function restart(): Promise<void> {
  await chat.close();
  chat = await openChat();
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'realtime-lab-chat-'));
  store = new SlowHistoryStore();
  chat = await openChat();
});
afterEach(async () => {
  await chat.close();
  await rm(dir, { recursive: true, force: true });
});

function collect() {
  const events: RoomEvent[] = [];
  return { events, listener: (event: RoomEvent) => events.push(event) };
}

const seqs = (events: RoomEvent[]) => events.flatMap((e) => ('id' in e ? [e.id] : []));

describe('ChatService.subscribe: the one resume path', () => {
  it('opens in two steps: refusals and the member before anything is sent, events from start()', async () => {
    const room = await chat.createRoom(alice, { title: 'r', max: 2 });
    await chat.post(alice, room.id, { chat: 'before' });
    const { events, listener } = collect();
    const subscription = await chat.openSubscription(
      bob,
      room.id,
      { after: 0 },
      { onEvent: listener },
    );
    expect(subscription.state).toBe('held');
    await chat.post(alice, room.id, { chat: 'while held' });
    expect(events).toEqual([]);
    // Bob is a member already: the room of two has room for one more (carol), then it is full.
    await chat.openSubscription(carol, room.id, {}, { onEvent: () => undefined });
    await expect(
      chat.openSubscription(twin, room.id, {}, { onEvent: () => undefined }),
    ).rejects.toMatchObject({ status: 409 });
    subscription.start();
    await eventually(() => events.some((e) => e.type === 'chat' && e.data.chat === 'while held'));
    const chats = events.filter((e) => e.type === 'chat').map((e) => (e.data as Message).chat);
    expect(chats).toEqual(['before', 'while held']);
    expect(seqs(events)).toEqual([...seqs(events)].sort((a, b) => a - b));
    subscription.close();
  });

  it('ends a subscription after kicked in the core, calling onEnd once', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    let ended = 0;
    const { events, listener } = collect();
    const subscription = await chat.openSubscription(
      bob,
      room.id,
      {},
      {
        onEvent: listener,
        onEnd: () => (ended += 1),
      },
    );
    subscription.start();
    await chat.kick(alice, room.id, { userId: bob.userId });
    await eventually(() => ended === 1);
    expect(events.at(-1)?.type).toBe('kicked');
    expect(subscription.state).toBe('closed');
    await chat.post(alice, room.id, { chat: 'after' });
    expect(events.filter((e) => e.type === 'chat')).toEqual([]);
  });

  it('replay racing live posts: every seq once, in order', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    for (let i = 0; i < 20; i++) await chat.post(alice, room.id, { chat: `h${i}` });
    // After a restart the history comes from the store, slowly.
    await restart();
    store.delayMs = 30;
    const { events, listener } = collect();
    const subscribing = chat.subscribe(bob, room.id, { after: 5 }, listener);
    // These land while the history read is still sleeping.
    const live = Promise.all(
      Array.from({ length: 10 }, (_, i) => chat.post(alice, room.id, { chat: `l${i}` })),
    );
    const subscription = await subscribing;
    await live;
    await new Promise((done) => setTimeout(done, 50));
    // 6..20 from history, the join (21), 10 live posts; no duplicates, no gaps.
    const got = seqs(events);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i + 6));
    expect(got.at(-1)).toBe(31);
    subscription.close();
  });

  it('a replay among the recent events reads no store and hands out the live event objects', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    const live = collect();
    const first = await chat.subscribe(alice, room.id, {}, live.listener);
    for (let i = 0; i < 10; i++) await chat.post(alice, room.id, { chat: `m${i}` });
    let reads = 0;
    const read = store.messagesAfter.bind(store);
    store.messagesAfter = (...args) => {
      reads += 1;
      return read(...args);
    };
    const replay = collect();
    const second = await chat.subscribe(bob, room.id, { after: 4 }, replay.listener);
    expect(reads).toBe(0);
    const chats = (events: RoomEvent[]) => events.filter((e) => e.type === 'chat');
    expect(seqs(chats(replay.events))).toEqual(seqs(chats(live.events)).slice(3));
    chats(replay.events).forEach((event, i) => {
      expect(event).toBe(chats(live.events)[i + 3]);
    });
    first.close();
    second.close();
  });

  it('a replay older than the recent events reads the store: all of it, in order, once', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    for (let i = 0; i < 300; i++) await chat.post(alice, room.id, { chat: `m${i}` });
    for (const after of [0, 40, 250, 299, 300]) {
      const { events, listener } = collect();
      const subscription = await chat.subscribe(bob, room.id, { after }, listener);
      const got = seqs(events).filter((seq) => seq <= 300);
      expect(got).toEqual(Array.from({ length: 300 - after }, (_, i) => after + i + 1));
      subscription.close();
    }
  });

  it('concurrent posts get gapless seqs, published in seq order', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    const { events, listener } = collect();
    const subscription = await chat.subscribe(alice, room.id, {}, listener);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => chat.post(alice, room.id, { chat: `${i}` })),
    );
    const got = seqs(events);
    expect(got).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    subscription.close();
  });

  it('skips whispers between others but moves the cursor past them', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    await chat.post(alice, room.id, { chat: 'psst', toId: bob.userId });
    await chat.post(alice, room.id, { chat: 'all' });
    const { events, listener } = collect();
    const subscription = await chat.subscribe(carol, room.id, { after: 0 }, listener);
    expect(events.filter((e) => e.type === 'chat').map((e) => (e.data as Message).chat)).toEqual([
      'all',
    ]);
    await chat.post(alice, room.id, { chat: 'again', toId: bob.userId });
    expect(subscription.cursor).toBe(4);
    subscription.close();
  });

  it('without after, a subscription starts at the newest seq: its cursor says where', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    for (let i = 0; i < 3; i++) await chat.post(alice, room.id, { chat: `old ${i}` });
    const { events, listener } = collect();
    const subscription = await chat.subscribe(bob, room.id, {}, listener);
    expect(subscription.cursor).toBeGreaterThanOrEqual(3);
    expect(chat.latestSeq(bob, room.id)).toBeGreaterThanOrEqual(3);
    await chat.post(alice, room.id, { chat: 'new' });
    expect(seqs(events)).toEqual([4, 5]);
    expect(subscription.cursor).toBe(5);
    subscription.close();
  });

  it('a refused subscription is no member and sends nothing', async () => {
    const room = await chat.createRoom(alice, { title: 'r', max: 2 });
    const a = await chat.subscribe(alice, room.id, {}, () => {});
    const b = await chat.subscribe(bob, room.id, {}, () => {});
    const { events, listener } = collect();
    await expect(chat.subscribe(carol, room.id, { after: 0 }, listener)).rejects.toMatchObject({
      status: 409,
    });
    expect(events).toEqual([]);
    expect(chat.getRoom(room.id).members).toBe(2);
    a.close();
    b.close();
  });
});

describe('membership through the core', () => {
  it('two subscriptions of one user are one member; the exit waits for the last', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    const one = await chat.subscribe(bob, room.id, {}, () => {});
    const two = await chat.subscribe(bob, room.id, {}, () => {});
    expect(chat.getRoom(room.id).members).toBe(1);
    one.close();
    await new Promise((done) => setTimeout(done, 120));
    expect(chat.getRoom(room.id).members).toBe(1);
    two.close();
    await new Promise((done) => setTimeout(done, 120));
    expect(chat.getRoom(room.id).members).toBe(0);
    const history = await store.messagesAfter(room.id, 0, 10);
    expect(history.map((m) => m.chat)).toEqual([`${bob.user} joined`, `${bob.user} left`]);
  });

  it('a crowd joining at once shares a few `members` lists; each join is followed by one naming it', async () => {
    const room = await chat.createRoom(alice, { title: 'r', max: 100 });
    const { events, listener } = collect();
    await chat.subscribe(alice, room.id, {}, listener);
    const crowd = Array.from({ length: 50 }, (_, i) => ({
      userId: `crowd-userid-${String(i).padStart(4, '0')}`,
      user: `#${(0x100000 + i).toString(16)}`,
      granted: [],
    }));
    for (const visitor of crowd) {
      await chat.subscribe(visitor, room.id, {}, () => {});
      await new Promise((done) => setImmediate(done));
    }
    await new Promise((done) => setTimeout(done, 250));
    const lists = events.flatMap((e) =>
      e.type === 'members' ? [(e.data as MembersPayload).members.map((m) => m.userId)] : [],
    );
    // 51 joins, and far fewer lists: the first at once, then at most one per 100 ms.
    expect(events.filter((e) => e.type === 'join')).toHaveLength(51);
    expect(lists.length).toBeGreaterThanOrEqual(2);
    expect(lists.length).toBeLessThan(10);
    // After every join, a later `members` names that user; the last names everyone.
    for (const [i, event] of events.entries()) {
      if (event.type !== 'join') continue;
      const user = (event.data as Message).chat!.replace(' joined', '');
      const next = events.slice(i).find((e) => e.type === 'members');
      const shown = (next?.data as MembersPayload | undefined)?.members.map((m) => m.user);
      expect(shown).toContain(user);
    }
    expect(lists.at(-1)).toEqual([alice.userId, ...crowd.map((v) => v.userId)]);
  });

  it('kick: `kicked` only to the target, the subscription ends, the exit is at once', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    const owner = collect();
    const target = collect();
    const a = await chat.subscribe(alice, room.id, {}, owner.listener);
    await chat.subscribe(bob, room.id, {}, target.listener);
    await new Promise((done) => setTimeout(done, 10));
    await chat.kick(alice, room.id, { userId: bob.userId });
    await new Promise((done) => setTimeout(done, 10));
    expect(target.events.at(-1)).toEqual({ type: 'kicked', data: { id: room.id } });
    expect(owner.events.some((e) => e.type === 'kicked')).toBe(false);
    expect(owner.events.some((e) => e.type === 'exit')).toBe(true);
    expect(chat.getRoom(room.id).members).toBe(1);
    const after = target.events.length;
    await chat.post(alice, room.id, { chat: 'gone?' });
    expect(target.events.length).toBe(after);
    await expect(chat.subscribe(bob, room.id, {}, () => {})).rejects.toMatchObject({ status: 403 });
    a.close();
  });

  it('two users of one colour are two members, each with a join and an exit of their own', async () => {
    const room = await chat.createRoom(bob, { title: 'r' });
    const { events, listener } = collect();
    const watcher = await chat.subscribe(bob, room.id, {}, listener);
    const a = await chat.subscribe(alice, room.id, {}, () => {});
    const b = await chat.subscribe(twin, room.id, {}, () => {});
    await new Promise((done) => setTimeout(done, 10));
    expect(chat.getRoom(room.id).members).toBe(3);
    a.close();
    b.close();
    const last = () => events.findLast((e) => e.type === 'members')?.data as MembersPayload;
    await eventually(() => last().members.length === 1, 2000, 'the list after both exits');
    const lines = events.flatMap((e) => (e.type === 'join' || e.type === 'exit' ? [e.type] : []));
    expect(lines).toEqual(['join', 'join', 'join', 'exit', 'exit']);
    expect(last().members).toEqual([{ userId: bob.userId, user: bob.user }]);
    watcher.close();
  });

  it('a colour grants nothing: the twin of the owner can neither remove, kick nor read whispers', async () => {
    const room = await chat.createRoom(alice, { title: 'r', password: 'secret' });
    expect(chat.pageAccess(alice, room.id)).toBe('chat');
    expect(chat.pageAccess(twin, room.id)).toBe('password');
    await expect(chat.enter(twin, room.id, {})).rejects.toMatchObject({ status: 403 });
    await expect(chat.removeRoom(twin, room.id)).rejects.toMatchObject({ status: 403 });
    await expect(chat.kick(twin, room.id, { userId: bob.userId })).rejects.toMatchObject({
      status: 403,
    });
    const granted = { ...twin, granted: [room.id] };
    await chat.post({ ...bob, granted: [room.id] }, room.id, { chat: 'psst', toId: alice.userId });
    const seen = await chat.history(granted, room.id, { after: 0 });
    expect(seen.some((m) => m.chat === 'psst')).toBe(false);
    expect((await chat.history(alice, room.id, { after: 0 })).map((m) => m.chat)).toContain('psst');
  });
});

describe('rooms stored by v1 (owner and kicks by colour)', () => {
  it('load ownerless, with their kicks lapsed; the first member becomes the owner', async () => {
    await store.createRoom({
      id: 'old-room',
      title: 'v1',
      max: 10,
      owner: alice.user,
      ownerId: null,
      passwordHash: null,
      kicked: [bob.user],
      createdAt: new Date().toISOString(),
    });
    await restart();
    expect(chat.getRoom('old-room')).toMatchObject({ owner: alice.user, ownerId: null });
    // Alice's colour is no one: her twin has no owner's rights.
    await expect(chat.removeRoom(twin, 'old-room')).rejects.toMatchObject({ status: 403 });
    const { events, listener } = collect();
    const subscription = await chat.subscribe(bob, 'old-room', {}, listener);
    await eventually(() => events.length === 3, 2000, 'join, owner and members');
    expect(events.map((e) => e.type)).toEqual(['join', 'owner', 'members']);
    expect(chat.getRoom('old-room')).toMatchObject({ owner: bob.user, ownerId: bob.userId });
    expect((events[2]!.data as MembersPayload).ownerId).toBe(bob.userId);
    expect((await store.getRoom('old-room'))?.ownerId).toBe(bob.userId);
    subscription.close();
  });
});

describe('a store outage (503)', () => {
  it('a join the store did not take gets no exit either', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    store.down = true;
    const subscription = await chat.subscribe(bob, room.id, {}, () => {});
    await new Promise((done) => setTimeout(done, 10));
    store.down = false;
    subscription.close();
    await new Promise((done) => setTimeout(done, 150));
    expect(chat.getRoom(room.id).members).toBe(0);
    expect(await store.messagesAfter(room.id, 0, 10)).toEqual([]);
  });

  it('a removal the store refused leaves the room in place, and a later one works', async () => {
    const room = await chat.createRoom(alice, { title: 'r' });
    store.down = true;
    await expect(chat.removeRoom(alice, room.id)).rejects.toMatchObject({ status: 503 });
    expect(chat.getRoom(room.id).id).toBe(room.id);
    expect(await store.getRoom(room.id)).not.toBeNull();
    store.down = false;
    await chat.removeRoom(alice, room.id);
    expect(() => chat.getRoom(room.id)).toThrow(ChatError);
  });
});

import { describe, expect, it } from 'vitest';
import { eventually } from '../test/support/http.ts';
import { LocalHub } from './hub.ts';
import type { Message, MessageDraft, RoomEvent } from './model.ts';
import { RoomLog } from './room-log.ts';
import { MemoryStore } from './store/memory.ts';

/** A memory store that counts history reads and can make appends slow. */
class CountingStore extends MemoryStore {
  reads = 0;
  slowMs = 0;
  override async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    this.reads += 1;
    return super.messagesAfter(room, after, limit);
  }
  override async appendMessage(draft: MessageDraft): Promise<Message> {
    const delay = this.slowMs;
    this.slowMs = 0;
    if (delay > 0) await new Promise((done) => setTimeout(done, delay));
    return super.appendMessage(draft);
  }
}

async function logWithRoom() {
  const store = new CountingStore();
  const hub = new LocalHub((error) => {
    throw error;
  });
  const log = new RoomLog(store, hub);
  await store.createRoom({
    id: 'r',
    title: 't',
    max: 10,
    owner: '#aaaaaa',
    ownerId: 'owner-userid-0001',
    passwordHash: null,
    kicked: [],
    createdAt: new Date().toISOString(),
  });
  log.track('r', 0);
  return { store, hub, log };
}

const draft = (chat: string): MessageDraft => ({ room: 'r', user: '#aaaaaa', kind: 'chat', chat });
const ids = (events: readonly RoomEvent[]) => events.map((event) => ('id' in event ? event.id : 0));

describe('RoomLog', () => {
  it('publishes in append order even when an earlier store write is slower', async () => {
    const { store, log } = await logWithRoom();
    const seen: number[] = [];
    log.listen('r', {
      receive: (event) => {
        if ('id' in event) seen.push(event.id);
      },
    });
    store.slowMs = 50;
    const appended = await Promise.all([
      log.append('chat', draft('a')),
      log.append('chat', draft('b')),
    ]);
    expect(appended.map((message) => message.chat)).toEqual(['a', 'b']);
    expect(seen).toEqual([1, 2]);
    expect(log.lastSeq('r')).toBe(2);
  });

  it('a seq-less event waits behind the messages queued before it', async () => {
    const { store, log } = await logWithRoom();
    const seen: string[] = [];
    log.listen('r', { receive: (event) => seen.push(event.type) });
    store.slowMs = 30;
    const message = log.append('chat', draft('a'));
    await log.publish('r', { type: 'kicked', data: { id: 'r' } });
    await message;
    expect(seen).toEqual(['chat', 'kicked']);
  });

  it('replays from its recent events without a store read, and from the store further back', async () => {
    const { store, log } = await logWithRoom();
    // It keeps 256 to 511 recent events: past 600, the first ones are the store's only.
    for (let i = 0; i < 600; i += 1) await log.append('chat', draft(`m${i}`));
    store.reads = 0;
    expect(ids(await log.replay('r', 590))).toEqual([
      591, 592, 593, 594, 595, 596, 597, 598, 599, 600,
    ]);
    expect(ids(await log.replay('r', 600 - 256))).toHaveLength(256);
    expect(store.reads).toBe(0);
    const all = await log.replay('r', 0);
    expect(ids(all)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(store.reads).toBeGreaterThan(0);
    expect(await log.replay('r', 600)).toEqual([]);
  });

  it('after a restart (a new log on the same store) replays from the store, system events typed', async () => {
    const { store, log } = await logWithRoom();
    await log.append('chat', draft('hello'));
    await log.append('join', { room: 'r', user: 'system', kind: 'system', chat: '#aaaaaa joined' });
    const fresh = new RoomLog(store, new LocalHub(() => undefined));
    fresh.track('r', await store.lastSeq('r'));
    expect((await fresh.replay('r', 0)).map((event) => event.type)).toEqual(['chat', 'join']);
  });

  it('refuses appends to a room it forgot (404) and keeps no recent events for it', async () => {
    const { log } = await logWithRoom();
    await log.append('chat', draft('a'));
    log.forget('r');
    await expect(log.append('chat', draft('b'))).rejects.toMatchObject({ status: 404 });
    expect(log.lastSeq('r')).toBe(0);
  });
});

describe('RoomLog, as events come from other processes', () => {
  /** The hub of another process, in effect: events arrive as published, in whatever order. */
  async function logAndHub() {
    const parts = await logWithRoom();
    const seen: number[] = [];
    parts.log.listen('r', { receive: (event) => seen.push('id' in event ? event.id : -1) });
    return { ...parts, seen };
  }

  it('delivers in seq order: a message published ahead of an earlier one waits while the gap is read from the store', async () => {
    const { store, hub, seen } = await logAndHub();
    const stored = [];
    for (const text of ['a', 'b', 'c']) stored.push(await store.appendMessage(draft(text)));
    hub.publishStored('r', { type: 'chat', id: 3, data: stored[2]! });
    hub.publishRoom('r', { type: 'members', data: { members: [], ownerId: null } });
    expect(seen).toEqual([]);
    await eventually(() => seen.length === 4);
    expect(seen).toEqual([1, 2, 3, -1]);
    // The earlier ones, published late: already delivered, so dropped.
    hub.publishStored('r', { type: 'chat', id: 1, data: stored[0]! });
    hub.publishStored('r', { type: 'chat', id: 2, data: stored[1]! });
    expect(seen).toEqual([1, 2, 3, -1]);
  });

  it('keeps trying the store while it fails, and delivers nothing past the gap meanwhile', async () => {
    const { store, hub, seen } = await logAndHub();
    const first = await store.appendMessage(draft('a'));
    const second = await store.appendMessage(draft('b'));
    const read = store.messagesAfter.bind(store);
    let failures = 2;
    store.messagesAfter = async (...args) => {
      if (failures-- > 0) throw new Error('the database is away');
      return read(...args);
    };
    hub.publishStored('r', { type: 'chat', id: 2, data: second });
    await new Promise((done) => setTimeout(done, 300));
    expect(seen).toEqual([]);
    await eventually(() => seen.length === 2, 3000);
    expect(seen).toEqual([first.seq, second.seq]);
  });
});

describe('RoomLog.replay with a limit', () => {
  it('reads no further than the limit, from the recent events and from the store', async () => {
    const { store, log } = await logWithRoom();
    for (let i = 0; i < 700; i += 1) await log.append('chat', draft(`m${i}`));
    expect(ids(await log.replay('r', 690, 5))).toEqual([691, 692, 693, 694, 695]);
    store.reads = 0;
    const first = await log.replay('r', 0, 600);
    expect(ids(first)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(store.reads).toBe(2);
  });
});

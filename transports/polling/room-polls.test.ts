import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatService, type Visitor } from '../../core/chat.ts';
import { GifFiles } from '../../core/gifs.ts';
import { MemoryStore } from '../../core/store/memory.ts';
import { RoomPolls } from './room-polls.ts';

/** A response that takes RoomPolls' answer, as `writeAnswer` would, and then closes. */
class Response extends EventEmitter {
  closed = false;
  writableFinished = false;
  body = '';
}

interface WireEvent {
  type: string;
  id?: number;
  data: { chat?: string };
}

const alice: Visitor = { userId: 'alice-userid-0001', user: '#aaaaaa', granted: [] };
const bob: Visitor = { userId: 'bob-userid-00002', user: '#bbbbbb', granted: [] };
const carol: Visitor = { userId: 'carol-userid-003', user: '#cccccc', granted: [] };

/** One answer's worth: small, so that a burst is easily bigger than the seat's buffer. */
const MAX_EVENTS = 5;

let dir: string;
let chat: ChatService;
let polls: RoomPolls;
let overflows: number;
let room: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'realtime-lab-polls-'));
  chat = await ChatService.open({
    store: new MemoryStore(),
    gifs: await GifFiles.open(dir),
    emptyRoomGraceMs: 60_000,
    memberGraceMs: 50,
  });
  overflows = 0;
  polls = new RoomPolls({
    chat,
    lingerMs: 10_000,
    maxEvents: MAX_EVENTS,
    countEvents: () => {},
    countOverflow: () => {
      overflows += 1;
    },
    respond: (res, body) => {
      const response = res as unknown as Response;
      response.body = body;
      response.writableFinished = true;
      response.closed = true;
      response.emit('close');
    },
    isOpen: () => true,
  });
  room = (await chat.createRoom(alice, { title: 'polls' })).id;
});

afterEach(async () => {
  await Promise.all(polls.close());
  await chat.close();
  await rm(dir, { recursive: true, force: true });
});

/** Bob's poll of the room; resolves to its answer. */
async function poll(after: number | undefined, wait = 0) {
  const res = new Response();
  const answered = once(res, 'close');
  await polls.poll(res as unknown as ServerResponse, bob, room, after, wait);
  await answered;
  return JSON.parse(res.body) as { events: WireEvent[]; cursor: number };
}

const say = (text: string, visitor = alice, toId?: string) =>
  chat.post(visitor, room, toId ? { chat: text, toId } : { chat: text });
const chats = (events: WireEvent[]) =>
  events.filter((event) => event.type === 'chat').map((event) => event.data.chat);

/** Bob's polls with wait=0 from `after` until one comes back empty: every chat and the cursor. */
async function drain(after: number) {
  const texts: (string | undefined)[] = [];
  let cursor = after;
  for (;;) {
    const answer = await poll(cursor);
    texts.push(...chats(answer.events));
    cursor = answer.cursor;
    if (answer.events.length === 0) return { texts, cursor };
  }
}

describe('a seat across polls', () => {
  it('polls that resume where the last answer ended open no subscription of their own', async () => {
    const opened = vi.spyOn(chat, 'openSubscription');
    const opensOfBob = () => opened.mock.calls.filter(([visitor]) => visitor === bob).length;
    let { cursor } = await drain(0);
    expect(opensOfBob()).toBe(1);
    const got: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) {
        // Between two polls: the message waits in the seat.
        await say(`m${i}`);
        const answer = await poll(cursor);
        got.push(...chats(answer.events));
        cursor = answer.cursor;
      } else {
        // A pending poll: the message answers it.
        const pending = poll(cursor, 20);
        await say(`m${i}`);
        const answer = await pending;
        got.push(...chats(answer.events));
        cursor = answer.cursor;
      }
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(opensOfBob()).toBe(1);
  });

  it('the cursor of an answer from the seat moves past whispers bob cannot see', async () => {
    const { cursor } = await drain(0);
    await chat.openSubscription(carol, room, {}, { onEvent: () => {} });
    const quiet = await drain(cursor);
    const whisper = await say('for carol only', alice, carol.userId);
    const answer = await poll(quiet.cursor);
    expect(answer).toEqual({ events: [], cursor: whisper.seq });
  });

  it('a client that lost an answer and polls again from its older cursor gets every message once, in order', async () => {
    const { cursor } = await drain(0);
    await say('a');
    await say('b');
    const lost = await poll(cursor);
    expect(chats(lost.events)).toEqual(['a', 'b']);
    await say('c');
    // The answer never reached the client: it polls from its cursor before it.
    const again = await poll(cursor);
    const rest = await drain(again.cursor);
    expect([...chats(again.events), ...rest.texts]).toEqual(['a', 'b', 'c']);
    await say('d');
    expect(chats((await poll(rest.cursor)).events)).toEqual(['d']);
  });

  it('an event that comes while a poll resumes reaches it once, from the old subscription or the new', async () => {
    const { cursor } = await drain(0);
    expect(cursor).toBeGreaterThan(0);
    // The resume's subscription opens (it holds live events from here) but is adopted only
    // once the gate opens: meanwhile the seat's old subscription delivers too.
    let open!: () => void;
    const gate = new Promise<void>((done) => {
      open = done;
    });
    const openSubscription = chat.openSubscription.bind(chat);
    vi.spyOn(chat, 'openSubscription').mockImplementation(async (...args) => {
      const subscription = await openSubscription(...args);
      await gate;
      return subscription;
    });
    const res = new Response();
    const answered = once(res, 'close');
    // From 0, older than the seat's start: it resumes through a new subscription.
    const resumed = polls.poll(res as unknown as ServerResponse, bob, room, 0, 0);
    await new Promise((done) => setTimeout(done, 20));
    await chat.kick(alice, room, { userId: bob.userId });
    open();
    await resumed;
    await answered;
    const { events } = JSON.parse(res.body) as { events: WireEvent[] };
    expect(events.filter((event) => event.type === 'kicked')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('kicked');
  });

  it('a burst bigger than the seat holds between two polls is delivered complete and in order', async () => {
    const { cursor } = await drain(0);
    const burst = Array.from({ length: 3 * MAX_EVENTS + 2 }, (_, i) => `burst${i}`);
    for (const text of burst) await say(text);
    const first = await poll(cursor);
    const seqs = first.events.filter((event) => event.id !== undefined).map((event) => event.id);
    // A capped answer: one answer's worth, its cursor its last event's seq.
    expect(seqs).toHaveLength(MAX_EVENTS);
    expect(first.cursor).toBe(seqs.at(-1));
    const rest = await drain(first.cursor);
    expect([...chats(first.events), ...rest.texts]).toEqual(burst);
    // Then the seat serves the polls again.
    await say('after the burst');
    expect(chats((await poll(rest.cursor)).events)).toEqual(['after the burst']);
  });

  it('between two polls the seat holds its events as the answer will carry them, up to one answer, then overflows once', async () => {
    const joined = await drain(0);
    // Bob's join may bring `members` up to 100 ms later: taken too, so the seat starts empty.
    await new Promise((done) => setTimeout(done, 150));
    const { cursor } = await drain(joined.cursor);
    expect(polls.queues()).toEqual({ queuedBytes: 0, largestQueueBytes: 0 });
    const sizes: number[] = [];
    for (let i = 0; i < MAX_EVENTS; i++) {
      await say(`queued ${i}`);
      sizes.push(polls.queues().largestQueueBytes);
    }
    // Growing with every message, each an entry of the answer to come.
    expect(sizes.every((size, i) => i === 0 || size > sizes[i - 1]!)).toBe(true);
    expect(sizes[0]).toBeGreaterThan('queued 0'.length);
    expect(overflows).toBe(0);
    await say('one too many');
    await say('and another');
    // It holds one answer's worth and takes no more; the overflow is counted once.
    expect(polls.queues().largestQueueBytes).toBe(sizes.at(-1));
    expect(overflows).toBe(1);
    // The next poll resumes from the store: every message, in order, and the queue is empty.
    const rest = await drain(cursor);
    expect(rest.texts).toEqual([
      ...Array.from({ length: MAX_EVENTS }, (_, i) => `queued ${i}`),
      'one too many',
      'and another',
    ]);
    expect(polls.queues()).toEqual({ queuedBytes: 0, largestQueueBytes: 0 });
  });
});

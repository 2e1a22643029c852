import { describe, expect, it } from 'vitest';
import type { Message, RoomEvent } from './model.ts';
import { RoomSubscription } from './subscription.ts';

const ME = 'me-userid-000001';
const OTHER = 'other-userid-002';

function chat(seq: number, extra: Partial<Message> = {}): RoomEvent {
  const data: Message = {
    id: `m${seq}`,
    room: 'r',
    seq,
    user: '#aaaaaa',
    userId: OTHER,
    kind: 'chat',
    chat: `m${seq}`,
    createdAt: '2026-12-01T00:00:00.000Z',
    ...extra,
  };
  return { type: 'chat', id: seq, data };
}

function open(cursor = 0) {
  const events: RoomEvent[] = [];
  let ended = 0;
  let released = 0;
  const subscription = new RoomSubscription(
    'r',
    ME,
    cursor,
    { onEvent: (event) => events.push(event), onEnd: () => (ended += 1) },
    { release: () => (released += 1) },
  );
  return { subscription, events, ended: () => ended, released: () => released };
}

const seqs = (events: RoomEvent[]) =>
  events.map((event) => ('id' in event ? event.id : event.type));

describe('RoomSubscription', () => {
  it('holds every event until start, then sends the replay before the live ones, none twice', () => {
    const { subscription, events } = open(0);
    subscription.receive(chat(3), undefined);
    subscription.receive(chat(4), undefined);
    subscription.replayFirst([chat(1), chat(2), chat(3)]);
    expect(events).toEqual([]);
    expect(subscription.state).toBe('held');
    subscription.start();
    expect(seqs(events)).toEqual([1, 2, 3, 4]);
    subscription.receive(chat(4), undefined);
    subscription.receive(chat(5), undefined);
    expect(seqs(events)).toEqual([1, 2, 3, 4, 5]);
    expect(subscription.cursor).toBe(5);
    expect(subscription.state).toBe('live');
  });

  it('drops what is at or before its cursor', () => {
    const { subscription, events } = open(7);
    subscription.replayFirst([chat(6), chat(7), chat(8)]);
    subscription.start();
    expect(seqs(events)).toEqual([8]);
  });

  it('skips whispers between two other users but moves its cursor past them', () => {
    const { subscription, events } = open(0);
    subscription.start();
    subscription.receive(chat(1, { toId: 'third-userid-003', to: '#cccccc' }), undefined);
    subscription.receive(chat(2, { toId: ME, to: '#dddddd' }), undefined);
    expect(seqs(events)).toEqual([2]);
    expect(subscription.cursor).toBe(2);
  });

  it('takes an event narrowed to one user only when it is that user', () => {
    const { subscription, events } = open(0);
    subscription.start();
    subscription.receive({ type: 'kicked', data: { id: 'r' } }, OTHER);
    expect(events).toEqual([]);
  });

  it('ends itself after kicked or removeRoom: onEnd once, released once, nothing after', () => {
    for (const final of [
      { type: 'kicked', data: { id: 'r' } },
      { type: 'removeRoom', data: { id: 'r' } },
    ] as RoomEvent[]) {
      const { subscription, events, ended, released } = open(0);
      subscription.receive(chat(1), undefined);
      subscription.receive(final, ME);
      subscription.receive(chat(2), undefined);
      subscription.start();
      subscription.receive(chat(3), undefined);
      expect(seqs(events)).toEqual([1, final.type]);
      expect(subscription.state).toBe('closed');
      expect([ended(), released()]).toEqual([1, 1]);
      subscription.close();
      expect(released()).toBe(1);
    }
  });

  it('closed before start sends nothing and lets go once', () => {
    const { subscription, events, ended, released } = open(0);
    subscription.receive(chat(1), undefined);
    subscription.close();
    subscription.close();
    subscription.start();
    expect(events).toEqual([]);
    expect([ended(), released()]).toEqual([0, 1]);
  });

  it('a subscriber that closes it while the held events go out stops them', () => {
    const events: RoomEvent[] = [];
    const subscription: RoomSubscription = new RoomSubscription(
      'r',
      ME,
      0,
      {
        onEvent: (event) => {
          events.push(event);
          subscription.close();
        },
      },
      { release: () => undefined },
    );
    subscription.receive(chat(1), undefined);
    subscription.receive(chat(2), undefined);
    subscription.start();
    expect(seqs(events)).toEqual([1]);
  });
});

describe('RoomSubscription after a truncated replay', () => {
  it('sends no stored event past the replay (it would follow a gap), seq-less ones still', () => {
    const { subscription, events } = open(0);
    subscription.receive(chat(9), undefined);
    subscription.replayFirst([chat(1), chat(2)], true);
    subscription.start();
    subscription.receive({ type: 'members', data: { members: [], ownerId: null } }, undefined);
    subscription.receive(chat(10), undefined);
    expect(seqs(events)).toEqual([1, 2, 'members']);
    expect(subscription.cursor).toBe(2);
  });
});

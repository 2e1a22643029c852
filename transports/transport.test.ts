import { describe, expect, it } from 'vitest';
import { encodeOnce, queueSizes, SendBound } from './transport.ts';

/** What `exceeded` says of each queue length in turn (it keeps state: the order matters). */
const verdicts = (bound: SendBound, queued: number[]) => queued.map((q) => bound.exceeded(q));

describe('SendBound', () => {
  it('lets a queue up to max through and cuts one past it', () => {
    const bound = new SendBound(1000);
    expect(verdicts(bound, [0, 999, 1000, 1001, 50_000])).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
  });

  it('allowBurst lets a replay through until the queue has drained below max; then max again', () => {
    const bound = new SendBound(1000);
    // A replay of 5000 bytes written at once: the burst, and up to max more on top of it.
    bound.allowBurst(5000);
    expect(verdicts(bound, [5000, 6000, 6001])).toEqual([false, false, true]);
    // Draining, still over max: the burst still holds.
    expect(verdicts(bound, [3000, 5500])).toEqual([false, false]);
    // Drained below max: from now on the bound is max.
    expect(verdicts(bound, [900, 1001, 5000])).toEqual([false, true, true]);
  });

  it('mayBurst: no second replay while the first is unread', () => {
    const bound = new SendBound(1000);
    expect(bound.mayBurst(0)).toBe(true);
    expect(bound.mayBurst(1000)).toBe(true);
    bound.allowBurst(5000);
    // The client asks for another replay without reading the first: it is cut off instead.
    expect(bound.mayBurst(5000)).toBe(false);
    expect(bound.mayBurst(900)).toBe(true);
  });

  it('a burst never lowers the bound, and bursts grow with what is queued', () => {
    const bound = new SendBound(1000);
    bound.allowBurst(0);
    expect(bound.exceeded(1001)).toBe(true);
    bound.allowBurst(4000);
    bound.allowBurst(100);
    expect(bound.exceeded(5000)).toBe(false);
    bound.allowBurst(9000);
    expect(verdicts(bound, [10_000, 10_001])).toEqual([false, true]);
  });
});

describe('encodeOnce', () => {
  it('encodes an event once however many connections write it; other events each once', () => {
    const encoded: object[] = [];
    const encode = encodeOnce((event: { seq: number }) => {
      encoded.push(event);
      return JSON.stringify(event);
    });
    const first = { seq: 1 };
    const second = { seq: 1 };
    const copies = Array.from({ length: 100 }, () => encode(first));
    expect(new Set(copies)).toEqual(new Set(['{"seq":1}']));
    expect(encoded).toEqual([first]);
    // An equal object is another event: encoded on its own, once.
    expect(encode(second)).toBe('{"seq":1}');
    encode(second);
    encode(first);
    expect(encoded).toHaveLength(2);
    expect(encoded[0]).toBe(first);
    expect(encoded[1]).toBe(second);
  });

  it('hands every caller the same encoded value, a Buffer included', () => {
    const encode = encodeOnce((event: { chat: string }) => Buffer.from(event.chat));
    const event = { chat: 'hello' };
    expect(encode(event)).toBe(encode(event));
    expect(encode({ chat: 'hello' })).not.toBe(encode(event));
  });

  it('keeps only the newest events encoded: an older one is encoded again when written again', () => {
    let encodings = 0;
    const encode = encodeOnce((event: { seq: number }) => {
      encodings += 1;
      return String(event.seq);
    }, 3);
    const events = [1, 2, 3, 4].map((seq) => ({ seq }));
    for (const event of events) encode(event);
    expect(encodings).toBe(4);
    encode(events[3]!);
    encode(events[1]!);
    expect(encodings).toBe(4);
    // The first went out when the fourth came in.
    expect(encode(events[0]!)).toBe('1');
    expect(encodings).toBe(5);
  });
});

describe('queueSizes', () => {
  it('sums the queues and keeps the largest, in one pass; none is zero and zero', () => {
    const queues = new Map([
      ['a', 10],
      ['b', 300],
      ['c', 0],
    ]);
    expect(queueSizes(queues.values(), (bytes) => bytes)).toEqual({
      queuedBytes: 310,
      largestQueueBytes: 300,
    });
    expect(queueSizes([], () => 1)).toEqual({ queuedBytes: 0, largestQueueBytes: 0 });
  });
});

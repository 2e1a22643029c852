import { describe, expect, it } from 'vitest';
import { ChatError } from './errors.ts';
import { Buckets, DEFAULT_LIMITS, Limits, NOTHING_TO_RELEASE } from './limits.ts';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function refusal(check: () => unknown): ChatError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(ChatError);
    return error as ChatError;
  }
  throw new Error('the check passed');
}

describe('Buckets', () => {
  it('gives a burst, then one token per 1/rate, and says how many whole seconds to wait', () => {
    const time = clock();
    const buckets = new Buckets({ perSecond: 2, burst: 3 }, 100, time.now);
    expect([1, 2, 3].map(() => buckets.take('a'))).toEqual([0, 0, 0]);
    expect(buckets.take('a')).toBe(1);
    time.advance(400);
    expect(buckets.take('a')).toBe(1);
    time.advance(100);
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(1);
    // Another key has its own bucket.
    expect(buckets.take('b')).toBe(0);
    // A slow rate: 10 a minute is one token every 6 s.
    const slow = new Buckets({ perSecond: 10 / 60, burst: 10 }, 100, time.now);
    for (let i = 0; i < 10; i += 1) expect(slow.take('a')).toBe(0);
    expect(slow.take('a')).toBe(6);
    time.advance(3000);
    expect(slow.wait('a')).toBe(3);
  });

  it('forgets a bucket once it would be full again, without a timer', () => {
    const time = clock();
    const buckets = new Buckets({ perSecond: 1, burst: 10 }, 1000, time.now);
    for (let i = 0; i < 100; i += 1) buckets.take(`idle-${i}`);
    expect(buckets.size).toBe(100);
    time.advance(9_999);
    buckets.take('fresh');
    expect(buckets.size).toBe(101);
    time.advance(1);
    buckets.take('fresh');
    // Only the one used in the last 10 s (the time an empty bucket takes to fill) is kept.
    expect(buckets.size).toBe(1);
    // A forgotten bucket is a full one: nothing was lost by forgetting it.
    for (let i = 0; i < 10; i += 1) expect(buckets.take('idle-0')).toBe(0);
    expect(buckets.take('idle-0')).toBe(1);
  });

  it('holds its cap on entries, forgetting the least recently used first', () => {
    const time = clock();
    const buckets = new Buckets({ perSecond: 1, burst: 2 }, 50, time.now);
    buckets.take('busy');
    buckets.take('busy');
    for (let i = 0; i < 10_000; i += 1) {
      buckets.take(`flood-${i}`);
      if (i % 10 === 0) buckets.wait('busy');
      expect(buckets.size).toBeLessThanOrEqual(50);
    }
    expect(buckets.size).toBe(50);
    // The key in use stayed, empty as it was.
    expect(buckets.take('busy')).toBe(1);
  });
});

describe('Limits', () => {
  it('has PROTOCOL.md’s defaults', () => {
    expect(DEFAULT_LIMITS).toMatchObject({
      posts: { perSecond: 20, burst: 200 },
      rooms: { burst: 10 },
      liveRoomsPerUser: 20,
      passwords: { burst: 10 },
      passwordsPerAddress: { burst: 60 },
      sessionsPerAddress: { burst: 600 },
      connectionsPerAddress: 2000,
    });
    expect(DEFAULT_LIMITS.rooms.perSecond * 60).toBeCloseTo(10);
    expect(DEFAULT_LIMITS.sessionsPerAddress.perSecond * 60).toBeCloseTo(600);
  });

  it('refuses with 429, a sentence and the seconds to wait', () => {
    const time = clock();
    const limits = new Limits({}, { now: time.now });
    const alice = { userId: 'alice' };
    for (let i = 0; i < 200; i += 1) limits.post(alice);
    const refused = refusal(() => limits.post(alice));
    expect(refused).toMatchObject({ status: 429, retryAfterS: 1 });
    expect(refused.message).toMatch(/too fast.*wait 1 s/);
    time.advance(50);
    limits.post(alice);
    // Every session has its own bucket.
    limits.post({ userId: 'bob' });
  });

  it('refuses the 21st live room whatever the rate, and the 11th room in a minute', () => {
    const time = clock();
    const limits = new Limits({}, { now: time.now });
    const alice = { userId: 'alice' };
    expect(refusal(() => limits.createRoom(alice, 20))).toMatchObject({ status: 429 });
    for (let i = 0; i < 10; i += 1) limits.createRoom(alice, i);
    expect(refusal(() => limits.createRoom(alice, 10))).toMatchObject({ retryAfterS: 6 });
    time.advance(6000);
    limits.createRoom(alice, 10);
  });

  it('counts password attempts per session and room, and per address; one session does not drain its address', () => {
    const time = clock();
    const limits = new Limits({}, { now: time.now });
    const guesser = { userId: 'guesser' };
    for (let i = 0; i < 10; i += 1) limits.password(guesser, 'r1', '10.0.0.1');
    for (let i = 0; i < 100; i += 1) {
      expect(refusal(() => limits.password(guesser, 'r1', '10.0.0.1')).retryAfterS).toBe(6);
    }
    // Another room, then other sessions of the same address: 50 of the address's 60 are left.
    limits.password(guesser, 'r2', '10.0.0.1');
    for (let i = 0; i < 49; i += 1) limits.password({ userId: `s${i}` }, 'r1', '10.0.0.1');
    const shared = refusal(() => limits.password({ userId: 'late' }, 'r1', '10.0.0.1'));
    expect(shared.message).toMatch(/from your network/);
    // Refused by the address, the session's own attempt was not spent.
    limits.password({ userId: 'late' }, 'r1', '10.0.0.2');
  });

  it('counts new sessions per address', () => {
    const limits = new Limits({}, { now: clock().now });
    for (let i = 0; i < 600; i += 1) limits.newSession('10.0.0.1');
    expect(refusal(() => limits.newSession('10.0.0.1'))).toMatchObject({ status: 429 });
    limits.newSession('10.0.0.2');
  });

  it('counts open connections per address until each is released, once', () => {
    const limits = new Limits({ connectionsPerAddress: 2 });
    const first = limits.openConnection('10.0.0.1');
    const second = limits.openConnection('10.0.0.1');
    limits.openConnection('10.0.0.2');
    expect(refusal(() => limits.openConnection('10.0.0.1'))).toMatchObject({ status: 429 });
    first();
    first();
    expect(limits.openConnections('10.0.0.1')).toBe(1);
    const third = limits.openConnection('10.0.0.1');
    second();
    third();
    expect(limits.openConnections('10.0.0.1')).toBe(0);
  });

  it('reads the address of a socket only when it counts its connections', () => {
    let reads = 0;
    const socket = {
      get remoteAddress() {
        reads += 1;
        return '10.0.0.1';
      },
    };
    const release = new Limits().openConnectionOf(socket);
    expect(reads).toBe(1);
    release();
    expect(Limits.off().openConnectionOf(socket)).toBe(NOTHING_TO_RELEASE);
    expect(Limits.off().openConnection('10.0.0.1')).toBe(NOTHING_TO_RELEASE);
    expect(reads).toBe(1);
  });

  it('off: every check passes', () => {
    const limits = Limits.off();
    const alice = { userId: 'alice' };
    for (let i = 0; i < 5000; i += 1) {
      limits.post(alice);
      limits.password(alice, 'r', 'a');
      limits.newSession('a');
      limits.openConnection('a');
    }
    limits.createRoom(alice, 1000);
    expect(limits.on).toBe(false);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SpreadHeartbeat } from './heartbeat.ts';

describe('SpreadHeartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('beats every member once per period, a tenth of them at a time, and forgets the removed', () => {
    const beats: number[][] = [];
    let tick: number[] = [];
    const heartbeat = new SpreadHeartbeat<number>(1000, (member) => tick.push(member));
    for (let member = 0; member < 100; member += 1) heartbeat.add(member);
    heartbeat.delete(7);
    for (let i = 0; i < 20; i += 1) {
      vi.advanceTimersByTime(100);
      beats.push(tick);
      tick = [];
    }
    for (const period of [beats.slice(0, 10), beats.slice(10)]) {
      const members = period.flat().sort((a, b) => a - b);
      expect(members).toEqual([...Array(100).keys()].filter((m) => m !== 7));
      for (const turn of period) expect(turn.length).toBeLessThanOrEqual(10);
    }
    heartbeat.stop();
    vi.advanceTimersByTime(5000);
    expect(tick).toEqual([]);
  });

  it('a beat may remove its own member (a dead peer ended) without skipping the others', () => {
    const beaten: number[] = [];
    const heartbeat: SpreadHeartbeat<number> = new SpreadHeartbeat(100, (member) => {
      beaten.push(member);
      heartbeat.delete(member);
    });
    for (let member = 0; member < 30; member += 1) heartbeat.add(member);
    vi.advanceTimersByTime(200);
    expect(beaten.sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
    heartbeat.stop();
  });
});

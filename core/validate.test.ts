import { describe, expect, it } from 'vitest';
import { ChatError } from './errors.ts';
import { chatInput, cursor, limit, roomId, roomInput } from './validate.ts';

function statusOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof ChatError ? error.status : -1;
  }
  return undefined;
}

describe('roomInput', () => {
  it('trims the title, defaults max to 10 and an empty password to none', () => {
    expect(roomInput({ title: '  hi  ', password: '' })).toEqual({
      title: 'hi',
      max: 10,
      password: null,
    });
    expect(roomInput({ title: 'x', max: '25' })).toEqual({ title: 'x', max: 25, password: null });
  });

  it.each([
    [{ title: { $ne: null } }],
    [{ title: 'x', max: { $gt: 0 } }],
    [{ title: 'x', password: ['a'] }],
    [{ title: 'x', max: '1e3' }],
    [{ title: 'x', max: '0x10' }],
    [{ title: 'x', max: Number.NaN }],
    [{ title: 'x', max: 1e21 }],
    [null],
    ['title=x'],
  ])('refuses %j with 400', (body) => {
    expect(statusOf(() => roomInput(body))).toBe(400);
  });
});

describe('chatInput', () => {
  it('keeps a whisper target only when it is a userId, never a colour', () => {
    const toId = 'Xq3_vB-9kLm2Np4rSt6uVw';
    expect(chatInput({ chat: 'hi', toId })).toEqual({ chat: 'hi', toId });
    expect(chatInput({ chat: 'hi', toId: null })).toEqual({ chat: 'hi' });
    for (const bad of ['#a3c25e', 'short', 'x'.repeat(65), 'a b c d e f g h i', { $ne: null }, 7]) {
      expect(statusOf(() => chatInput({ chat: 'hi', toId: bad }))).toBe(400);
    }
    // v1's `to` named a colour: sent on, the whisper would reach everyone.
    expect(statusOf(() => chatInput({ chat: 'hi', to: '#a3c25e' }))).toBe(400);
    expect(statusOf(() => chatInput({ chat: 'hi', to: toId }))).toBe(400);
  });
});

describe('ids and cursors', () => {
  it('a malformed room id is a 404, never a crash', () => {
    for (const id of ['', 'a'.repeat(65), '../x', { $ne: null }, 42, undefined]) {
      expect(statusOf(() => roomId(id))).toBe(404);
    }
    expect(roomId('Ab_-9')).toBe('Ab_-9');
  });

  it('cursor and limit take whole numbers only', () => {
    expect(cursor('12')).toBe(12);
    expect(cursor(undefined)).toBeUndefined();
    for (const bad of ['-1', '1.5', 'x', ['1'], {}]) expect(statusOf(() => cursor(bad))).toBe(400);
    expect(limit(undefined)).toBe(100);
    expect(statusOf(() => limit('5000'))).toBe(400);
  });
});

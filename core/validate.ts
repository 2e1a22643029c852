import { ChatError } from './errors.ts';
import { ID_PATTERN, LIMITS, USER_ID_PATTERN, type UserId } from './model.ts';

/**
 * PROTOCOL.md's rules for untrusted input, in one place. Every value arrives as `unknown` (a JSON
 * body, a form field, a frame): a value of the wrong type is a 400, never coerced, so an object
 * such as `{"$ne": null}` never reaches a store.
 */

export interface RoomInput {
  title: string;
  max: number;
  password: string | null;
}

export function roomInput(body: unknown): RoomInput {
  const fields = record(body);
  const title = text(fields.title, 'title');
  if (title.length < 1 || title.length > LIMITS.titleMax) {
    throw new ChatError(400, `The title must be 1 to ${LIMITS.titleMax} characters long.`, {
      code: 'titleLength',
      params: { max: LIMITS.titleMax },
    });
  }
  return { title, max: capacity(fields.max), password: password(fields.password) };
}

export interface ChatInput {
  chat: string;
  /** A whisper's recipient. */
  toId?: UserId;
}

export function chatInput(body: unknown): ChatInput {
  const fields = record(body);
  const chat = text(fields.chat, 'chat');
  if (chat.length < 1 || chat.length > LIMITS.chatMax) {
    throw new ChatError(400, `A message must be 1 to ${LIMITS.chatMax} characters long.`, {
      code: 'chatLength',
      params: { max: LIMITS.chatMax },
    });
  }
  // v1 named a whisper's recipient by colour; sent on, it would go to everyone. Refuse it.
  if (fields.to !== undefined) {
    throw new ChatError(400, 'Whisper with toId (the userId of a member), not to (a colour).');
  }
  if (fields.toId === undefined || fields.toId === null || fields.toId === '') return { chat };
  return { chat, toId: userId(fields.toId, 'toId') };
}

/** A `userId` (a whisper's `toId`, a kick's `userId`): a colour names nobody, so it is a 400. */
export function userId(value: unknown, field: string): UserId {
  if (typeof value !== 'string' || !USER_ID_PATTERN.test(value)) {
    throw new ChatError(
      400,
      `${field} must be a userId (16 to 64 characters of A-Z, a-z, 0-9, _ and -), as members list them.`,
    );
  }
  return value;
}

/** A password as typed: at most 64 characters; empty means none. */
export function password(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ChatError(400, 'The password must be text.');
  if (value.length > LIMITS.passwordMax) {
    throw new ChatError(
      400,
      `The password must be at most ${LIMITS.passwordMax} characters long.`,
      {
        code: 'passwordLength',
        params: { max: LIMITS.passwordMax },
      },
    );
  }
  return value;
}

/** A room id from a URL or a frame: a malformed one names no room, so it is a 404. */
export function roomId(value: unknown): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
  }
  return value;
}

/** A resume cursor: a whole number >= 0, or absent. Strings of digits are accepted (URLs). */
export function cursor(value: unknown, field = 'after'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = wholeNumber(value);
  if (n === null || n < 0) throw new ChatError(400, `${field} must be a whole number from 0.`);
  return n;
}

/** A page size: a whole number from 1 to `max`, or absent (`fallback`). */
export function limit(
  value: unknown,
  max: number = LIMITS.historyLimitMax,
  fallback: number = LIMITS.historyLimitDefault,
): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = wholeNumber(value);
  if (n === null || n < 1 || n > max) {
    throw new ChatError(400, `limit must be a whole number from 1 to ${max}.`);
  }
  return n;
}

function capacity(value: unknown): number {
  if (value === undefined || value === null || value === '') return LIMITS.maxDefault;
  const n = wholeNumber(value);
  if (n === null || n < LIMITS.maxMin || n > LIMITS.maxMax) {
    throw new ChatError(
      400,
      `The capacity must be a whole number from ${LIMITS.maxMin} to ${LIMITS.maxMax}.`,
      { code: 'capacity', params: { min: LIMITS.maxMin, max: LIMITS.maxMax } },
    );
  }
  return n;
}

function wholeNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value !== 'string') return null;
  const digits = value.trim();
  return /^\d{1,15}$/.test(digits) ? Number(digits) : null;
}

function text(value: unknown, field: string): string {
  if (value === undefined || value === null) throw new ChatError(400, `${field} is required.`);
  if (typeof value !== 'string') throw new ChatError(400, `${field} must be text.`);
  return value.trim();
}

function record(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChatError(400, 'The request body must be a JSON object or a form.');
  }
  return body as Record<string, unknown>;
}

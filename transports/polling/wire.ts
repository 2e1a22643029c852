import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { ChatError } from '../../core/errors.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import { encodeOnce } from '../transport.ts';

/** The wire format of long polling (PROTOCOL.md): answers, `wait`, and how a poll ends. */

const WAIT_DEFAULT_S = 25;
const WAIT_MAX_S = 55;

/** `wait` in seconds: default 25, at most 55, 0 answers at once (short polling). */
export function waitSeconds(value: unknown): number {
  const sentence = `wait must be a whole number of seconds from 0 to ${WAIT_MAX_S}.`;
  let wait: number | undefined;
  try {
    wait = validate.cursor(value, 'wait');
  } catch {
    throw new ChatError(400, sentence);
  }
  if (wait === undefined) return WAIT_DEFAULT_S;
  if (wait > WAIT_MAX_S) throw new ChatError(400, sentence);
  return wait;
}

/** Runs `abort` if the client goes away before the response has been sent. */
export function onAbort(res: ServerResponse, abort: () => void): void {
  res.once('close', () => {
    if (!res.writableFinished) abort();
  });
}

/** Settles when the response has left, or its client went away. */
export function responseClosed(res: ServerResponse): Promise<void> {
  if (res.closed) return Promise.resolve();
  return new Promise((done) => res.once('close', () => done()));
}

export function answer(ctx: Context, body: string): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/json';
  ctx.body = body;
}

/** The headers of every answer given without koa (Content-Length follows), as a flat list. */
const ANSWER_HEADERS = [
  'Content-Type',
  'application/json; charset=utf-8',
  'Cache-Control',
  'no-store',
  'X-Content-Type-Options',
  'nosniff',
] as const;

/**
 * The same answer (or an error) without koa, for the polls served beside it. The answers a
 * message gives in one pass share one text (encodeAnswer), and so its length and header list.
 */
export function writeAnswer(
  res: ServerResponse,
  status: number,
  body: string,
  headers?: Readonly<Record<string, string>>,
): void {
  if (body !== written.body) {
    written.body = body;
    written.headers = [...ANSWER_HEADERS, 'Content-Length', String(Buffer.byteLength(body))];
  }
  let list = written.headers;
  if (headers !== undefined) {
    list = [...list];
    for (const name in headers) list.push(name, headers[name]!);
  }
  res.writeHead(status, list);
  res.end(body);
}

/** The last answer written, and its headers (which Node reads and does not keep). */
const written: { body: string | undefined; headers: string[] } = {
  body: undefined,
  headers: [],
};

/** `{"type","id"?,"data"}`, once per event object, whatever the number of polls it goes to. */
export const encodeEvent = encodeOnce((event: RoomEvent | LobbyEvent) =>
  JSON.stringify(
    'id' in event
      ? { type: event.type, id: event.id, data: event.data }
      : { type: event.type, data: event.data },
  ),
);

/**
 * An answer's text. The seats one message answers in one pass (every member's, all caught up)
 * each carry that one event and the same cursor: they get the one text, made once.
 */
export function encodeAnswer(events: readonly RoomEvent[], cursor: number): string {
  if (events.length !== 1) return encodeFragments(events.map(encodeEvent), cursor);
  const event = events[0]!;
  if (event !== lastOne.event || cursor !== lastOne.cursor) {
    lastOne.event = event;
    lastOne.cursor = cursor;
    lastOne.body = encodeFragments([encodeEvent(event)], cursor);
  }
  return lastOne.body;
}

/** The last answer of one event. */
const lastOne: { event: RoomEvent | undefined; cursor: number; body: string } = {
  event: undefined,
  cursor: -1,
  body: '',
};

export function encodeFragments(fragments: readonly string[], cursor: number): string {
  return `{"events":[${fragments.join(',')}],"cursor":${cursor}}`;
}

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ChatError, type ErrorCode, GENERIC_ERROR, isChatError } from '../core/errors.ts';
import { logError, logger } from '../core/log.ts';

const debug = logger('http');

/**
 * The edges' one error mapping, shared by the web app and every transport: a ChatError keeps its
 * status and sentence; a client error raised by koa or a body parser (bad JSON, too large) gets a
 * sentence of ours for its status; anything else is a 500 with a generic sentence (`refusalOf`
 * logs its stack, on the server only).
 */
export function describe(error: unknown): [number, string] {
  if (isChatError(error)) return [error.status, error.message];
  const status = clientStatus(error);
  if (status !== null)
    return [status, CLIENT_SENTENCES[status] ?? 'The request was not understood.'];
  return [500, GENERIC_ERROR];
}

/**
 * `describe`, for an answer that leaves the server: anything but a foreseen error (a ChatError, a
 * client's mistake) is logged here with its stack, on the server only; `what` says where.
 */
export function refusalOf(what: string, error: unknown): { error: string; status: number } {
  const [status, sentence] = describe(error);
  if (status >= 500 && !isChatError(error)) logError(what, error);
  return { error: sentence, status };
}

/** `Retry-After` for a refusal past a limit (429), in whole seconds; none for other errors. */
export function refusalHeaders(error: unknown): Record<string, string> {
  if (!isChatError(error) || error.retryAfterS === undefined) return {};
  return { 'Retry-After': String(error.retryAfterS) };
}

const CLIENT_SENTENCES: Record<number, string> = {
  400: 'The request body could not be read: send JSON, a form, or multipart as documented.',
  405: 'This address does not take that method.',
  413: 'The request is too large (a GIF may be at most 5 MiB).',
  415: 'This content type is not supported here.',
};

/** The codes of the sentences above that a person may see (a 6 MiB GIF stopped by the parser). */
const CLIENT_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'unreadableBody',
  413: 'tooLarge',
  415: 'unsupportedType',
};

/**
 * Which sentence an error is, for an edge that says it in another language: a ChatError's code
 * and values, a client error's code by its status, `generic` for a 500; none for a sentence only
 * programs see (which stays English).
 */
export function sentenceCode(
  error: unknown,
): { code: ErrorCode; params: Readonly<Record<string, string | number>> } | undefined {
  if (isChatError(error)) return error.code && { code: error.code, params: error.params };
  const status = clientStatus(error);
  if (status === null) return { code: 'generic', params: {} };
  const code = CLIENT_CODES[status];
  return code && { code, params: {} };
}

function clientStatus(error: unknown): number | null {
  if (typeof error !== 'object' || error === null) return null;
  const { status, statusCode, httpCode } = error as Record<string, unknown>;
  const code = [status, statusCode, httpCode].find((c) => typeof c === 'number') as
    | number
    | undefined;
  return code !== undefined && code >= 400 && code < 500 ? code : null;
}

/** An HTTP answer on the raw socket of an upgrade (ws, Socket.IO) that never becomes a WebSocket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  sentence: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ error: sentence });
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.on('error', (error) => debug('a refused upgrade: %s', error.message));
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `${extra.join('')}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export const NO_SESSION = 'No session: call GET /api/me first and send its cookie back.';
export const SHUTTING_DOWN = 'The server is shutting down; try again in a moment.';

/** A path segment as koa-router decodes it: the raw text when it is not valid percent-encoding (a 404). */
export function decodeSegment(segment: string): string {
  // Nothing to decode (a room id, every time but a hostile one's): no new string.
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The 403 of a POST, DELETE, upgrade or handshake whose Origin is not the server's own. */
export function originRefused(): ChatError {
  return new ChatError(403, 'Requests from another site are refused (Origin check).', {
    code: 'originRefused',
  });
}

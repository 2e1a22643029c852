import type { IncomingMessage, ServerResponse } from 'node:http';
import Bourne from '@hapi/bourne';
import type { ChatService, Visitor } from '../core/chat.ts';
import { requestLanguage } from '../core/language.ts';
import { logger } from '../core/log.ts';
import { decodeSegment, originRefused, refusalHeaders } from '../transports/errors.ts';
import type { WireMeter } from '../transports/meter.ts';
import { clientGone } from './errors.ts';
import { refusalIn } from './language.ts';

const debug = logger('http');

/** `POST /room/:id/chat`, with an optional query (`?lang=`). */
const CHAT_POST = /^\/room\/([^/?#]+)\/chat(?:\?[^#]*)?$/;
/** koa-body's `jsonLimit` in web/app.ts: the same bound, the same 413. */
export const JSON_LIMIT = 64 * 1024;
/** co-body's strict mode: a JSON body is an object or an array. */
const STRICT_JSON = /^[ \t\n\r]*[[{]/;

export interface ChatPostOptions {
  chat: ChatService;
  /** The meter of the shared routes, which koa's first middleware would have used. */
  meter: WireMeter;
  originAllowed(req: IncomingMessage): boolean;
  /** The visitor of a session cookie koa-session already verified; null leaves it to koa. */
  knownVisitor(req: IncomingMessage): Visitor | null;
  /** The headers koa puts on every answer (web/app.ts). */
  headers: Readonly<Record<string, string>>;
}

/**
 * The way up of long polling and SSE, `POST /room/:id/chat`, served beside koa as the room polls
 * are (engine.io's way): one post per message sent, and koa's middleware chain (session, body
 * parser, router) was two thirds of its CPU. It takes only the requests whose answer it can give
 * exactly as koa would: a JSON body (`application/json`, UTF-8, not compressed), a client that
 * does not ask for a page, and a session cookie koa-session has verified before (its visitor is
 * remembered, web/session.ts). Everything else (a form, a first post, a cookie due for renewal)
 * goes through koa. The checks are koa's, in koa's order: Origin (403), the body (413 past 64 KiB,
 * 400 when it is not strict JSON, `__proto__` included), then the chat's own (access, limits,
 * validation), with the same statuses, sentences and languages; test/http.test.ts runs the same
 * cases on both paths.
 */
export function chatPosts(
  options: ChatPostOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const created = headerList(options.headers);
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const match = CHAT_POST.exec(req.url ?? '');
    if (!match || !takesJson(req)) return false;
    const visitor = options.knownVisitor(req);
    if (!visitor) return false;
    options.meter.track(req, res);
    void post(options, created, req, res, visitor, decodeSegment(match[1]!));
    return true;
  };
}

/** A body koa-body would parse as JSON the plain way, for a client that wants JSON back. */
function takesJson(req: IncomingMessage): boolean {
  const { headers } = req;
  if ((headers.accept ?? '').includes('text/html')) return false;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const contentType = headers['content-type'] ?? '';
  if (contentType === 'application/json') return true;
  const [type = '', ...parameters] = contentType.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  return parameters.every((parameter) => {
    const [name = '', value = ''] = parameter.split('=');
    return name.trim().toLowerCase() !== 'charset' || /^"?utf-8"?$/i.test(value.trim());
  });
}

async function post(
  options: ChatPostOptions,
  /** koa's headers as a flat list, for every 201. */
  created: readonly string[],
  req: IncomingMessage,
  res: ServerResponse,
  visitor: Visitor,
  room: string,
): Promise<void> {
  try {
    if (!options.originAllowed(req)) {
      throw originRefused();
    }
    const body = await readJson(req);
    const message = await options.chat.post(visitor, room, body);
    write(res, 201, JSON.stringify({ message }), created.slice());
  } catch (error) {
    if (clientGone(req)) {
      // As koa's error mapper: a client that went away mid-request is no error.
      debug('POST %s: the client went away', req.url);
      return;
    }
    if (res.headersSent) return;
    const { status, error: sentence } = refusalIn(`POST ${req.url}`, error, requestLanguage(req));
    const headers = { ...options.headers, ...refusalHeaders(error) };
    write(res, status, JSON.stringify({ error: sentence }), headerList(headers));
  }
}

/** The body as co-body reads it (raw-body's checks, strict JSON, bourne against `__proto__`). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readText(req);
  if (text === '') return {};
  if (!STRICT_JSON.test(text)) throw clientError(400);
  try {
    return Bourne.parse(text, { protoAction: 'error' });
  } catch {
    throw clientError(400);
  }
}

/**
 * The body as UTF-8 text (a byte order mark dropped, as co-body's decoder does), at most
 * JSON_LIMIT bytes: 413 past it, as soon as it is declared or seen. With a Content-Length (what
 * fetch and every client of the lab send) Node's parser reads exactly that many bytes or reports
 * the request aborted; a chunked body is counted as it comes and, past the bound, left to Node,
 * which discards the rest once the answer is sent. Plain `data` and `end` listeners: an async
 * iterator and a streaming TextDecoder (`stream/consumers`) cost a post more than its JSON.
 */
function readText(req: IncomingMessage): Promise<string> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > JSON_LIMIT) {
    return Promise.reject(clientError(413));
  }
  return new Promise((resolve, reject) => {
    (req as Reading)[BODY] = { chunks: [], received: 0, resolve, reject };
    req.on('data', onBodyData).on('end', onBodyEnd).once('error', reject);
    req.once('close', onBodyClose);
  });
}

/**
 * A body being read, kept on its request for listeners shared by every post: closures made per
 * post are named at run time (tsx keeps function names), which cost more than reading the body.
 */
interface Body {
  chunks: Buffer[];
  received: number;
  resolve(text: string): void;
  reject(error: Error): void;
}

const BODY = Symbol('body');

interface Reading extends IncomingMessage {
  [BODY]: Body;
}

function onBodyData(this: Reading, chunk: Buffer): void {
  const body = this[BODY];
  body.received += chunk.length;
  if (body.received <= JSON_LIMIT) {
    body.chunks.push(chunk);
    return;
  }
  this.pause();
  this.off('data', onBodyData).off('end', onBodyEnd);
  body.reject(clientError(413));
}

function onBodyEnd(this: Reading): void {
  const { chunks, received, resolve } = this[BODY];
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString();
  resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}

function onBodyClose(this: Reading): void {
  if (!this.complete) this[BODY].reject(new Error('the client went away'));
}

function headerList(headers: Readonly<Record<string, string>>): string[] {
  const list: string[] = [];
  for (const name in headers) list.push(name, headers[name]!);
  return list;
}

/** An error of the client's, as a body parser raises it: its status says the sentence. */
function clientError(status: 400 | 413): Error {
  return Object.assign(new Error(`request body refused (${status})`), { status, expose: true });
}

/** A JSON answer with koa's headers (`headers`, as a flat list of names and values). */
function write(res: ServerResponse, status: number, body: string, headers: string[]): void {
  headers.push(
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(body)),
  );
  res.writeHead(status, headers);
  res.end(body);
}

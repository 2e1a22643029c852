import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cpuUsage, memoryUsage, pid, uptime } from 'node:process';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { koaBody } from 'koa-body';
import type { Visitor } from '../core/chat.ts';
import { ChatError } from '../core/errors.ts';
import { logError } from '../core/log.ts';
import { LIMITS, type TransportName } from '../core/model.ts';
import type { HttpContext } from '../transports/context.ts';
import { describe, refusalHeaders } from '../transports/errors.ts';
import type { WireMeter } from '../transports/meter.ts';
import type { TransportStats } from '../transports/transport.ts';
import { wantsHtml } from './errors.ts';
import { errorSentence, reading } from './language.ts';
import { ensureVisitor, grant, requireVisitor } from './session.ts';
import { chatPage, comparePage, lobbyPage, newRoomPage, passwordPage } from './views/pages.ts';
import { LOBBY_ROOMS } from './views/room-count.ts';

export interface RouteOptions {
  /** Where multipart uploads land before they are checked (same disk as the GIF folder). */
  uploadDir: string;
  /** Live counters of the running transports. */
  transportStats: () => Partial<Record<TransportName, TransportStats>>;
  httpMeter: WireMeter;
}

/** The book's routes and the API of PROTOCOL.md, shared by every transport. */
export function sharedRoutes(http: HttpContext, options: RouteOptions): Router {
  const { chat } = http;
  const router = new Router();
  const formidable = {
    maxFiles: 1,
    maxFileSize: LIMITS.gifBytes,
    maxTotalFileSize: LIMITS.gifBytes,
    maxFields: 5,
    maxFieldsSize: 4096,
    allowEmptyFiles: false,
    keepExtensions: false,
  };
  /**
   * Each upload lands in a folder of its own, removed with whatever is in it once the request is
   * over, however it ended: formidable leaves files behind on some failures (a file past
   * `maxFiles` is opened after the error; an aborted upload), and a file it opens after the
   * folder is gone cannot be created at all.
   */
  const multipart = async (ctx: Context, next: Next) => {
    const uploadDir = await mkdtemp(join(options.uploadDir, 'upload-'));
    try {
      const parse = koaBody({
        multipart: true,
        json: false,
        urlencoded: false,
        text: false,
        formidable: { ...formidable, uploadDir },
      });
      await parse(ctx, next);
    } finally {
      await rm(uploadDir, { recursive: true, force: true, maxRetries: 3 }).catch((error) =>
        logError('removing an upload folder', error),
      );
    }
  };

  // ---- pages ------------------------------------------------------------------------------

  router.get('/', (ctx) => {
    let error = typeof ctx.query.error === 'string' ? ctx.query.error.slice(0, 300) : undefined;
    let status = 200;
    try {
      ensureVisitor(ctx);
    } catch (refusal) {
      // Past the new-session limit the lobby still shows, with the sentence: every error page
      // redirects here, so a refusal here must not.
      if (!(refusal instanceof ChatError) || refusal.status !== 429) throw refusal;
      [status, error] = [429, errorSentence(refusal, reading(ctx).lang)];
      ctx.set(refusalHeaders(refusal));
    }
    const choice = { ...pickTransport(ctx, http), query: keptTransport(ctx, http) };
    const { rooms, total } = chat.listRooms({ limit: LOBBY_ROOMS });
    page(ctx, status, lobbyPage({ rooms, total, error, ...choice, ...reading(ctx) }));
  });

  // Browsers ask for it whatever the page says.
  router.get('/favicon.ico', (ctx) => {
    ctx.status = 301;
    ctx.redirect('/static/favicon.svg');
  });

  router.get('/room', (ctx) => {
    ensureVisitor(ctx);
    const error = typeof ctx.query.error === 'string' ? ctx.query.error.slice(0, 300) : undefined;
    page(ctx, 200, newRoomPage({ error, query: keptTransport(ctx, http), ...reading(ctx) }));
  });

  router.get('/room/:id', async (ctx) => {
    const visitor = ensureVisitor(ctx);
    const room = chat.getRoom(ctx.params.id!);
    if (ctx.query.password !== undefined) {
      await enterByAddress(ctx, http, visitor, room.id);
      return;
    }
    if (chat.pageAccess(visitor, room.id) === 'password') {
      const error = typeof ctx.query.error === 'string' ? ctx.query.error.slice(0, 300) : undefined;
      const query = keptTransport(ctx, http);
      page(ctx, 200, passwordPage({ room, error, query, ...reading(ctx) }));
      return;
    }
    page(ctx, 200, chatPage({ room, ...visitor, ...pickTransport(ctx, http), ...reading(ctx) }));
  });

  // PROTOCOL.md, Pages: without `room`, a new room titled "compare" owned by the visitor.
  router.get('/compare', async (ctx) => {
    const visitor = ensureVisitor(ctx);
    const asked = ctx.query.room;
    if (typeof asked !== 'string') {
      const room = await chat.createRoom(visitor, { title: 'compare', max: 100 });
      ctx.status = 303;
      ctx.redirect(`/compare?room=${room.id}`);
      return;
    }
    const room = chat.getRoom(asked);
    if (chat.pageAccess(visitor, room.id) === 'password') {
      page(ctx, 200, passwordPage({ room, ...reading(ctx) }));
      return;
    }
    page(ctx, 200, comparePage({ room, ...visitor, transports: http.transports, ...reading(ctx) }));
  });

  // ---- rooms ------------------------------------------------------------------------------

  router.post('/room', async (ctx) => {
    const visitor = ensureVisitor(ctx);
    try {
      const room = await chat.createRoom(visitor, ctx.request.body);
      if (isForm(ctx)) {
        ctx.status = 303;
        ctx.redirect(`/room/${room.id}${keptTransport(ctx, http)}`);
      } else {
        ctx.status = 201;
        ctx.body = { room };
      }
    } catch (error) {
      if (!wantsHtml(ctx)) throw error;
      const [status] = describe(error);
      ctx.set(refusalHeaders(error));
      const body = (ctx.request.body ?? {}) as Record<string, unknown>;
      const values = { title: stringOr(body.title), max: stringOr(body.max) };
      const { lang } = reading(ctx);
      const shown = { error: errorSentence(error, lang), values, lang };
      page(ctx, status, newRoomPage({ ...shown, query: keptTransport(ctx, http) }));
    }
  });

  router.post('/room/:id/enter', async (ctx) => {
    const visitor = ensureVisitor(ctx);
    const room = chat.getRoom(ctx.params.id!);
    try {
      await chat.enter(visitor, room.id, ctx.request.body, ctx.req.socket.remoteAddress);
    } catch (error) {
      const shown = error instanceof ChatError && (error.status === 403 || error.status === 429);
      if (!wantsHtml(ctx) || !shown) throw error;
      ctx.set(refusalHeaders(error));
      const query = keptTransport(ctx, http);
      const { lang } = reading(ctx);
      const sentence = errorSentence(error, lang);
      page(ctx, error.status, passwordPage({ room, error: sentence, query, lang }));
      return;
    }
    grant(ctx, room.id);
    if (isForm(ctx)) {
      ctx.status = 303;
      ctx.redirect(`/room/${room.id}${keptTransport(ctx, http)}`);
    } else {
      ctx.status = 204;
    }
  });

  router.delete('/room/:id', async (ctx) => {
    await chat.removeRoom(requireVisitor(ctx), ctx.params.id!);
    ctx.status = 204;
  });

  router.post('/room/:id/chat', async (ctx) => {
    const message = await chat.post(requireVisitor(ctx), ctx.params.id!, ctx.request.body);
    ctx.status = 201;
    ctx.body = { message };
  });

  router.post(
    '/room/:id/gif',
    async (ctx, next) => {
      // Refuse before reading a byte of the upload.
      chat.assertAccess(requireVisitor(ctx), ctx.params.id!);
      if (!ctx.is('multipart')) {
        throw new ChatError(400, 'Send the GIF as multipart/form-data in the field "gif".');
      }
      await next();
    },
    multipart,
    async (ctx) => {
      const files = ctx.request.files ?? {};
      const uploads = Object.values(files).flat();
      const gif = [files.gif].flat()[0];
      if (!gif) {
        await Promise.all(uploads.map((file) => chat.gifs.discard(file.filepath)));
        throw new ChatError(400, 'Choose a GIF to upload (field "gif").', { code: 'noGif' });
      }
      const message = await chat.postGif(requireVisitor(ctx), ctx.params.id!, gif.filepath);
      ctx.status = 201;
      ctx.body = { message };
    },
  );

  router.post('/room/:id/kick', async (ctx) => {
    await chat.kick(requireVisitor(ctx), ctx.params.id!, ctx.request.body);
    ctx.status = 204;
  });

  router.get('/gif/:file', async (ctx) => {
    const path = chat.gifs.pathOf(ctx.params.file!);
    const info = path ? await stat(path).catch(() => null) : null;
    if (!path || !info?.isFile())
      throw new ChatError(404, 'There is no such GIF.', { code: 'noSuchGif' });
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'public, max-age=31536000, immutable');
    ctx.type = 'image/gif';
    ctx.length = info.size;
    ctx.body = createReadStream(path);
  });

  // ---- API --------------------------------------------------------------------------------

  router.get('/api/me', (ctx) => {
    const { user, userId } = ensureVisitor(ctx);
    ctx.body = { user, userId };
  });

  router.get('/api/rooms', (ctx) => {
    ctx.body = chat.listRooms({ limit: ctx.query.limit, before: ctx.query.before });
  });

  router.get('/api/rooms/:id/messages', async (ctx) => {
    const messages = await chat.history(requireVisitor(ctx), ctx.params.id!, ctx.query);
    ctx.body = { messages };
  });

  router.get('/api/stats', (ctx) => {
    const cpu = cpuUsage();
    const meter = options.httpMeter;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      uptimeS: Math.round(uptime()),
      // The process that answered: one of --workers N, or the one process.
      worker: pid,
      rssBytes: memoryUsage.rss(),
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      rooms: chat.listRooms({ limit: 1 }).total,
      members: chat.memberCount(),
      transports: options.transportStats(),
      http: { requests: meter.requests, bytesIn: meter.bytesIn, bytesOut: meter.bytesOut },
    };
  });

  return router;
}

/**
 * The book's lobby sends a secret room's password in the address (`GET /room/:id?password=`):
 * checked as `/enter` checks it, limits included, and answered 303 either way, so the password
 * leaves the address bar and the history. A right one is kept in the session and goes to the room;
 * a page refused goes to the password form with the sentence (programs get it as JSON).
 */
async function enterByAddress(ctx: Context, http: HttpContext, visitor: Visitor, room: string) {
  const kept = keptTransport(ctx, http);
  const address = ctx.req.socket.remoteAddress;
  try {
    await http.chat.enter(visitor, room, { password: ctx.query.password }, address);
  } catch (error) {
    const shown = error instanceof ChatError && [400, 403, 429].includes(error.status);
    if (!wantsHtml(ctx) || !shown) throw error;
    const query = new URLSearchParams(kept);
    query.set('error', errorSentence(error, reading(ctx).lang));
    ctx.status = 303;
    ctx.redirect(`/room/${room}?${query}`);
    return;
  }
  grant(ctx, room);
  ctx.status = 303;
  ctx.redirect(`/room/${room}${kept}`);
}

function page(ctx: Context, status: number, html: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = html;
}

function isForm(ctx: Context): boolean {
  return ctx.is('urlencoded', 'multipart') !== false;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 100) : undefined;
}

/** `?transport=name` when the request asked for a running transport, so forms keep the choice. */
function keptTransport(ctx: Context, http: HttpContext): string {
  const asked = ctx.query.transport;
  return http.transports.some((name) => name === asked) ? `?transport=${asked}` : '';
}

/**
 * PROTOCOL.md, Pages: `?transport=` when it names a running transport; otherwise Socket.IO (the
 * book's choice) if it runs, else the first running of ws, sse and polling.
 */
export function pickTransport(ctx: Context, http: HttpContext) {
  const running = http.transports;
  const asked = ctx.query.transport;
  const preference: TransportName[] = ['socketio', 'ws', 'sse', 'polling'];
  const transport =
    running.find((name) => name === asked) ??
    preference.find((name) => running.includes(name)) ??
    running[0]!;
  return { transport, transports: running };
}

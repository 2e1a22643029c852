import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import serve from 'koa-static';
import type { ChatService } from '../core/chat.ts';
import type { Limits } from '../core/limits.ts';
import type { TransportName } from '../core/model.ts';
import type { HttpContext } from '../transports/context.ts';
import { originRefused } from '../transports/errors.ts';
import { WireMeter } from '../transports/meter.ts';
import type { Transport, TransportStats } from '../transports/transport.ts';
import { bundleAssets } from './assets.ts';
import { chatPosts } from './chat-posts.ts';
import { errorMapper } from './errors.ts';
import { refusalIn } from './language.ts';
import { originChecker } from './origin.ts';
import { sharedRoutes } from './routes.ts';
import { knownVisitor, requireVisitor, sessionMiddleware, visitorOfRequest } from './session.ts';
import { traceRoutes } from './trace/routes.ts';
import { TraceBook } from './trace/traces.ts';

const STATIC_DIR = fileURLToPath(new URL('./views/static/', import.meta.url));

export interface AppOptions {
  chat: ChatService;
  limits: Limits;
  transports: readonly Transport[];
  cookieSecret: string;
  allowedOrigins: readonly string[];
  dataDir: string;
  /** HttpContext's `responseHeaders`: none unless given. */
  responseHeaders?: Readonly<Record<string, string>>;
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
} as const;

/**
 * The koa app every transport shares: one error mapper, meters, Origin checks on every POST and
 * DELETE, the session, bodies, the static files and the bundled scripts, the shared routes, and
 * the routes of the polling and SSE transports. Upgrade-based transports attach to the HTTP server
 * later with the same HttpContext.
 */
export async function createApp(options: AppOptions): Promise<{
  app: Koa;
  http: HttpContext;
  /** Requests served beside koa (`POST /room/:id/chat`): true when it took the request. */
  serve: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** The inspector's trace tokens and captures (`web/trace/`), tapped by the server. */
  traces: TraceBook;
}> {
  const { chat, transports } = options;
  const app = new Koa({ proxy: false });
  // Koa's own error log would print stacks for errors the mapper already handled.
  app.silent = true;

  const meters = new Map<TransportName, WireMeter>();
  const meter = (name: TransportName) => {
    let found = meters.get(name);
    if (!found) {
      found = new WireMeter();
      meters.set(name, found);
    }
    return found;
  };
  const httpMeter = new WireMeter();
  const originAllowed = originChecker(options.allowedOrigins);
  const http: HttpContext = {
    chat,
    limits: options.limits,
    visitor: requireVisitor,
    visitorOfRequest: (req) => visitorOfRequest(app, req),
    originAllowed,
    refusal: refusalIn,
    meter,
    transports: transports.map((transport) => transport.name),
    responseHeaders: options.responseHeaders ?? {},
    headers: SECURITY_HEADERS,
  };

  const uploadDir = join(options.dataDir, 'tmp');
  await mkdir(uploadDir, { recursive: true });
  const assets = await bundleAssets();
  const statics = serve(STATIC_DIR, { maxage: 60 * 60 * 1000 });

  app.use(async (ctx, next) => {
    const group = /^\/(sse|poll)\//.exec(ctx.path)?.[1];
    const name = group === 'sse' ? 'sse' : group === 'poll' ? 'polling' : null;
    (name ? meter(name) : httpMeter).track(ctx.req, ctx.res);
    ctx.set(SECURITY_HEADERS);
    await next();
  });
  app.use(errorMapper);
  app.use(async (ctx, next) => {
    if ((ctx.method === 'POST' || ctx.method === 'DELETE') && !originAllowed(ctx.req)) {
      throw originRefused();
    }
    await next();
  });
  app.use(sessionMiddleware(app, options.cookieSecret, options.limits));
  app.use(async (ctx, next) => {
    if (ctx.path.startsWith('/static/')) {
      const original = ctx.path;
      ctx.path = ctx.path.slice('/static'.length);
      await statics(ctx, async () => undefined);
      if (ctx.body === undefined && ctx.status === 404) ctx.path = original;
      else return;
    }
    if (ctx.path.startsWith('/assets/')) {
      const script = assets.get(ctx.path.slice('/assets/'.length));
      if (script !== undefined) {
        ctx.type = 'text/javascript; charset=utf-8';
        ctx.set('Cache-Control', 'no-cache');
        ctx.body = script;
        return;
      }
    }
    await next();
  });
  app.use(
    koaBody({
      multipart: false,
      json: true,
      urlencoded: true,
      text: false,
      jsonLimit: '64kb',
      formLimit: '64kb',
      jsonStrict: true,
    }),
  );

  const router = sharedRoutes(http, {
    uploadDir,
    httpMeter,
    transportStats: () => {
      const stats: Partial<Record<TransportName, TransportStats>> = {};
      for (const transport of transports) stats[transport.name] = transport.stats();
      return stats;
    },
  });
  const transportRouter = new Router();
  for (const transport of transports) transport.mount?.(transportRouter, http);
  const traces = new TraceBook();
  app.use(transportRouter.routes());
  app.use(traceRoutes(http, traces).routes());
  app.use(router.routes());
  app.use(router.allowedMethods());
  const besideKoa = chatPosts({
    chat,
    meter: httpMeter,
    originAllowed,
    knownVisitor: (req) => knownVisitor(app, req),
    headers: SECURITY_HEADERS,
  });
  return { app, http, serve: besideKoa, traces };
}

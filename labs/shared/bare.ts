/**
 * What the bare labs (01 to 04) share around the book's code: the flags every one of them takes,
 * and the HTTP server that serves its page (`public/`) on 127.0.0.1, in English (`index.html`) or
 * Korean (`index.ko.html`). What each lab teaches stays in its own server.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import serve from 'koa-static';
import { parseFlags, wholeNumber } from '../../flags.ts';
import { preferredLanguage } from '../../web/language.ts';
import { isLanguage, type Language } from '../../web/views/i18n/index.ts';

type Options = Parameters<typeof parseFlags>[1];

/**
 * `--port` (8005, the book's) and `--interval` (ms, the lab's `interval` by default), checked, and
 * the lab's `more` flags as they were given.
 */
export function bareFlags<const More extends Options>(
  args: string[],
  interval: number,
  more: More = {} as More,
) {
  const values = parseFlags(args, {
    port: { type: 'string', default: '8005' },
    interval: { type: 'string', default: String(interval) },
    ...more,
  });
  // Both have defaults, so both are strings (TypeScript cannot see it through `more`).
  const given = values as typeof values & { port: string; interval: string };
  return {
    ...values,
    port: wholeNumber('--port', given.port, 0, 65535),
    interval: wholeNumber('--interval', given.interval, 10, 600_000, 'ms'),
  };
}

/** Where a bare lab remembers the reader's `?lang=`: it has no session, where the app keeps it. */
const LANGUAGE_COOKIE = 'lang';
const A_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

/**
 * The page's language, chosen as the app's pages choose it (web/language.ts): `?lang=ko|en` wins
 * and is remembered in a cookie; else the remembered choice; else Korean when `Accept-Language`
 * prefers `ko`, English otherwise.
 */
export function labLanguage(ctx: Koa.Context): Language {
  const asked = ctx.query.lang;
  if (isLanguage(asked)) {
    if (ctx.cookies.get(LANGUAGE_COOKIE) !== asked) {
      ctx.cookies.set(LANGUAGE_COOKIE, asked, { sameSite: 'lax', path: '/', maxAge: A_YEAR_MS });
    }
    return asked;
  }
  const kept = ctx.cookies.get(LANGUAGE_COOKIE);
  if (isLanguage(kept)) return kept;
  return preferredLanguage(ctx.get('accept-language'));
}

/**
 * A server for the lab's page, `public` (koa-static), then its `routes` if it has any. The page at
 * `/` is `index.html`, or `index.ko.html` for a Korean reader (labLanguage).
 */
export function pageServer(publicDir: string, routes?: Koa.Middleware): Server {
  const app = new Koa();
  app.use(async (ctx, next) => {
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path === '/') {
      ctx.path = labLanguage(ctx) === 'ko' ? '/index.ko.html' : '/index.html';
      // The same address answers in two languages: caches keep them apart by what chose.
      ctx.vary('Accept-Language');
      ctx.vary('Cookie');
    }
    await next();
  });
  app.use(serve(publicDir));
  if (routes) app.use(routes);
  return createServer(app.callback());
}

/** Listens on 127.0.0.1:`port` (0: any free port); the URL to open. */
export async function listen(server: Server, port: number): Promise<string> {
  await new Promise<void>((done, fail) =>
    server.once('error', fail).listen(port, '127.0.0.1', done),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** Ends every connection left open and stops the server. */
export async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

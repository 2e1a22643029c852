/**
 * What the bare labs (01 to 04) share around the book's code: the flags every one of them takes,
 * and the HTTP server that serves its page (`public/`) on 127.0.0.1. What each lab teaches stays
 * in its own server.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import serve from 'koa-static';
import { parseFlags, wholeNumber } from '../../flags.ts';

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

/** A server for the lab's page, `public` (koa-static), then its `routes` if it has any. */
export function pageServer(publicDir: string, routes?: Koa.Middleware): Server {
  const app = new Koa();
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

/**
 * What labs 05 to 08 (and 13) share: the real app (`startServer` from server.ts) with a lab's defaults,
 * the flags a student may change, and, for labs with a page of their own, that page served beside
 * the app's routes. The labs point into the app's code; nothing of it is copied here.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { RequestListener, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { Limits } from '../../core/limits.ts';
import type { TransportName } from '../../core/model.ts';
import { parseFlags, UsageError, wholeNumber } from '../../flags.ts';
import { parseOptions, type RunningServer, type ServerOptions, startServer } from '../../server.ts';
import { reading } from '../../web/language.ts';
import { sessionMiddleware } from '../../web/session.ts';
import { bundlePage, type LabPage } from './page.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LabDefaults {
  /** The lab's folder name: its data lives in data/labs/<name> with `--store file`. */
  name: string;
  transport: 'all' | TransportName;
  store: 'memory' | 'file';
  /** A page of the lab's own, served at /lab/ (its folder: index.html, page.ts, page.css). */
  page?: string;
  /** Options of the app no flag gives (lab 13: its limits off, a small bound on each queue). */
  server?: Partial<ServerOptions>;
  /** What a lab puts in front of the app's routes (lab 10: the book's pages), on every start. */
  front?: (server: Server, lab: LabApp) => void;
}

export interface LabApp {
  /** Where the student starts: the lab's page, or the app's lobby. */
  url: string;
  /** The app's own address. */
  origin: string;
  options: ServerOptions;
  running(): RunningServer;
  /** Stops the server and starts it again on the same port with the same data (lab 07). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Flags: --port (8005), --transport (the lab's), --store memory|file (the lab's), --data-dir
 * (data/labs/<name> for the file store; a temporary folder for memory), --empty-room-grace (ms),
 * and the clocks tests and curious students shorten: --heartbeat, --member-grace, --poll-linger.
 */
export async function startLabApp(
  args: string[],
  defaults: LabDefaults,
  log: (line: string) => void,
): Promise<LabApp> {
  const values = parseFlags(args, {
    port: { type: 'string', default: '8005' },
    transport: { type: 'string', default: defaults.transport },
    store: { type: 'string', default: defaults.store },
    'data-dir': { type: 'string' },
    'empty-room-grace': { type: 'string', default: '10000' },
    heartbeat: { type: 'string' },
    'member-grace': { type: 'string' },
    'poll-linger': { type: 'string' },
  });
  if (values.store !== 'memory' && values.store !== 'file') {
    throw new UsageError(`--store must be memory or file in the labs, not "${values.store}"`);
  }
  // The app's own flag checks first, so a lab refuses what `npm start` refuses, in its words.
  const checked = parseOptions([
    ...['--port', values.port, '--transport', values.transport, '--store', values.store],
    ...['--data-dir', values['data-dir'] ?? '.', '--empty-room-grace', values['empty-room-grace']],
  ]);
  const clocks = {
    heartbeatMs: milliseconds('--heartbeat', values.heartbeat),
    memberGraceMs: milliseconds('--member-grace', values['member-grace']),
    pollLingerMs: milliseconds('--poll-linger', values['poll-linger']),
  };
  const temporary = values['data-dir'] === undefined && values.store === 'memory';
  const dataDir = values['data-dir']
    ? checked.dataDir
    : temporary
      ? await mkdtemp(join(tmpdir(), `realtime-lab-${defaults.name}-`))
      : join(ROOT, 'data', 'labs', defaults.name);
  await mkdir(dataDir, { recursive: true });
  const options: ServerOptions = { ...checked, dataDir, ...clocks, ...defaults.server };

  const page = defaults.page ? await bundlePage(defaults.page) : undefined;
  let running: RunningServer;
  try {
    running = await startServer(options);
  } catch (error) {
    if (temporary) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const origin = running.url;
  const url = page ? `${origin}/lab/` : `${origin}/`;
  const names = options.transport === 'all' ? 'polling, sse, ws, socketio' : options.transport;
  const shown = relative(ROOT, dataDir);
  const where =
    values.store === 'file' ? ` in ${shown.startsWith('..') || !shown ? dataDir : shown}` : '';
  const lab: LabApp = {
    url,
    origin,
    options,
    running: () => running,
    restart: async () => {
      await running.close();
      running = await startServer({ ...options, port: running.port });
      mount();
    },
    close: async () => {
      await running.close();
      if (temporary) await rm(dataDir, { recursive: true, force: true });
    },
  };
  const mount = () => {
    // The app's own session (and its secret): the lab's page keeps the visitor's language where
    // the app's pages read it.
    if (page) servePage(running.server, page, running.cookieSecret);
    defaults.front?.(running.server, lab);
  };
  mount();
  log(`open ${url}  (transports: ${names}; store: ${values.store}${where})`);
  return lab;
}

/** A clock a test or a curious student shortens, in ms. */
function milliseconds(flag: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : wholeNumber(flag, value, 1, 600_000, 'ms');
}

/**
 * Puts the lab's page in front of the app: /lab/... is answered here, every other request goes on
 * to the app's listeners (koa, and Socket.IO's, which wraps koa the same way). The page is in the
 * language the app's pages would choose (web/language.ts `reading`), kept in the app's session.
 */
function servePage(server: Server, page: LabPage, secret: string): void {
  const app = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const lab = new Koa({ proxy: false });
  lab.silent = true;
  lab.use(sessionMiddleware(lab, secret, Limits.off()));
  lab.use((ctx) => {
    if (ctx.path === '/lab') {
      ctx.status = 301;
      ctx.redirect('/lab/');
      return;
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return;
    const file = page.files.get(ctx.path);
    if (ctx.path === '/lab/') {
      ctx.set(page.headers);
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = page.html(reading(ctx));
    } else if (file) {
      ctx.set(page.headers);
      ctx.set('Cache-Control', 'no-cache');
      ctx.type = file.type;
      ctx.body = file.body;
    }
  });
  const labPage = lab.callback();
  server.on('request', (req, res) => {
    const path = req.url?.split('?')[0] ?? '';
    if (path === '/lab' || path.startsWith('/lab/')) labPage(req, res);
    else for (const listener of app) listener.call(server, req, res);
  });
}

/**
 * The composition root: flags -> store -> chat core -> koa app -> transports -> listen.
 * `npm start -- --help` lists the flags (PROTOCOL.md, Starting the server).
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { argv, env, exit } from 'node:process';
import { fileURLToPath } from 'node:url';
import { runPrimary } from './cluster.ts';
import { ChatService } from './core/chat.ts';
import { GifFiles } from './core/gifs.ts';
import { type LimitSettings, Limits } from './core/limits.ts';
import { logError } from './core/log.ts';
import { TRANSPORT_NAMES, type TransportName } from './core/model.ts';
import { maskRedisUrl, RedisStartError, SharedRedis } from './core/redis/shared.ts';
import { FileStore } from './core/store/file.ts';
import { MemoryStore } from './core/store/memory.ts';
import { RedisStore } from './core/store/redis.ts';
import type { Store, StoreName } from './core/store/store.ts';
import { oneOf, parseFlags, UsageError, wholeNumber } from './flags.ts';
import { PollingTransport } from './transports/polling/server.ts';
import { SocketIoTransport } from './transports/socketio/server.ts';
import { SseTransport } from './transports/sse/server.ts';
import type { Transport } from './transports/transport.ts';
import { WsTransport } from './transports/ws/server.ts';
import { createApp } from './web/app.ts';
import { isHostName, refuseForeignHosts } from './web/host.ts';
import { tapTracedConnections } from './web/trace/tap.ts';

export interface ServerOptions {
  transport: 'all' | TransportName;
  port: number;
  host: string;
  store: StoreName;
  dataDir: string;
  mongoUrl: string | undefined;
  /** `--redis-url`: rooms shared by every process of this Redis (PROTOCOL: Many processes). */
  redisUrl: string | undefined;
  emptyRoomGraceMs: number;
  allowedOrigins: string[];
  /** Host names the server answers to besides IP literals and `localhost` (PROTOCOL: Host). */
  allowedHosts: string[];
  cookieSecret: string | undefined;
  /** `--limits on|off` (PROTOCOL.md, Limits). */
  limits: boolean;
  /** `--workers N`: worker processes behind the one port (cluster.ts); 1 is one process. */
  workers: number;
  /**
   * `--sticky on|off`, with `--workers`: off hands connections out with node:cluster's own round
   * robin, blind to Socket.IO's sessions (lab 09 shows what breaks).
   */
  sticky: boolean;
  /**
   * Not flags: tests shorten the member grace (PROTOCOL: 2 s), every transport's heartbeat
   * interval (SSE 15 s, ws 30 s, Socket.IO's own), and how long an ended long poll still counts as
   * a subscription (PROTOCOL: 10 s).
   */
  memberGraceMs?: number;
  heartbeatMs?: number;
  pollLingerMs?: number;
  /**
   * Not flags: lab 13 lowers the bound on each client's unsent output (PROTOCOL: 1 MiB; SSE, ws,
   * Socket.IO) and the events one long-poll answer takes, which bounds a seat between polls (500),
   * so that a slow reader is cut off in seconds.
   */
  maxQueueBytes?: number;
  maxEventsPerAnswer?: number;
  /**
   * Not flags: tests lower a limit (open connections per address, say) to reach it cheaply, and
   * stop the limits' clock so that no bucket refills while a test empties it.
   */
  limitSettings?: Partial<LimitSettings>;
  limitClock?: () => number;
  /** Not flags either: tests shorten the HTTP server's timeouts (see `HTTP_TIMEOUTS`). */
  httpTimeouts?: Partial<typeof HTTP_TIMEOUTS>;
  /**
   * Not flags: a worker of `--workers N` (worker.ts) does not listen, it serves the connections
   * its primary hands over (its `url` and `port` are then the flags'); and every response it
   * sends carries these headers (`X-Worker`).
   */
  listen?: boolean;
  responseHeaders?: Readonly<Record<string, string>>;
}

/**
 * PROTOCOL.md, Limits: headers within 10 s, a whole request (headers and body) within 30 s. They
 * time the request only: a long poll (up to 55 s) or an SSE stream is response time and is not
 * cut. Node checks them every `connectionsCheckingInterval`, so a request that never finishes its
 * headers (slowloris) is closed within 10 + 2 s.
 */
export const HTTP_TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 2_000,
};

export interface RunningServer {
  url: string;
  port: number;
  options: ServerOptions;
  chat: ChatService;
  server: Server;
  /** The sessions that live in this process only (Transport's `localSessions`), if any. */
  localSessions: EventEmitter | undefined;
  /** What sessions are signed with, for a lab's own page that reads the same session. */
  cookieSecret: string;
  close(): Promise<void>;
}

/** Something the server needs (the database) cannot be reached: exit status 1 with `message`. */
export class StartError extends Error {}

const USAGE = `usage: npm start -- [--transport all|polling|sse|ws|socketio] [--port 8005] [--host 127.0.0.1]
                    [--store file|memory|mongo|redis] [--data-dir ./data] [--mongo-url URL]
                    [--redis-url URL] [--workers N] [--sticky on|off] [--limits on|off]
                    [--empty-room-grace MS]
                    [--allowed-origin URL ...] [--allowed-host NAME ...]`;

/** Every transport, by name; `--transport all` mounts them in PROTOCOL.md's order. */
const TRANSPORTS: Record<TransportName, (options: ServerOptions) => Transport> = {
  polling: (options) =>
    new PollingTransport({
      pollLingerMs: options.pollLingerMs,
      maxEventsPerAnswer: options.maxEventsPerAnswer,
    }),
  sse: ({ heartbeatMs, maxQueueBytes }) => new SseTransport({ heartbeatMs, maxQueueBytes }),
  ws: ({ heartbeatMs, maxQueueBytes }) => new WsTransport({ heartbeatMs, maxQueueBytes }),
  socketio: ({ heartbeatMs, maxQueueBytes }) =>
    new SocketIoTransport({ heartbeatMs, maxQueueBytes }),
};

/** Flags beat their environment variables; both are checked the same way. */
export function parseOptions(args: string[], vars: NodeJS.ProcessEnv = {}): ServerOptions {
  const flags = parseFlags(args, {
    transport: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    store: { type: 'string' },
    'data-dir': { type: 'string' },
    'mongo-url': { type: 'string' },
    'redis-url': { type: 'string' },
    workers: { type: 'string' },
    sticky: { type: 'string' },
    'empty-room-grace': { type: 'string' },
    'allowed-origin': { type: 'string', multiple: true },
    limits: { type: 'string' },
    'allowed-host': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  });
  const pick = (flag: string | undefined, name: string) => flag ?? vars[name];
  const transport = oneOf('--transport', pick(flags.transport, 'TRANSPORT') ?? 'all', [
    'all',
    ...TRANSPORT_NAMES,
  ]);
  const store = oneOf('--store', pick(flags.store, 'STORE') ?? 'file', [
    'file',
    'memory',
    'mongo',
    'redis',
  ]);
  const redisUrl = pick(flags['redis-url'], 'REDIS_URL') || undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new UsageError(
      `--redis-url must start with redis:// or rediss://, not "${maskRedisUrl(redisUrl)}"`,
    );
  }
  if (store === 'redis' && redisUrl === undefined) {
    throw new UsageError(
      '--store redis needs --redis-url (or REDIS_URL), e.g. redis://127.0.0.1:6379/0',
    );
  }
  if ((store === 'file' || store === 'memory') && redisUrl !== undefined) {
    throw new UsageError(
      `--store ${store} cannot be shared by many processes: use --store redis or mongo with --redis-url`,
    );
  }
  const allowed = flags['allowed-origin'] ?? vars.ALLOWED_ORIGINS?.split(',') ?? [];
  const allowedOrigins = allowed.map((origin) => origin.trim()).filter(Boolean);
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new UsageError(
        `--allowed-origin must be an origin such as http://localhost:3000, not "${origin}"`,
      );
    }
  }
  const workers = wholeNumber('--workers', pick(flags.workers, 'WORKERS') ?? '1', 1, 64);
  // REALTIME_LAB_WORKERS_WITHOUT_REDIS=1 is for tests only: the workers' plumbing (one port,
  // stickiness, restarts) without Redis, each worker then a chat of its own that shares nothing.
  if (workers > 1 && !redisUrl && vars.REALTIME_LAB_WORKERS_WITHOUT_REDIS !== '1') {
    throw new UsageError(
      `--workers ${workers} needs --redis-url (or REDIS_URL): the workers share rooms and events through Redis`,
    );
  }
  const hosts = flags['allowed-host'] ?? vars.ALLOWED_HOSTS?.split(',') ?? [];
  const allowedHosts = hosts.map((host) => host.trim()).filter(Boolean);
  for (const host of allowedHosts) {
    if (!isHostName(host)) {
      throw new UsageError(
        `--allowed-host must be a host name such as classroom.local (no scheme, no port), not "${host}"`,
      );
    }
  }
  return {
    transport,
    port: wholeNumber('--port', pick(flags.port, 'PORT') ?? '8005', 0, 65535),
    host: pick(flags.host, 'HOST') ?? '127.0.0.1',
    store,
    dataDir: resolve(pick(flags['data-dir'], 'DATA_DIR') ?? './data'),
    mongoUrl: pick(flags['mongo-url'], 'MONGO_URL'),
    redisUrl,
    emptyRoomGraceMs: wholeNumber(
      '--empty-room-grace',
      pick(flags['empty-room-grace'], 'EMPTY_ROOM_GRACE_MS') ?? '10000',
      0,
      2 ** 31 - 1,
    ),
    allowedOrigins,
    allowedHosts,
    cookieSecret: checkedSecret(vars.COOKIE_SECRET || undefined),
    limits: oneOf('--limits', pick(flags.limits, 'LIMITS') ?? 'on', ['on', 'off']) === 'on',
    workers,
    sticky: oneOf('--sticky', pick(flags.sticky, 'STICKY') ?? 'on', ['on', 'off']) === 'on',
  };
}

async function openStore(options: ServerOptions, redis: SharedRedis | undefined): Promise<Store> {
  switch (options.store) {
    case 'redis':
      return new RedisStore(redis!);
    case 'memory':
      return new MemoryStore();
    case 'file':
      return FileStore.open(join(options.dataDir, 'db'));
    case 'mongo':
      return openMongo(options.mongoUrl);
  }
}

async function openMongo(url: string | undefined): Promise<Store> {
  // Loaded only for this store: mongoose is a third of the lab's heap (10 MB of 30), which every
  // other store's server would otherwise carry, and mark in each full collection.
  const { isUnreachable, MongoStore, maskMongoUrl } = await import('./core/store/mongo.ts');
  if (!url) {
    throw new UsageError(
      '--store mongo needs --mongo-url (or MONGO_URL), e.g. mongodb://127.0.0.1:27017/gifchat',
    );
  }
  if (!/^mongodb(\+srv)?:\/\//.test(url)) {
    throw new UsageError(`--mongo-url must start with mongodb://, not "${maskMongoUrl(url)}"`);
  }
  try {
    return await MongoStore.open(url);
  } catch (error) {
    const where = maskMongoUrl(url);
    const reason = (error as Error).message.split('\n')[0];
    throw new StartError(
      isUnreachable(error)
        ? `MongoDB is not reachable at ${where} (${reason}): is mongod running?`
        : `MongoDB at ${where} could not be used: ${reason}`,
    );
  }
}

async function openRedis(url: string): Promise<SharedRedis> {
  try {
    return await SharedRedis.open(url);
  } catch (error) {
    if (error instanceof RedisStartError) throw new StartError(error.message);
    throw error;
  }
}

/** A shorter COOKIE_SECRET stops the server: a short key signs cookies that can be forged. */
const MIN_SECRET = 32;

function checkedSecret(secret: string | undefined): string | undefined {
  if (secret !== undefined && secret.length < MIN_SECRET) {
    throw new UsageError(
      `COOKIE_SECRET must be at least ${MIN_SECRET} characters, not ${secret.length}: it signs every session cookie`,
    );
  }
  return secret;
}

/**
 * COOKIE_SECRET, or a secret generated once and kept in the data dir (so sessions survive, and
 * every worker of `--workers N` reads the one its primary made before it started them), or, with
 * `--redis-url`, in Redis (so a session made on one process is valid on all).
 */
async function cookieSecret(
  options: ServerOptions,
  redis: SharedRedis | undefined,
): Promise<string> {
  const given = checkedSecret(options.cookieSecret);
  if (given) return given;
  if (redis) return redis.sharedSecret();
  await mkdir(options.dataDir, { recursive: true });
  const path = join(options.dataDir, 'cookie-secret');
  const kept = await readFile(path, 'utf8').catch(() => '');
  if (kept.trim().length >= 32) return kept.trim();
  const secret = randomBytes(32).toString('base64url');
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const names = options.transport === 'all' ? [...TRANSPORT_NAMES] : [options.transport];
  const transports = names.map((name) => TRANSPORTS[name](options));

  const gifs = await GifFiles.open(join(options.dataDir, 'gifs'));
  const redis = options.redisUrl ? await openRedis(options.redisUrl) : undefined;
  const store = await openStore(options, redis);
  const limits = options.limits
    ? new Limits(options.limitSettings, { now: options.limitClock })
    : Limits.off();
  const chat = await ChatService.open({
    store,
    gifs,
    emptyRoomGraceMs: options.emptyRoomGraceMs,
    memberGraceMs: options.memberGraceMs,
    limits,
    redis,
  });
  const secret = await cookieSecret(options, redis);
  const { app, http, serve, traces } = await createApp({
    chat,
    limits,
    transports,
    cookieSecret: secret,
    allowedOrigins: options.allowedOrigins,
    dataDir: options.dataDir,
    responseHeaders: options.responseHeaders,
  });
  const koa = app.callback();
  const served = transports.filter((transport) => transport.serve);
  const timeouts = { ...HTTP_TIMEOUTS, ...options.httpTimeouts };
  const server = createServer(timeouts, (req, res) => {
    for (const transport of served) if (transport.serve!(req, res)) return;
    if (serve(req, res)) return;
    void koa(req, res);
  });
  for (const transport of transports) transport.attach?.(server, http);
  const marks = Object.entries(http.responseHeaders);
  if (marks.length > 0) {
    // First of all listeners: Socket.IO took the others over, and answers some requests itself.
    server.prependListener('request', (_req, res) => {
      for (const [name, value] of marks) res.setHeader(name, value);
    });
  }
  // Inside the Host check: a foreign Host is refused before anything is traced.
  tapTracedConnections(server, traces, http.visitorOfRequest);
  refuseForeignHosts(server, options.allowedHosts);
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    socket.destroy(error);
  });
  if (options.listen === false) {
    // Node starts tracking connections (the timeouts above, closeAllConnections) on 'listening';
    // a worker never listens, its primary hands it connections.
    server.emit('listening');
  } else {
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(options.port, options.host, () => {
        server.off('error', fail);
        done();
      });
    });
  }
  const port = options.listen === false ? options.port : (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(options.host, port),
    port,
    options,
    chat,
    server,
    localSessions: transports.find((transport) => transport.localSessions)?.localSessions?.(),
    cookieSecret: secret,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((done) => server.close(() => done()));
        await Promise.all(transports.map((transport) => transport.close()));
        traces.close();
        server.closeAllConnections();
        await stopped;
        await chat.close();
        await redis?.close();
      })();
      return closing;
    },
  };
}

function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Why the server could not start: the exit status, and the one line to print (none when the
 * error was unexpected: its stack is on stderr already).
 */
export function startFailure(
  error: unknown,
  options: ServerOptions,
): { status: number; message?: string } {
  if (error instanceof UsageError) return { status: 2, message: error.message };
  if (error instanceof StartError) return { status: 1, message: error.message };
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return { status: 1, message: `port ${options.port} is in use: try --port <another>` };
  }
  logError('the server could not start', error);
  return { status: 1 };
}

/** The flags of this process, or the exit: status 2 and one line. */
export function optionsOrExit(): ServerOptions {
  try {
    return parseOptions(argv.slice(2), env);
  } catch (error) {
    console.error(`${(error as Error).message} (npm start -- --help lists the flags)`);
    exit(2);
  }
}

async function main(): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.info(USAGE);
    return;
  }
  const options = optionsOrExit();
  const names = options.transport === 'all' ? TRANSPORT_NAMES : [options.transport];
  const serving = `transports: ${names.join(', ')}, store: ${options.store}`;
  if (options.workers > 1) {
    // Made (or read) once here, so that every worker signs sessions with the same secret (with
    // Redis, the first worker makes it there instead).
    if (!options.redisUrl) {
      await cookieSecret(options, undefined).catch((error: unknown) => {
        const { status, message } = startFailure(error, options);
        if (message) console.error(message);
        exit(status);
      });
    }
    await runPrimary({
      workers: options.workers,
      sticky: options.sticky,
      port: options.port,
      host: options.host,
      announce: (port) =>
        console.info(
          `listening on ${urlOf(options.host, port)} (${serving}, workers: ${options.workers})`,
        ),
      failure: (error) => startFailure(error, options),
    });
    return;
  }
  let running: RunningServer;
  try {
    running = await startServer(options);
  } catch (error) {
    const { status, message } = startFailure(error, options);
    if (message) console.error(message);
    exit(status);
  }
  console.info(`listening on ${running.url} (${serving})`);
  stopOnSignals(running);
}

/** SIGINT or SIGTERM: close (clients resume elsewhere or later), then exit 0; 1 past 5 s. */
export function stopOnSignals(running: RunningServer): void {
  const stop = () => {
    const force = setTimeout(() => exit(1), 5000);
    force.unref();
    running.close().then(
      () => exit(0),
      (error) => {
        logError('shutting down', error);
        exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (argv[1] && resolve(argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}

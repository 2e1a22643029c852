/**
 * What every bare baseline shares: a plain `node:http` server with the few routes the bench's
 * clients call besides their transport (`GET /api/me`, `POST /room`, `POST /room/:id/chat`,
 * `GET /api/stats`), messages shaped as PROTOCOL.md's, and the lab's own byte meter so that both
 * sides are counted the same way. No sessions (the cookie is accepted and ignored), no rooms
 * beyond a name, no membership, no store.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { argv, cpuUsage, memoryUsage, uptime } from 'node:process';
import { parseArgs } from 'node:util';
import type { Message, TransportName } from '../../core/model.ts';
import { WireMeter } from '../../transports/meter.ts';
import type { TransportStats } from '../../transports/transport.ts';

/** Every message of a bare server is from this user: there are no sessions to tell users apart. */
const BARE_USER = '#000000';

export interface BareTransport {
  readonly name: TransportName;
  /** Its routes on the plain server (polling, SSE); true when it answered the request. */
  route?(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  /** Hooks the server itself (ws, Socket.IO). */
  attach?(server: Server): void;
  /** A message was posted with POST /room/:id/chat: send it to the room's streams. */
  publish?(message: Message): void;
  connections(): number;
  eventsOut(): number;
}

export interface Bare {
  server: Server;
  /** The meter of a group of endpoints, as the lab splits them (`http` for the shared routes). */
  meter(name: TransportName | 'http'): WireMeter;
  /** A new message in `room`, numbered 1, 2, 3, ... per room as the lab's `seq`. */
  message(room: string, chat: string): Message;
}

const meters = new Map<string, WireMeter>();
const seqs = new Map<string, number>();

export const bare: Bare = {
  server: createServer(),
  meter(name) {
    let meter = meters.get(name);
    if (!meter) {
      meter = new WireMeter();
      meters.set(name, meter);
    }
    return meter;
  },
  message(room, chat) {
    const seq = (seqs.get(room) ?? 0) + 1;
    seqs.set(room, seq);
    return {
      room,
      user: BARE_USER,
      kind: 'chat',
      chat,
      id: randomBytes(12).toString('base64url'),
      seq,
      createdAt: new Date().toISOString(),
    };
  },
};

/** Starts the bare server of one transport and prints the lab's `listening on` line. */
export async function serveBare(transport: BareTransport): Promise<void> {
  const { values } = parseArgs({
    args: argv.slice(2),
    options: { port: { type: 'string' }, host: { type: 'string' } },
  });
  const { server } = bare;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://bare');
    if (url.pathname.startsWith('/socket.io/')) return; // Socket.IO answers these itself.
    const group = /^\/(sse|poll)\//.exec(url.pathname)?.[1];
    bare.meter(group === 'sse' ? 'sse' : group === 'poll' ? 'polling' : 'http').track(req, res);
    if (transport.route?.(req, res, url)) return;
    sharedRoute(transport, req, res, url).catch(() => send(res, 500, { error: 'failed' }));
  });
  transport.attach?.(server);
  const host = values.host ?? '127.0.0.1';
  await new Promise<void>((done) => server.listen(Number(values.port ?? 0), host, done));
  const { port } = server.address() as AddressInfo;
  console.info(`listening on http://${host}:${port} (bare ${transport.name})`);
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function sharedRoute(
  transport: BareTransport,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const chat = /^\/room\/([^/]+)\/chat$/.exec(url.pathname);
  if (req.method === 'POST' && chat) {
    const body = JSON.parse(await readBody(req)) as { chat: string };
    const message = bare.message(decodeURIComponent(chat[1]!), body.chat);
    transport.publish?.(message);
    send(res, 201, { message });
  } else if (req.method === 'GET' && url.pathname === '/api/me') {
    res.setHeader('Set-Cookie', 'lab.sid=bare; path=/; httponly');
    send(res, 200, { user: BARE_USER });
  } else if (req.method === 'POST' && url.pathname === '/room') {
    await readBody(req);
    const id = randomBytes(9).toString('base64url');
    const room = { id, title: 'bench', max: 10000, owner: BARE_USER, hasPassword: false };
    send(res, 201, { room: { ...room, members: 0, createdAt: new Date().toISOString() } });
  } else if (req.method === 'GET' && url.pathname === '/api/stats') {
    send(res, 200, stats(transport));
  } else {
    send(res, 404, { error: 'There is nothing here.' });
  }
}

function stats(transport: BareTransport) {
  const cpu = cpuUsage();
  const meter = bare.meter(transport.name);
  const http = bare.meter('http');
  const counters: TransportStats = {
    connections: transport.connections(),
    requests: meter.requests,
    eventsOut: transport.eventsOut(),
    bytesOut: meter.bytesOut,
    bytesIn: meter.bytesIn,
    // The bare baselines keep no bound on their clients' queues, and measure none.
    queuedBytes: 0,
    largestQueueBytes: 0,
    cutOffs: 0,
  };
  return {
    uptimeS: Math.round(uptime()),
    rssBytes: memoryUsage.rss(),
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    rooms: seqs.size,
    members: transport.connections(),
    transports: { [transport.name]: counters },
    http: { requests: http.requests, bytesIn: http.bytesIn, bytesOut: http.bytesOut },
  };
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

/** The room id of a path such as `/sse/room/:id`. */
export function roomOf(pathname: string, prefix: string): string | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  const id = pathname.slice(prefix.length);
  return id && !id.includes('/') ? decodeURIComponent(id) : undefined;
}

/** `{"type","id","data"}`: the lab's frame for a chat event (ws frames, poll answers). */
export function chatEvent(message: Message): string {
  return JSON.stringify({ type: 'chat', id: message.seq, data: message });
}

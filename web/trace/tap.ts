import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Visitor } from '../../core/chat.ts';
import { logger } from '../../core/log.ts';
import { type Exchange, endpointOf, type TraceBook } from './traces.ts';

const debug = logger('trace');

/** The exchange a tapped socket is recording now, if any. */
interface Tap {
  current: Exchange | undefined;
}

const taps = new WeakMap<Socket, Tap>();

/**
 * Captures the connections that asked to be traced: a request or upgrade whose URL carries
 * `trace=TOKEN` of a live token of the request's own session (anything else is served as if the
 * parameter were not there). It sees each request and upgrade before any listener (engine.io's,
 * koa's), through the server's `emit`, as web/host.ts does. An untraced request costs one search
 * of its URL.
 *
 * The tap is on the socket instance: its `write` (what Node's HTTP response and ws's sender both
 * call) records every chunk as the bytes it becomes; for an upgraded socket its `emit` records
 * each `data` chunk read (a `data` listener would change the stream's flow before ws attaches
 * its own). A plain request is parsed by Node out of sight (llhttp reads the socket natively), so
 * its head is rebuilt from what the parser read, and its body is taken as the parser pushes it.
 */
export function tapTracedConnections(
  server: Server,
  book: TraceBook,
  visitorOfRequest: (req: IncomingMessage) => Visitor | null,
): void {
  const traceOf = (req: IncomingMessage) => {
    const url = req.url ?? '';
    if (!url.includes('trace=')) return null;
    const token = new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('trace');
    if (token === null) return null;
    const visitor = visitorOfRequest(req);
    const trace = visitor ? book.of(token, visitor.userId) : null;
    if (!trace) debug('%s %s: not traced (no such token for this session)', req.method, url);
    return trace;
  };

  /** The exchange a traced request or upgrade opens, its request head recorded; null if untraced. */
  const openExchange = (req: IncomingMessage, upgrade: boolean) => {
    const trace = traceOf(req);
    if (!trace) return null;
    const url = req.url!;
    const exchange = book.open(trace, {
      endpoint: endpointOf(url),
      method: req.method ?? 'GET',
      url,
      upgrade,
    });
    exchange.up.add('head', requestHead(req));
    return exchange;
  };

  const serverOnRequest = (req: IncomingMessage, res: ServerResponse) => {
    const exchange = openExchange(req, false);
    if (!exchange) return;
    tapBody(req, exchange);
    const tap = tapWrites(req.socket);
    tap.current = exchange;
    // `close` comes once the response's last byte was handed to the socket, or the client left.
    res.once('close', () => {
      if (tap.current === exchange) tap.current = undefined;
      exchange.readyState = 'closed';
    });
  };

  const serverOnUpgrade = (req: IncomingMessage, socket: Socket) => {
    const exchange = openExchange(req, true);
    if (!exchange) return;
    // The upgrade's `head` (bytes read past the request) is not recorded here: ws gives it back
    // to the socket (`unshift`), which emits it as `data` like any later bytes.
    tapReads(socket, exchange);
    tapWrites(socket).current = exchange;
    socket.once('close', () => {
      exchange.readyState = 'closed';
    });
  };

  // Before every listener, without being one: listeners count each other (ws answers 404 to an
  // upgrade nobody else listens for) and engine.io takes the 'request' listeners over.
  // The server's events carry at most three arguments (`upgrade`: req, socket, head); naming them
  // spares every request a rest array and a spread on the hot path.
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, a: unknown, b: unknown, c: unknown) => {
    if (event === 'request') serverOnRequest(a as IncomingMessage, b as ServerResponse);
    else if (event === 'upgrade') serverOnUpgrade(a as IncomingMessage, b as Socket);
    return emit(event, a, b, c);
  }) as Server['emit'];
}

function tapWrites(socket: Socket): Tap {
  const found = taps.get(socket);
  if (found) return found;
  const tap: Tap = { current: undefined };
  taps.set(socket, tap);
  const write = socket.write;
  // The signature of `write` has overloads; the arguments go on as they came.
  socket.write = function tracedWrite(this: Socket, ...args: unknown[]): boolean {
    const exchange = tap.current;
    if (exchange?.readyState === 'open') {
      const [chunk, encoding] = args;
      exchange.down.feed(bytesOf(chunk, typeof encoding === 'string' ? encoding : undefined));
    }
    return (write as (...args: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
  return tap;
}

function tapReads(socket: Socket, exchange: Exchange): void {
  const emit = socket.emit;
  socket.emit = function tracedEmit(this: Socket, ...args: unknown[]): boolean {
    if (args[0] === 'data' && exchange.readyState === 'open') exchange.up.feed(bytesOf(args[1]));
    return (emit as (...args: unknown[]) => boolean).apply(this, args);
  } as Socket['emit'];
}

/** The request body as Node's parser hands it to the request stream. */
function tapBody(req: IncomingMessage, exchange: Exchange): void {
  const push = req.push;
  req.push = function tracedPush(this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null && chunk !== undefined && exchange.readyState === 'open') {
      exchange.up.feed(bytesOf(chunk, encoding));
    }
    return push.call(this, chunk, encoding);
  };
}

/** The request line and headers as they were read: names' case, order and repeats kept. */
export function requestHead(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

function bytesOf(chunk: unknown, encoding?: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  if (typeof chunk === 'string') return Buffer.from(chunk, (encoding ?? 'utf8') as BufferEncoding);
  return Buffer.alloc(0);
}

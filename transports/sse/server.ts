import type { ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ChatError } from '../../core/errors.ts';
import { logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import { SpreadHeartbeat } from '../heartbeat.ts';
import type { HttpContext } from '../context.ts';
import type { WireMeter } from '../meter.ts';
import {
  encodeOnce,
  meterStats,
  SendBound,
  type Transport,
  type TransportStats,
} from '../transport.ts';

const debug = logger('sse');

export interface SseOptions {
  /** Comment lines keep proxies and the browser from timing the stream out (PROTOCOL: 15 s). */
  heartbeatMs?: number;
  /** A client whose unsent output passes this many bytes is disconnected (it resumes by seq). */
  maxQueueBytes?: number;
}

/** One open stream. */
interface Stream {
  res: ServerResponse;
  subscription: { close(): void } | null;
  bound: SendBound;
}

/**
 * Server-Sent Events for the way down (POST /room/:id/chat for the way up): `GET /sse/lobby` and
 * `GET /sse/room/:id`. Refusals are plain HTTP statuses before any stream; a stream starts with
 * `retry: 2000`, carries `id: <seq>` on stored events, and resumes from `Last-Event-ID` (what a
 * browser's EventSource sends by itself) or `?after=N`, the header winning.
 */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  readonly #streams = new Set<Stream>();
  readonly #heartbeatMs: number;
  readonly #maxQueueBytes: number;
  #heartbeat: SpreadHeartbeat<Stream> | undefined;
  #meter: WireMeter | undefined;
  #eventsOut = 0;
  #closing = false;

  constructor(options: SseOptions = {}) {
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  mount(router: Router, http: HttpContext): void {
    const { chat } = http;
    this.#meter = http.meter('sse');
    this.#heartbeat = new SpreadHeartbeat(this.#heartbeatMs, (stream) => {
      if (!stream.res.writableEnded) stream.res.write(': ping\n\n');
    });

    router.get('/sse/lobby', (ctx) => {
      countOpen(http, ctx);
      const stream = this.#open(ctx);
      stream.subscription = chat.subscribeLobby((event) => this.#send(stream, encodeLobby(event)));
    });

    router.get('/sse/room/:id', async (ctx) => {
      const visitor = http.visitor(ctx);
      countOpen(http, ctx);
      const lastEventId = ctx.get('last-event-id');
      const after = validate.cursor(lastEventId !== '' ? lastEventId : ctx.query.after);
      // Events that come while the subscription opens wait here until the headers are out.
      const early: string[] = [];
      let stream: Stream | null = null;
      let finished = false;
      const subscription = await chat.subscribe(visitor, ctx.params.id!, { after }, (event) => {
        const frame = encodeRoom(event);
        // After `kicked` or `removeRoom` the core has closed the subscription: end the stream.
        finished ||= event.type === 'kicked' || event.type === 'removeRoom';
        if (!stream) {
          early.push(frame);
          return;
        }
        this.#send(stream, frame);
        if (finished) stream.res.end();
      });
      if (this.#closing) {
        subscription.close();
        throw new ChatError(503, 'The server is shutting down; try again in a moment.');
      }
      stream = this.#open(ctx);
      stream.subscription = subscription;
      // The replay (`after`) arrives here as one burst the client asked for.
      for (const frame of early) this.#write(stream, frame);
      stream.bound.allowBurst(stream.res.writableLength);
      if (finished) stream.res.end();
    });
  }

  stats(): TransportStats {
    return meterStats(this.#meter, this.#streams.size, this.#eventsOut);
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#heartbeat?.stop();
    for (const stream of [...this.#streams]) stream.res.end();
  }

  /** Takes the response over from koa and starts the stream. */
  #open(ctx: Context): Stream {
    ctx.status = 200;
    ctx.respond = false;
    const res = ctx.res;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    res.writeHead(200, {
      ...Object.fromEntries(Object.entries(ctx.response.headers).map(([k, v]) => [k, String(v)])),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const stream: Stream = { res, subscription: null, bound: new SendBound(this.#maxQueueBytes) };
    this.#streams.add(stream);
    this.#heartbeat?.add(stream);
    res.once('close', () => {
      this.#streams.delete(stream);
      this.#heartbeat?.delete(stream);
      stream.subscription?.close();
    });
    return stream;
  }

  #send(stream: Stream, frame: string): void {
    if (!this.#write(stream, frame)) return;
    const { res } = stream;
    if (stream.bound.exceeded(res.writableLength)) {
      // A client that stops reading is cut off, not buffered without end; it resumes by seq.
      debug('dropping a stream with %d bytes unsent', res.writableLength);
      res.destroy();
    }
  }

  #write(stream: Stream, frame: string): boolean {
    const { res } = stream;
    if (res.writableEnded || res.destroyed) return false;
    res.write(frame);
    this.#eventsOut += 1;
    return true;
  }
}

/** A stream is an open connection of its address until it closes (429 past the limit). */
function countOpen(http: HttpContext, ctx: Context): void {
  ctx.res.once('close', http.limits.openConnection(ctx.req.socket.remoteAddress));
}

/** `event: <type>`, `id: <seq>` for stored events, `data: <json>`, blank line. Once per event. */
const encodeRoom = encodeOnce((event: RoomEvent) => {
  const id = 'id' in event ? `id: ${event.id}\n` : '';
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
});

const encodeLobby = encodeOnce(
  (event: LobbyEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`,
);

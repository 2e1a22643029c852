import type { ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import type { HttpContext } from '../context.ts';
import { SpreadHeartbeat } from '../heartbeat.ts';
import { encodeOnce, SendBound, TransportServer } from '../transport.ts';

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
  /** A replay the client asked for is being written: one burst, allowed on top of the bound. */
  replaying: boolean;
}

/**
 * Server-Sent Events for the way down (POST /room/:id/chat for the way up): `GET /sse/lobby` and
 * `GET /sse/room/:id`. Refusals are plain HTTP statuses before any stream; a stream starts with
 * `retry: 2000`, carries `id: <seq>` on stored events, and resumes from `Last-Event-ID` (what a
 * browser's EventSource sends by itself) or `?after=N`, the header winning.
 */
export class SseTransport extends TransportServer {
  readonly name = 'sse' as const;
  readonly #streams = new Set<Stream>();
  readonly #heartbeatMs: number;
  readonly #maxQueueBytes: number;
  #heartbeat: SpreadHeartbeat<Stream> | undefined;

  constructor(options: SseOptions = {}) {
    super();
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
  }

  mount(router: Router, http: HttpContext): void {
    const { chat } = http;
    this.useHttp(http);
    this.#heartbeat = new SpreadHeartbeat(this.#heartbeatMs, (stream) => {
      if (!stream.res.writableEnded) stream.res.write(': ping\n\n');
    });

    router.get('/sse/lobby', (ctx) => {
      this.holdConnection(http, ctx.req, ctx.res);
      const stream = this.#open(ctx);
      stream.subscription = chat.subscribeLobby((event) => this.#send(stream, encodeLobby(event)));
    });

    router.get('/sse/room/:id', async (ctx) => {
      const visitor = http.visitor(ctx);
      this.holdConnection(http, ctx.req, ctx.res);
      const lastEventId = ctx.get('last-event-id');
      const after = validate.cursor(lastEventId !== '' ? lastEventId : ctx.query.after);
      let stream: Stream | undefined;
      const subscription = await chat.openSubscription(
        visitor,
        ctx.params.id!,
        { after },
        {
          onEvent: (event) => this.#send(stream!, encodeRoom(event)),
          // `kicked` or `removeRoom` went out: the stream ends with the subscription.
          onEnd: () => stream!.res.end(),
        },
      );
      if (this.readyState !== 'open' || ctx.res.destroyed) {
        subscription.close();
        this.refuseWhileClosing();
        return;
      }
      stream = this.#open(ctx);
      stream.subscription = subscription;
      stream.replaying = true;
      subscription.start();
      stream.replaying = false;
      stream.bound.allowBurst(stream.res.writableLength);
    });
  }

  protected connectionCount(): number {
    return this.#streams.size;
  }

  protected async shutdown(): Promise<void> {
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
    const stream: Stream = {
      res,
      subscription: null,
      bound: new SendBound(this.#maxQueueBytes),
      replaying: false,
    };
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
    const { res } = stream;
    if (res.writableEnded || res.destroyed) return;
    res.write(frame);
    this.countEvents();
    if (!stream.replaying && stream.bound.exceeded(res.writableLength)) {
      // A client that stops reading is cut off, not buffered without end; it resumes by seq.
      debug('dropping a stream with %d bytes unsent', res.writableLength);
      res.destroy();
    }
  }
}

/** `event: <type>`, `id: <seq>` for stored events, `data: <json>`, blank line. Once per event. */
const encodeRoom = encodeOnce((event: RoomEvent) => {
  const id = 'id' in event ? `id: ${event.id}\n` : '';
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
});

const encodeLobby = encodeOnce(
  (event: LobbyEvent) => `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`,
);

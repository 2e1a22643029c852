import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { RoomSubscriber, Visitor } from '../../core/chat.ts';
import { isLanguage, preferredLanguage } from '../../core/language.ts';
import { NOTHING_TO_RELEASE } from '../../core/limits.ts';
import { logger } from '../../core/log.ts';
import type { LobbyEvent, RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import type { HttpContext } from '../context.ts';
import { decodeSegment, refusalHeaders } from '../errors.ts';
import { SpreadHeartbeat } from '../heartbeat.ts';
import { queryOf } from '../query.ts';
import {
  encodeOnce,
  type QueueSizes,
  queueSizes,
  SendBound,
  TransportServer,
} from '../transport.ts';

const debug = logger('sse');

export interface SseOptions {
  /** Comment lines keep proxies and the browser from timing the stream out (PROTOCOL: 15 s). */
  heartbeatMs?: number;
  /** A client whose unsent output passes this many bytes is disconnected (it resumes by seq). */
  maxQueueBytes?: number;
}

/**
 * One stream, and the subscriber of its room: a class, so that every stream shares one `onEvent`
 * and `onEnd` (per-stream arrows cost a closure each, and under tsx a `name` dictionary each).
 * `connecting` while its request is checked, `open` once its 200 is written, `closed` with its
 * response.
 */
class Stream implements RoomSubscriber {
  readonly res: ServerResponse;
  readonly bound: SendBound;
  readyState: 'connecting' | 'open' | 'closed' = 'connecting';
  subscription: { close(): void } | null = null;
  /** A replay the client asked for is being written: one burst, allowed on top of the bound. */
  replaying = false;
  /** The transport's counts of events delivered and of streams cut off. */
  readonly #sent: () => void;
  readonly #cutOff: () => void;
  /** What its close releases: the count of its address's open connections. */
  #release: () => void = NOTHING_TO_RELEASE;

  constructor(res: ServerResponse, maxQueueBytes: number, sent: () => void, cutOff: () => void) {
    this.res = res;
    this.bound = new SendBound(maxQueueBytes);
    this.#sent = sent;
    this.#cutOff = cutOff;
  }

  /** `holdConnection` hands it the release of its connection count, for when it closes. */
  once(_event: 'close', release: () => void): void {
    this.#release = release;
  }

  /** Its response closed (sent, or its client went away). */
  close(): void {
    this.readyState = 'closed';
    this.#release();
    this.subscription?.close();
  }

  onEvent(event: RoomEvent): void {
    this.send(encodeRoom(event));
  }

  /** `kicked` or `removeRoom` went out: the stream ends with the subscription. */
  onEnd(): void {
    this.res.end();
  }

  send(frame: string): void {
    const { res } = this;
    if (res.writableEnded || res.destroyed) return;
    res.write(frame);
    this.#sent();
    if (!this.replaying && this.bound.exceeded(res.writableLength)) {
      // A client that stops reading is cut off, not buffered without end; it resumes by seq.
      debug('dropping a stream with %d bytes unsent', res.writableLength);
      this.#cutOff();
      res.destroy();
    }
  }
}

/** `GET /sse/room/:id` as koa's router matches it most of the time: anything else goes to koa. */
const ROOM_STREAM = /^\/sse\/room\/([^/?#]+)(?:\?([^#]*))?$/;

/**
 * Server-Sent Events for the way down (POST /room/:id/chat for the way up): `GET /sse/lobby` and
 * `GET /sse/room/:id`. Refusals are plain HTTP statuses before any stream; a stream starts with
 * `retry: 2000`, carries `id: <seq>` on stored events, and resumes from `Last-Event-ID` (what a
 * browser's EventSource sends by itself) or `?after=N`, the header winning.
 */
export class SseTransport extends TransportServer {
  readonly name = 'sse' as const;
  /**
   * Every stream by its response, from its request's first check to its close: one `close`
   * listener serves them all (a listener each, wrapped by `once`, cost some 250 bytes a stream).
   */
  readonly #streams = new Map<ServerResponse, Stream>();
  #openStreams = 0;
  readonly #responseOnClose: (this: ServerResponse) => void;
  readonly #heartbeatMs: number;
  readonly #maxQueueBytes: number;
  #heartbeat: SpreadHeartbeat<Stream> | undefined;
  #http: HttpContext | undefined;
  /** One function for every stream to count what it delivers. */
  readonly #countEvent = () => this.countEvents();
  readonly #countCutOff = () => this.countCutOff();

  constructor(options: SseOptions = {}) {
    super();
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxQueueBytes = options.maxQueueBytes ?? 1024 * 1024;
    const transport = this;
    this.#responseOnClose = function (this: ServerResponse) {
      transport.#responseClosed(this);
    };
  }

  mount(router: Router, http: HttpContext): void {
    const { chat } = http;
    this.useHttp(http);
    this.#http = http;
    this.#heartbeat = new SpreadHeartbeat(this.#heartbeatMs, (stream) => {
      if (!stream.res.writableEnded) stream.res.write(': ping\n\n');
    });

    router.get('/sse/lobby', (ctx) => {
      const stream = this.#newStream(ctx.res);
      this.holdConnection(http, ctx.req, stream);
      this.#open(ctx.req, stream, takeOver(ctx)());
      stream.subscription = chat.subscribeLobby((event) => stream.send(encodeLobby(event)));
    });

    // What `serve` leaves to koa (a trailing slash, HEAD, a path in capitals) is answered alike.
    router.get('/sse/room/:id', async (ctx) => {
      const visitor = http.visitor(ctx);
      await this.#openRoom(
        ctx.req,
        ctx.res,
        visitor,
        ctx.params.id!,
        ctx.query.after,
        takeOver(ctx),
      );
    });
  }

  /**
   * Room streams are served beside koa, as the room polls are: koa's context (request, response,
   * cookies, session) would stay alive as long as the stream, over twice what a stream needs. The
   * same checks in koa's order, the same statuses, sentences, languages and headers
   * (test/sse-streams.test.ts sends every case both ways).
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || !this.#http) return false;
    const match = ROOM_STREAM.exec(req.url ?? '');
    if (!match) return false;
    // Without a session koa answers the 401 (and clears a cookie whose signature is wrong).
    const visitor = this.#http.visitorOfRequest(req);
    if (!visitor) return false;
    this.meter!.track(req, res);
    void this.#serveRoom(req, res, visitor, decodeSegment(match[1]!), queryOf(match[2] ?? ''));
    return true;
  }

  async #serveRoom(
    req: IncomingMessage,
    res: ServerResponse,
    visitor: Visitor,
    id: string,
    query: Record<string, string | string[]>,
  ): Promise<void> {
    const http = this.#http!;
    try {
      await this.#openRoom(req, res, visitor, id, query.after, () => http.headers);
    } catch (error) {
      const language = isLanguage(query.lang)
        ? query.lang
        : preferredLanguage(req.headers['accept-language']);
      const { status, error: sentence } = http.refusal(`GET ${req.url}`, error, language);
      // As koa's error mapper: the stream has begun, or nobody is left to tell.
      if (res.headersSent || res.destroyed) return;
      const body = JSON.stringify({ error: sentence });
      res.writeHead(status, {
        ...http.headers,
        ...refusalHeaders(error),
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    }
  }

  /**
   * A room stream, through koa or beside it: the open connection counted (429), the cursor read
   * (400; `Last-Event-ID` wins over `?after`), the subscription opened (404, 403, 409), then the
   * stream, or 503 from the first `close()` on.
   */
  async #openRoom(
    req: IncomingMessage,
    res: ServerResponse,
    visitor: Visitor,
    id: string,
    afterQuery: unknown,
    headers: () => OutgoingHttpHeaders,
  ): Promise<void> {
    const http = this.#http!;
    const stream = this.#newStream(res);
    this.holdConnection(http, req, stream);
    const lastEventId = req.headers['last-event-id'] ?? '';
    const after = validate.cursor(lastEventId !== '' ? lastEventId : afterQuery);
    const subscription = await http.chat.openSubscription(visitor, id, { after }, stream);
    if (this.readyState !== 'open' || res.destroyed) {
      subscription.close();
      this.refuseWhileClosing();
      return;
    }
    this.#open(req, stream, headers());
    stream.subscription = subscription;
    stream.replaying = true;
    subscription.start();
    stream.replaying = false;
    stream.bound.allowBurst(stream.res.writableLength);
  }

  protected connectionCount(): number {
    return this.#openStreams;
  }

  /** An open stream's queue: what its response and its socket hold unsent. */
  protected queues(): QueueSizes {
    return queueSizes(this.#streams.values(), (stream) =>
      stream.readyState === 'open' ? stream.res.writableLength : 0,
    );
  }

  protected async shutdown(): Promise<void> {
    this.#heartbeat?.stop();
    for (const stream of [...this.#streams.values()]) {
      if (stream.readyState === 'open') stream.res.end();
    }
  }

  /** A stream for `res`, `connecting` until `#open`; it closes with `res`, whatever happens. */
  #newStream(res: ServerResponse): Stream {
    const stream = new Stream(res, this.#maxQueueBytes, this.#countEvent, this.#countCutOff);
    this.#streams.set(res, stream);
    res.on('close', this.#responseOnClose);
    return stream;
  }

  #responseClosed(res: ServerResponse): void {
    const stream = this.#streams.get(res);
    if (!stream) return;
    this.#streams.delete(res);
    if (stream.readyState === 'open') {
      this.#openStreams -= 1;
      this.#heartbeat?.delete(stream);
    }
    stream.close();
  }

  /** Starts the stream, with `headers` (koa's, or what koa would have set) and its own. */
  #open(req: IncomingMessage, stream: Stream, headers: OutgoingHttpHeaders): Stream {
    const { res } = stream;
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    // Written on their own, Node's header lines are flattened in place into the one string it
    // keeps for the stream's life, not a tree of some 40 pieces (~0.7 KiB a stream). Corked, they
    // still leave in one write with the first line.
    const { socket } = res;
    socket?.cork();
    res.flushHeaders();
    res.write('retry: 2000\n\n');
    socket?.uncork();
    stream.readyState = 'open';
    this.#openStreams += 1;
    this.#heartbeat?.add(stream);
    return stream;
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

/** Takes the response over from koa: its headers so far (the security headers) start the stream. */
function takeOver(ctx: Context): () => OutgoingHttpHeaders {
  return () => {
    ctx.status = 200;
    ctx.respond = false;
    return ctx.response.headers;
  };
}

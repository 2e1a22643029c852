import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import { ChatError } from '../../core/errors.ts';
import { requestLanguage } from '../../core/language.ts';
import * as validate from '../../core/validate.ts';
import type { HttpContext } from '../context.ts';
import { decodeSegment, NO_SESSION, refusalHeaders } from '../errors.ts';
import { queryValue } from '../query.ts';
import { type QueueSizes, TransportServer } from '../transport.ts';
import { LobbyPolls } from './lobby-polls.ts';
import { RoomPolls } from './room-polls.ts';
import { answer, responseClosed, waitSeconds, writeAnswer } from './wire.ts';

export interface PollingOptions {
  /** How long an ended poll still counts as a subscription (PROTOCOL: 10 s). */
  pollLingerMs?: number;
  /** At most this many stored events per answer; the cursor then stops at the last one sent. */
  maxEventsPerAnswer?: number;
  /** Lobby events kept for polls that come back; a client further behind reloads the list. */
  lobbyLogSize?: number;
}

/** How long close() waits for the answers it sent to leave. */
const CLOSE_FLUSH_MS = 1000;
/** `GET /poll/room/:id?query`, the hot endpoint `serve` takes before koa. */
const ROOM_POLL = /^\/poll\/room\/([^/?#]+)\/?(?:\?([^#]*))?$/;

/**
 * HTTP long polling: `GET /poll/room/:id?after=N&wait=S` and `GET /poll/lobby?cursor=C&wait=S`
 * answer `{"events":[...],"cursor":C}` as soon as there is an event for the client, or after
 * `wait` seconds with none. Sending is POST /room/:id/chat.
 *
 * Room polls are RoomPolls' (room-polls.ts), lobby polls LobbyPolls' (lobby-polls.ts); this is
 * their endpoints and their lifecycle.
 */
export class PollingTransport extends TransportServer {
  readonly name = 'polling' as const;
  readonly #options: PollingOptions;
  readonly #lobby: LobbyPolls;
  #rooms: RoomPolls | undefined;
  #lobbySubscription: { close(): void } | undefined;
  #http: HttpContext | undefined;

  constructor(options: PollingOptions = {}) {
    super();
    this.#options = options;
    this.#lobby = new LobbyPolls({
      logSize: options.lobbyLogSize ?? 1000,
      maxEvents: options.maxEventsPerAnswer ?? 500,
      countEvents: (count) => this.countEvents(count),
    });
  }

  mount(router: Router, http: HttpContext): void {
    this.#http = http;
    this.useHttp(http);
    this.#rooms = new RoomPolls({
      chat: http.chat,
      lingerMs: this.#options.pollLingerMs ?? 10_000,
      maxEvents: this.#options.maxEventsPerAnswer ?? 500,
      countEvents: (count) => this.countEvents(count),
      countOverflow: () => this.countCutOff(),
      respond: (res, body) => {
        if (!res.closed) writeAnswer(res, 200, body);
      },
      isOpen: () => this.readyState === 'open',
    });
    this.#lobbySubscription = http.chat.subscribeLobby((event) => this.#lobby.onEvent(event));

    // `serve` takes the GETs before koa; this route answers what it leaves (HEAD) the same way.
    router.get('/poll/room/:id', async (ctx) => {
      const visitor = http.visitor(ctx);
      const room = validate.roomId(ctx.params.id);
      const after = validate.cursor(ctx.query.after, 'after');
      const wait = waitSeconds(ctx.query.wait);
      this.refuseWhileClosing();
      this.holdConnection(http, ctx.req, ctx.res);
      // RoomPolls writes the answer itself, as for the polls `serve` takes; koa waits for it.
      await this.#rooms!.poll(ctx.res, visitor, room, after, wait);
      ctx.respond = false;
      await responseClosed(ctx.res);
    });

    router.get('/poll/lobby', async (ctx) => {
      const cursor = validate.cursor(ctx.query.cursor, 'cursor');
      const wait = waitSeconds(ctx.query.wait);
      this.refuseWhileClosing();
      this.holdConnection(http, ctx.req, ctx.res);
      answer(ctx, await this.#lobby.poll(ctx, cursor, wait));
    });
  }

  /**
   * Room polls are most of long polling's requests, one per delivery or so: like engine.io, they
   * are served beside koa, with the same meter, session, checks and error sentences, so that a
   * poll costs what the chat needs and not a koa middleware chain (a third of its CPU).
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || !this.#http) return false;
    const match = ROOM_POLL.exec(req.url ?? '');
    if (!match) return false;
    this.meter!.track(req, res);
    this.#serveRoomPoll(req, res, match[1]!, match[2] ?? '');
    return true;
  }

  /** Not async: a poll the seat's buffer answers allocates no promise. */
  #serveRoomPoll(req: IncomingMessage, res: ServerResponse, id: string, search: string): void {
    try {
      const visitor = this.#http!.visitorOfRequest(req);
      if (!visitor) throw new ChatError(401, NO_SESSION, { code: 'noSession' });
      const room = validate.roomId(decodeSegment(id));
      const after = validate.cursor(queryValue(search, 'after'), 'after');
      const wait = waitSeconds(queryValue(search, 'wait'));
      this.refuseWhileClosing();
      this.holdConnection(this.#http!, req, res);
      this.#rooms!.poll(res, visitor, room, after, wait)?.catch((error: unknown) => {
        this.#refusePoll(req, res, error);
      });
    } catch (error) {
      this.#refusePoll(req, res, error);
    }
  }

  #refusePoll(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    const { status, error: sentence } = this.refusal('GET /poll/room', error, requestLanguage(req));
    if (!res.headersSent && !res.closed) {
      writeAnswer(res, status, JSON.stringify({ error: sentence }), refusalHeaders(error));
    }
  }

  protected connectionCount(): number {
    return (this.#rooms?.pending ?? 0) + this.#lobby.pending;
  }

  /** A room seat's buffered events (lobby polls read a shared log and queue nothing of their own). */
  protected queues(): QueueSizes {
    return this.#rooms?.queues() ?? { queuedBytes: 0, largestQueueBytes: 0 };
  }

  protected async shutdown(): Promise<void> {
    this.#lobbySubscription?.close();
    const ended = [...(this.#rooms?.close() ?? []), ...this.#lobby.close()];
    // The answers go out through koa; let them leave before the server cuts the sockets.
    let timer: NodeJS.Timeout | undefined;
    const flushed = new Promise<void>((done) => {
      timer = setTimeout(done, CLOSE_FLUSH_MS);
    });
    await Promise.race([Promise.all(ended), flushed]);
    clearTimeout(timer);
  }
}

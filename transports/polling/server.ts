import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { ChatService, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError, isChatError } from '../../core/errors.ts';
import { logError, logger } from '../../core/log.ts';
import type { RoomEvent } from '../../core/model.ts';
import * as validate from '../../core/validate.ts';
import type { HttpContext } from '../context.ts';
import { describe, NO_SESSION, refusalHeaders } from '../errors.ts';
import type { WireMeter } from '../meter.ts';
import { meterStats, type Transport, type TransportStats } from '../transport.ts';
import { LobbyPolls } from './lobby-polls.ts';
import {
  answer,
  encodeAnswer,
  onAbort,
  queryOf,
  responseClosed,
  waitSeconds,
  writeAnswer,
} from './wire.ts';

const debug = logger('polling');

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

/** One pending (or just answered) room poll. */
interface RoomPoll {
  /** Polls of a seat are numbered: the newest one's subscription is the one that lingers. */
  readonly order: number;
  readonly after: number;
  /** Stored events from this poll's own subscription, and seq-less ones from any of the seat. */
  events: RoomEvent[];
  /** Seq-less events kept from before this poll: they go after `events`, unless superseded. */
  kept: RoomEvent[];
  stored: number;
  lastSeq: number | undefined;
  /** More stored events came than one answer takes: they are left for the next poll. */
  capped: boolean;
  subscription: Subscription | undefined;
  /** The replay is over: the next event answers the poll. */
  live: boolean;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  respond(body: string): void;
  readonly res: ServerResponse;
}

/**
 * A session's hold on one room across its polls: the core subscription outlives each poll by the
 * linger, so the user stays a member between polls, and it keeps the seq-less events (`members`,
 * `kicked`, `removeRoom`) that come between two polls. Stored events are not kept: the next poll
 * replays them from the store by `after`.
 */
interface Seat {
  readonly key: string;
  poll: RoomPoll | undefined;
  polls: number;
  subscription: Subscription | undefined;
  subscriptionOrder: number;
  /** Subscriptions being opened for this seat's polls. */
  opening: number;
  kept: RoomEvent[];
  /** Seq-less events already taken: the old and the new subscription both see them. */
  readonly seen: WeakSet<RoomEvent>;
  /** Armed while the seat may be idle; when it fires, it lets go unless a poll came meanwhile. */
  linger: NodeJS.Timeout | undefined;
  /** When the seat's last poll ended: the linger runs from here. */
  idleSince: number;
  gone: boolean;
}

/**
 * HTTP long polling: `GET /poll/room/:id?after=N&wait=S` and `GET /poll/lobby?cursor=C&wait=S`
 * answer `{"events":[...],"cursor":C}` as soon as there is an event for the client, or after
 * `wait` seconds with none. Sending is POST /room/:id/chat.
 *
 * Each room poll opens its subscription through the core's one resume path (`after` = the last
 * answer's cursor) before the previous poll's subscription closes, and the last one lingers for
 * `pollLingerMs`: a poll that is pending or ended less than that ago counts as a subscription.
 * One pending poll per session and room (engine.io's rule): a second one answers the first at
 * once. Seats are per session, not per colour: two sessions of one colour would answer each
 * other's polls at once, over and over.
 */
export class PollingTransport implements Transport {
  readonly name = 'polling' as const;
  readonly #lingerMs: number;
  readonly #maxEvents: number;
  readonly #seats = new Map<string, Seat>();
  readonly #lobby: LobbyPolls;
  #lobbySubscription: { close(): void } | undefined;
  #chat: ChatService | undefined;
  #http: HttpContext | undefined;
  #meter: WireMeter | undefined;
  #pending = 0;
  #eventsOut = 0;
  #closing = false;
  /** Polls that events came for this turn: answered together once the turn's events are in. */
  readonly #due = new Map<RoomPoll, Seat>();

  constructor(options: PollingOptions = {}) {
    this.#lingerMs = options.pollLingerMs ?? 10_000;
    this.#maxEvents = options.maxEventsPerAnswer ?? 500;
    this.#lobby = new LobbyPolls({
      logSize: options.lobbyLogSize ?? 1000,
      maxEvents: this.#maxEvents,
    });
  }

  mount(router: Router, http: HttpContext): void {
    this.#chat = http.chat;
    this.#http = http;
    this.#meter = http.meter('polling');
    this.#lobbySubscription = http.chat.subscribeLobby((event) => this.#lobby.onEvent(event));

    // `serve` takes the GETs before koa; this route answers what it leaves (HEAD) the same way.
    router.get('/poll/room/:id', async (ctx) => {
      const visitor = http.visitor(ctx);
      const room = validate.roomId(ctx.params.id);
      const after = validate.cursor(ctx.query.after, 'after');
      const wait = waitSeconds(ctx.query.wait);
      this.#refuseWhileClosing();
      this.#countOpen(ctx.req, ctx.res);
      answer(ctx, await this.#pollRoom(ctx.res, visitor, room, after, wait));
    });

    router.get('/poll/lobby', async (ctx) => {
      const cursor = validate.cursor(ctx.query.cursor, 'cursor');
      const wait = waitSeconds(ctx.query.wait);
      this.#refuseWhileClosing();
      this.#countOpen(ctx.req, ctx.res);
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
    this.#meter!.track(req, res);
    void this.#serveRoomPoll(req, res, match[1]!, match[2] ?? '');
    return true;
  }

  async #serveRoomPoll(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    search: string,
  ): Promise<void> {
    try {
      const visitor = this.#http!.visitorOfRequest(req);
      if (!visitor) throw new ChatError(401, NO_SESSION);
      const room = validate.roomId(decodeSegment(id));
      const query = queryOf(search);
      const after = validate.cursor(query.after, 'after');
      const wait = waitSeconds(query.wait);
      this.#refuseWhileClosing();
      this.#countOpen(req, res);
      const body = await this.#pollRoom(res, visitor, room, after, wait);
      if (!res.closed) writeAnswer(res, 200, body);
    } catch (error) {
      const [status, sentence] = describe(error);
      if (status >= 500 && !isChatError(error)) logError('GET /poll/room', error);
      if (!res.headersSent && !res.closed) {
        writeAnswer(res, status, JSON.stringify({ error: sentence }), refusalHeaders(error));
      }
    }
  }

  /** A poll is an open connection of its address until it is answered (429 past the limit). */
  #countOpen(req: IncomingMessage, res: ServerResponse): void {
    res.once('close', this.#http!.limits.openConnection(req.socket.remoteAddress));
  }

  stats(): TransportStats {
    return meterStats(
      this.#meter,
      this.#pending + this.#lobby.pending,
      this.#eventsOut + this.#lobby.eventsOut,
    );
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#lobbySubscription?.close();
    const ended: Promise<void>[] = [];
    for (const seat of [...this.#seats.values()]) {
      if (seat.poll) {
        ended.push(responseClosed(seat.poll.res));
        this.#finish(seat, seat.poll, true);
      }
      this.#dropSeat(seat);
    }
    ended.push(...this.#lobby.close());
    // The answers go out through koa; let them leave before the server cuts the sockets.
    let timer: NodeJS.Timeout | undefined;
    const flushed = new Promise<void>((done) => {
      timer = setTimeout(done, CLOSE_FLUSH_MS);
    });
    await Promise.race([Promise.all(ended), flushed]);
    clearTimeout(timer);
  }

  // ---- rooms ------------------------------------------------------------------------------

  async #pollRoom(
    res: ServerResponse,
    visitor: Visitor,
    room: string,
    after: number | undefined,
    wait: number,
  ): Promise<string> {
    const chat = this.#chat!;
    const key = `${visitor.userId} ${room}`;
    const finished = this.#seats.get(key);
    if (finished && !finished.poll && finished.kept.some(isFinal)) {
      // `kicked` or `removeRoom` came after the last poll: it goes first; later polls get 403/404.
      this.#dropSeat(finished);
      this.#eventsOut += finished.kept.length;
      return encodeAnswer(finished.kept, after ?? 0);
    }
    // Without `after`, only what happens from now: start at the newest seq the visitor can see.
    const from = after ?? chat.latestSeq(visitor, room);
    this.#refuseWhileClosing();
    if (res.closed) return '';

    const displaced = this.#seats.get(key)?.poll;
    if (displaced) this.#finish(this.#seats.get(key)!, displaced, true);
    const seat = this.#seats.get(key) ?? newSeat(key);
    this.#seats.set(key, seat);
    seat.polls += 1;
    let respond!: (body: string) => void;
    const answered = new Promise<string>((done) => {
      respond = done;
    });
    const poll: RoomPoll = {
      order: seat.polls,
      after: from,
      events: [],
      kept: seat.kept,
      stored: 0,
      lastSeq: undefined,
      capped: false,
      subscription: undefined,
      live: false,
      done: false,
      timer: undefined,
      respond,
      res,
    };
    onAbort(res, () => this.#finish(seat, poll, false));
    seat.kept = [];
    seat.poll = poll;
    this.#pending += 1;
    if (poll.kept.some(isFinal)) {
      this.#finish(seat, poll, true);
      return answered;
    }

    let subscription: Subscription;
    seat.opening += 1;
    try {
      subscription = await chat.subscribe(visitor, room, { after: from }, (event) =>
        this.#onRoomEvent(seat, poll, event),
      );
    } catch (error) {
      seat.opening -= 1;
      if (poll.done) {
        this.#settle(seat);
        return answered;
      }
      this.#finish(seat, poll, false);
      throw error;
    }
    seat.opening -= 1;
    poll.subscription = subscription;
    this.#adopt(seat, poll, subscription);
    if (poll.done) {
      this.#settle(seat);
    } else {
      poll.live = true;
      if (poll.events.length + poll.kept.length > 0 || wait === 0) this.#finish(seat, poll, true);
      else poll.timer = setTimeout(() => this.#finish(seat, poll, true), wait * 1000);
    }
    return answered;
  }

  /** The subscription of the newest poll holds the membership; older ones close after it opened. */
  #adopt(seat: Seat, poll: RoomPoll, subscription: Subscription): void {
    if (seat.gone || this.#closing || poll.order < seat.subscriptionOrder) {
      subscription.close();
      return;
    }
    const previous = seat.subscription;
    seat.subscription = subscription;
    seat.subscriptionOrder = poll.order;
    // Closed only now that the new one is open: the membership never drops to zero.
    if (previous !== subscription) previous?.close();
  }

  #onRoomEvent(seat: Seat, poll: RoomPoll, event: RoomEvent): void {
    if (seat.gone) return;
    if ('id' in event) {
      // Between polls, stored events wait in the store: the next poll replays them by `after`.
      if (poll.done || seat.poll !== poll) return;
      if (poll.stored >= this.#maxEvents) {
        poll.capped = true;
        return;
      }
      poll.events.push(event);
      poll.stored += 1;
      poll.lastSeq = event.id;
    } else {
      if (seat.seen.has(event)) return;
      seat.seen.add(event);
      keep(seat.poll ? seat.poll.events : seat.kept, event);
    }
    const current = seat.poll;
    if (current?.live && !this.#due.has(current)) {
      // Events published in the same turn (a join, then members) go out in one answer, and the
      // polls a message answers (every member's) are answered in one pass.
      if (this.#due.size === 0) setImmediate(() => this.#answerDue());
      this.#due.set(current, seat);
    }
  }

  #answerDue(): void {
    const due = [...this.#due];
    this.#due.clear();
    for (const [poll, seat] of due) this.#finish(seat, poll, true);
  }

  /** Ends a poll: with an answer, or (the client went away) keeping its seq-less events. */
  #finish(seat: Seat, poll: RoomPoll, send: boolean): void {
    if (poll.done) return;
    poll.done = true;
    clearTimeout(poll.timer);
    this.#pending -= 1;
    if (seat.poll === poll) seat.poll = undefined;
    if (!send) {
      // The client went away: its seq-less events wait for its next poll (the newest `members`).
      for (const event of [...poll.kept, ...poll.events]) {
        if (!('id' in event)) keep(seat.kept, event);
      }
      poll.respond('');
      this.#settle(seat);
      return;
    }
    // A `members` that came during this poll supersedes the kept one; nothing follows `kicked`
    // or `removeRoom`.
    const fresh = poll.events.some((e) => e.type === 'members');
    const kept = poll.kept.filter((e) => !(fresh && e.type === 'members'));
    const all = [...poll.events, ...kept];
    const events = [...all.filter((e) => !isFinal(e)), ...all.filter(isFinal)];
    const cursor =
      poll.live && !poll.capped && poll.subscription
        ? poll.subscription.cursor
        : (poll.lastSeq ?? poll.after);
    this.#eventsOut += events.length;
    poll.respond(encodeAnswer(events, cursor));
    if (events.some(isFinal)) this.#dropSeat(seat);
    else this.#settle(seat);
  }

  /**
   * Without a pending poll, the seat lingers, then lets go of its subscription. The linger timer
   * is armed once and checks when it fires, rather than re-armed at every poll (one a delivery).
   */
  #settle(seat: Seat): void {
    if (seat.gone || seat.poll) return;
    if (!seat.subscription && seat.opening === 0 && seat.kept.length === 0) {
      this.#dropSeat(seat);
      return;
    }
    seat.idleSince = Date.now();
    if (!seat.linger) this.#linger(seat, this.#lingerMs);
  }

  #linger(seat: Seat, ms: number): void {
    seat.linger = setTimeout(() => {
      seat.linger = undefined;
      // A pending poll holds the seat; when it ends, it lingers again from then.
      if (seat.gone || seat.poll) return;
      const left = seat.idleSince + this.#lingerMs - Date.now();
      if (left > 0) this.#linger(seat, left);
      else this.#dropSeat(seat);
    }, ms);
    seat.linger.unref();
  }

  #dropSeat(seat: Seat): void {
    seat.gone = true;
    clearTimeout(seat.linger);
    if (this.#seats.get(seat.key) === seat) this.#seats.delete(seat.key);
    seat.subscription?.close();
    seat.subscription = undefined;
    debug('seat %s let go', seat.key);
  }

  #refuseWhileClosing(): void {
    if (this.#closing) {
      throw new ChatError(503, 'The server is shutting down; try again in a moment.');
    }
  }
}

/** A path segment as koa-router decodes it: the raw text when it is not valid percent-encoding. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function newSeat(key: string): Seat {
  return {
    key,
    poll: undefined,
    polls: 0,
    subscription: undefined,
    subscriptionOrder: 0,
    opening: 0,
    kept: [],
    seen: new WeakSet(),
    linger: undefined,
    idleSince: 0,
    gone: false,
  };
}

function isFinal(event: RoomEvent): boolean {
  return event.type === 'kicked' || event.type === 'removeRoom';
}

/** Adds a seq-less event to a list; `members` is coalesced to the newest. */
function keep(events: RoomEvent[], event: RoomEvent): void {
  if (event.type === 'members') {
    const older = events.findIndex((e) => e.type === 'members');
    if (older !== -1) events.splice(older, 1);
  }
  events.push(event);
}

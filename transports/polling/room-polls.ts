import type { ServerResponse } from 'node:http';
import type { ChatService, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError } from '../../core/errors.ts';
import { logger } from '../../core/log.ts';
import type { RoomEvent } from '../../core/model.ts';
import { isFinal } from '../../core/subscription.ts';
import { SHUTTING_DOWN } from '../errors.ts';
import { keep, newSeat, type RoomPoll, type Seat } from './seat.ts';
import { encodeAnswer, onAbort, responseClosed } from './wire.ts';

const debug = logger('polling');

/**
 * The room polls of every session: `GET /poll/room/:id?after=N&wait=S` answers
 * `{"events":[...],"cursor":C}` as soon as there is an event for the client, or after `wait`
 * seconds with none.
 *
 * Each room poll opens its subscription through the core's one resume path (`after` = the last
 * answer's cursor) before the previous poll's subscription closes, and the last one lingers for
 * `lingerMs`: a poll that is pending or ended less than that ago counts as a subscription.
 * One pending poll per session and room (engine.io's rule): a second one answers the first at
 * once. Seats are per session, not per colour: two sessions of one colour would answer each
 * other's polls at once, over and over.
 */
export class RoomPolls {
  readonly #chat: ChatService;
  readonly #lingerMs: number;
  readonly #maxEvents: number;
  readonly #countEvents: (count: number) => void;
  readonly #isOpen: () => boolean;
  readonly #seats = new Map<string, Seat>();
  /** Polls that events came for this turn: answered together once the turn's events are in. */
  readonly #due = new Map<RoomPoll, Seat>();
  #pending = 0;

  constructor(options: {
    chat: ChatService;
    lingerMs: number;
    maxEvents: number;
    countEvents: (count: number) => void;
    /** Whether the transport still takes polls (its `readyState` is `open`). */
    isOpen: () => boolean;
  }) {
    this.#chat = options.chat;
    this.#lingerMs = options.lingerMs;
    this.#maxEvents = options.maxEvents;
    this.#countEvents = options.countEvents;
    this.#isOpen = options.isOpen;
  }

  /** Pending room polls now. */
  get pending(): number {
    return this.#pending;
  }

  /** Answers every pending poll and lets go of every seat; resolves to when each answer has left. */
  close(): Promise<void>[] {
    const ended: Promise<void>[] = [];
    for (const seat of [...this.#seats.values()]) {
      if (seat.poll) {
        ended.push(responseClosed(seat.poll.res));
        this.#finish(seat, seat.poll, true);
      }
      this.#dropSeat(seat);
    }
    return ended;
  }

  /** Resolves to the answer's body ('' when the client went away first). */
  async poll(
    res: ServerResponse,
    visitor: Visitor,
    room: string,
    after: number | undefined,
    wait: number,
  ): Promise<string> {
    const chat = this.#chat;
    const key = `${visitor.userId} ${room}`;
    const finished = this.#seats.get(key);
    if (finished && !finished.poll && finished.kept.some(isFinal)) {
      // `kicked` or `removeRoom` came after the last poll: it goes first; later polls get 403/404.
      this.#dropSeat(finished);
      this.#countEvents(finished.kept.length);
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
      state: 'opening',
      wasPending: false,
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
      // An answer takes at most maxEvents stored events: the replay reads no further (the next
      // poll, from this answer's cursor, reads the rest).
      subscription = await chat.openSubscription(
        visitor,
        room,
        { after: from, replayLimit: this.#maxEvents },
        {
          onEvent: (event) => this.#onRoomEvent(seat, poll, event),
        },
      );
    } catch (error) {
      seat.opening -= 1;
      if (poll.state === 'answered') {
        this.#settle(seat);
        return answered;
      }
      this.#finish(seat, poll, false);
      throw error;
    }
    seat.opening -= 1;
    poll.subscription = subscription;
    this.#adopt(seat, poll, subscription);
    // The replay, and what came while it was read, go into this poll's answer (or, for a poll
    // already answered, seq-less events wait in the seat): nothing is held anywhere else.
    subscription.start();
    if (poll.state === 'answered') {
      this.#settle(seat);
    } else {
      poll.state = 'pending';
      if (poll.events.length + poll.kept.length > 0 || wait === 0) this.#finish(seat, poll, true);
      else poll.timer = setTimeout(() => this.#finish(seat, poll, true), wait * 1000);
    }
    return answered;
  }

  /** The subscription of the newest poll holds the membership; older ones close after it opened. */
  #adopt(seat: Seat, poll: RoomPoll, subscription: Subscription): void {
    if (seat.state === 'gone' || !this.#isOpen() || poll.order < seat.subscriptionOrder) {
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
    if (seat.state === 'gone') return;
    if ('id' in event) {
      // Between polls, stored events wait in the store: the next poll replays them by `after`.
      if (poll.state === 'answered' || seat.poll !== poll) return;
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
    if (current?.state === 'pending' && !this.#due.has(current)) {
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
    if (poll.state === 'answered') return;
    poll.wasPending = poll.state === 'pending';
    poll.state = 'answered';
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
      poll.wasPending && !poll.capped && poll.subscription
        ? poll.subscription.cursor
        : (poll.lastSeq ?? poll.after);
    this.#countEvents(events.length);
    poll.respond(encodeAnswer(events, cursor));
    if (events.some(isFinal)) this.#dropSeat(seat);
    else this.#settle(seat);
  }

  /**
   * Without a pending poll, the seat lingers, then lets go of its subscription. The linger timer
   * is armed once and checks when it fires, rather than re-armed at every poll (one a delivery).
   */
  #settle(seat: Seat): void {
    if (seat.state === 'gone' || seat.poll) return;
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
      if (seat.state === 'gone' || seat.poll) return;
      const left = seat.idleSince + this.#lingerMs - Date.now();
      if (left > 0) this.#linger(seat, left);
      else this.#dropSeat(seat);
    }, ms);
    seat.linger.unref();
  }

  #dropSeat(seat: Seat): void {
    seat.state = 'gone';
    clearTimeout(seat.linger);
    if (this.#seats.get(seat.key) === seat) this.#seats.delete(seat.key);
    seat.subscription?.close();
    seat.subscription = undefined;
    debug('seat %s let go', seat.key);
  }

  #refuseWhileClosing(): void {
    if (!this.#isOpen()) throw new ChatError(503, SHUTTING_DOWN, { code: 'shuttingDown' });
  }
}

import type { ServerResponse } from 'node:http';
import type { ChatService, Subscription, Visitor } from '../../core/chat.ts';
import { ChatError } from '../../core/errors.ts';
import { logger } from '../../core/log.ts';
import type { RoomEvent } from '../../core/model.ts';
import { isFinal } from '../../core/subscription.ts';
import { SHUTTING_DOWN } from '../errors.ts';
import { type QueueSizes, queueSizes } from '../transport.ts';
import { keep, newSeat, type Seat } from './seat.ts';
import { encodeAnswer, encodeEvent, responseClosed } from './wire.ts';

const debug = logger('polling');

/**
 * The room polls of every session: `GET /poll/room/:id?after=N&wait=S` answers
 * `{"events":[...],"cursor":C}` as soon as there is an event for the client, or after `wait`
 * seconds with none.
 *
 * A seat (session and room) holds one core subscription across its polls and buffers what it
 * delivers between them; a poll whose `after` the buffer covers is answered from it, with no
 * subscription and no store read. Any other poll (the first, one whose client lost an answer,
 * one after more events than an answer takes) resumes through the core's one resume path: a new
 * subscription from `after`, which replaces the old one only once open, so the membership never
 * drops. The last poll's subscription lingers for `lingerMs`: a poll that is pending or ended
 * less than that ago counts as a subscription. One pending poll per seat (engine.io's rule): a
 * second one answers the first at once. Seats are per session, not per colour: two sessions of
 * one colour would answer each other's polls at once, over and over.
 */
export class RoomPolls {
  readonly #chat: ChatService;
  readonly #lingerMs: number;
  readonly #maxEvents: number;
  readonly #countEvents: (count: number) => void;
  readonly #countOverflow: () => void;
  readonly #respond: (res: ServerResponse, body: string) => void;
  readonly #isOpen: () => boolean;
  readonly #seats = new Map<string, Seat>();
  /** Seats that events came for this turn: answered together once the turn's events are in. */
  readonly #due = new Set<Seat>();
  /** Seats without a pending poll, lingering, in the order they became idle (seat.idleSince). */
  readonly #idle = new Set<Seat>();
  #lingerTimer: NodeJS.Timeout | undefined;
  #pending = 0;
  /** The `close` listener of every poll's response, one for all (the seat is on the response). */
  readonly #responseOnClose: (this: SeatResponse) => void;

  constructor(options: {
    chat: ChatService;
    lingerMs: number;
    maxEvents: number;
    countEvents: (count: number) => void;
    /** A seat overflowed: it stops buffering, and its next poll resumes from the store. */
    countOverflow: () => void;
    /** Writes a 200 answer (unless its client went away). */
    respond: (res: ServerResponse, body: string) => void;
    /** Whether the transport still takes polls (its `readyState` is `open`). */
    isOpen: () => boolean;
  }) {
    this.#chat = options.chat;
    this.#lingerMs = options.lingerMs;
    this.#maxEvents = options.maxEvents;
    this.#countEvents = options.countEvents;
    this.#countOverflow = options.countOverflow;
    this.#respond = options.respond;
    this.#isOpen = options.isOpen;
    const aborted = (seat: Seat) => this.#pollAborted(seat);
    this.#responseOnClose = function (this: SeatResponse) {
      const seat = this[SEAT];
      if (seat) aborted(seat);
    };
  }

  /** Pending room polls now. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * What each seat holds for its next answer now: its buffered events as the answer will carry
   * them (`encodeEvent`, once per event whatever the number of seats). Read when stats are asked.
   */
  queues(): QueueSizes {
    return queueSizes(this.#seats.values(), (seat) => {
      let bytes = 0;
      for (const event of seat.events) bytes += Buffer.byteLength(encodeEvent(event));
      return bytes;
    });
  }

  /** Answers every pending poll and lets go of every seat; resolves to when each answer has left. */
  close(): Promise<void>[] {
    const ended: Promise<void>[] = [];
    for (const seat of [...this.#seats.values()]) {
      if (seat.res) {
        ended.push(responseClosed(seat.res));
        this.#answer(seat);
      }
      this.#dropSeat(seat);
    }
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    return ended;
  }

  /**
   * Takes a poll and answers it through `respond`, now or later. Throws (or, when it resumes,
   * rejects) with the refusal if it is refused before anything was sent.
   */
  poll(
    res: ServerResponse,
    visitor: Visitor,
    room: string,
    after: number | undefined,
    wait: number,
  ): Promise<void> | undefined {
    const key = `${visitor.userId} ${room}`;
    const finished = this.#seats.get(key);
    if (finished?.ended && !finished.res) {
      // `kicked` or `removeRoom` came after the last poll: it goes first; later polls get 403/404.
      this.#answerEnded(finished, res, after);
      return;
    }
    // Without `after`, only what happens from now: start at the newest seq the visitor can see.
    const from = after ?? this.#chat.latestSeq(visitor, room);
    this.#refuseWhileClosing();
    if (res.closed) return;

    const displaced = this.#seats.get(key);
    if (displaced?.res) this.#answer(displaced);
    let seat = this.#seats.get(key);
    if (!seat) {
      seat = newSeat(key);
      this.#seats.set(key, seat);
    }
    if (!this.#covers(seat, from)) return this.#resume(seat, res, visitor, room, from, wait);
    if (from > seat.from) this.#forget(seat, from);
    this.#hold(seat, res, from);
    if (seat.events.length > 0 || wait === 0) this.#answer(seat);
    else seat.timer = setTimeout(this.#answer, wait * 1000, seat);
    return;
  }

  /** Whether the buffer holds everything after `after`: the poll is answered from it. */
  #covers(seat: Seat, after: number): boolean {
    const subscription = seat.subscription;
    return (
      seat.state === 'open' &&
      !seat.overflowed &&
      subscription !== undefined &&
      !subscription.behind &&
      seat.from <= after &&
      after <= subscription.cursor
    );
  }

  /**
   * The one resume path: a new subscription from `after` (its replay one answer's worth at
   * most), adopted once open in place of the seat's old one, whose buffered stored events it
   * replaces.
   */
  async #resume(
    seat: Seat,
    res: ServerResponse,
    visitor: Visitor,
    room: string,
    after: number,
    wait: number,
  ): Promise<void> {
    seat.state = 'opening';
    this.#dropStored(seat);
    this.#hold(seat, res, after);
    const resume = ++seat.resumes;
    let subscription: Subscription;
    seat.opening += 1;
    seat.seen ??= new WeakSet();
    try {
      subscription = await this.#chat.openSubscription(
        visitor,
        room,
        { after, replayLimit: this.#maxEvents },
        new SeatSubscriber(seat, this.#onSeatEvent),
      );
    } catch (error) {
      seat.opening -= 1;
      if (seat.opening === 0) seat.seen = undefined;
      const refused = seat.res === res;
      // Its seq-less events wait in the seat for the next poll.
      if (refused) this.#release(seat);
      this.#settle(seat);
      if (refused) throw error;
      return;
    }
    seat.opening -= 1;
    if (!this.#adopts(seat, resume)) {
      if (seat.opening === 0) seat.seen = undefined;
      subscription.close();
      this.#settle(seat);
      return;
    }
    const previous = seat.subscription;
    seat.subscription = subscription;
    seat.state = 'open';
    seat.from = after;
    seat.overflowed = false;
    // Closed only now that the new one is open: the membership never drops to zero.
    previous?.close();
    // The replay, and what came while it was read, go into the buffer.
    subscription.start();
    if (seat.opening === 0) seat.seen = undefined;
    if (seat.res !== res) this.#settle(seat);
    else if (seat.events.length > 0 || wait === 0) this.#answer(seat);
    else seat.timer = setTimeout(this.#answer, wait * 1000, seat);
  }

  /** Whether a resume that has just opened takes the seat: not if a newer poll resumes too (this one was answered) or the seat was let go. */
  #adopts(seat: Seat, resume: number): boolean {
    return seat.state !== 'gone' && this.#isOpen() && resume === seat.resumes;
  }

  /** Every seat's subscriber hands its events here (one function for all). */
  readonly #onSeatEvent = (seat: Seat, event: RoomEvent): void => this.#onRoomEvent(seat, event);

  #onRoomEvent(seat: Seat, event: RoomEvent): void {
    if (seat.state === 'gone') return;
    if ('id' in event) {
      // Only the adopted subscription's: while a resume opens, its replay brings them.
      if (seat.state !== 'open' || seat.overflowed) return;
      if (seat.stored >= this.#maxEvents) {
        seat.overflowed = true;
        this.#countOverflow();
        return;
      }
      seat.events.push(event);
      seat.stored += 1;
      seat.lastSeq = event.id;
    } else {
      if (seat.seen) {
        if (seat.seen.has(event)) return;
        seat.seen.add(event);
      }
      keep(seat.events, event);
      if (isFinal(event)) seat.ended = true;
    }
    if (seat.res && seat.state === 'open' && !this.#due.has(seat)) {
      // Events published in the same turn (a join, then members) go out in one answer, and the
      // polls a message answers (every member's) are answered in one pass.
      if (this.#due.size === 0) setImmediate(this.#answerDue);
      this.#due.add(seat);
    }
  }

  readonly #answerDue = (): void => {
    const due = [...this.#due];
    this.#due.clear();
    for (const seat of due) this.#answer(seat);
  };

  /** Answers the seat's pending poll with what the buffer holds (also `setTimeout`'s callback). */
  readonly #answer = (seat: Seat): void => {
    const res = seat.res;
    if (!res) return;
    this.#release(seat);
    // A capped answer ends at its last event; otherwise at what the subscription examined,
    // whispers between others included. A poll whose resume is still opening has examined nothing.
    let cursor = seat.after;
    if (seat.state === 'open') {
      cursor = seat.overflowed ? (seat.lastSeq ?? seat.from) : seat.subscription!.cursor;
    }
    this.#countEvents(seat.events.length);
    this.#respond(res, encodeAnswer(finalLast(seat), cursor));
    seat.events.length = 0;
    seat.stored = 0;
    seat.from = cursor;
    if (seat.ended) this.#dropSeat(seat);
    else this.#settle(seat);
  };

  /** The first poll after `kicked` or `removeRoom`: what is left, then the seat is let go. */
  #answerEnded(seat: Seat, res: ServerResponse, after: number | undefined): void {
    let cursor = after ?? 0;
    if (after !== undefined && this.#covers(seat, after)) {
      if (after > seat.from) this.#forget(seat, after);
      cursor = seat.subscription!.cursor;
    } else {
      this.#dropStored(seat);
    }
    this.#dropSeat(seat);
    this.#countEvents(seat.events.length);
    this.#respond(res, encodeAnswer(finalLast(seat), cursor));
  }

  #hold(seat: Seat, res: ServerResponse, after: number): void {
    // A pending poll holds the seat: it does not linger meanwhile.
    this.#idle.delete(seat);
    seat.res = res;
    seat.after = after;
    this.#pending += 1;
    (res as SeatResponse)[SEAT] = seat;
    res.on('close', this.#responseOnClose);
  }

  /** The seat no longer holds its poll (answered, or its client went away). */
  #release(seat: Seat): void {
    seat.res = undefined;
    clearTimeout(seat.timer);
    seat.timer = undefined;
    this.#due.delete(seat);
    this.#pending -= 1;
  }

  /** The client went away before its answer: what it would have got waits for its next poll. */
  #pollAborted(seat: Seat): void {
    if (!seat.res?.closed) return;
    this.#release(seat);
    this.#settle(seat);
  }

  /** Drops the buffered stored events up to `after` (the client had them). */
  #forget(seat: Seat, after: number): void {
    seat.events = seat.events.filter((event) => !('id' in event) || event.id > after);
    seat.stored = seat.events.filter((event) => 'id' in event).length;
    seat.from = after;
  }

  /** Drops the buffered stored events: a resume brings them from the store. */
  #dropStored(seat: Seat): void {
    if (seat.stored > 0) seat.events = seat.events.filter((event) => !('id' in event));
    seat.stored = 0;
    seat.lastSeq = undefined;
  }

  /**
   * Without a pending poll, the seat lingers, then lets go of its subscription. Lingering seats
   * wait in one queue in the order they became idle, under one timer for the first of them (a
   * timer per seat was a Timeout, a closure and its context for every connection).
   */
  #settle(seat: Seat): void {
    if (seat.state === 'gone' || seat.res) return;
    if (!seat.subscription && seat.opening === 0 && seat.events.length === 0) {
      this.#dropSeat(seat);
      return;
    }
    seat.idleSince = Date.now();
    // To the end of the queue: the queue stays in order of `idleSince`.
    this.#idle.delete(seat);
    this.#idle.add(seat);
    if (!this.#lingerTimer) this.#armLinger(this.#lingerMs);
  }

  #armLinger(ms: number): void {
    this.#lingerTimer = setTimeout(this.#letGoOfIdle, ms);
    this.#lingerTimer.unref();
  }

  /** Lets go of the seats idle for the linger, and waits for the next one's turn. */
  readonly #letGoOfIdle = (): void => {
    this.#lingerTimer = undefined;
    const now = Date.now();
    for (const seat of this.#idle) {
      const left = seat.idleSince + this.#lingerMs - now;
      if (left > 0) {
        this.#armLinger(left);
        return;
      }
      this.#dropSeat(seat);
    }
  };

  #dropSeat(seat: Seat): void {
    seat.state = 'gone';
    this.#idle.delete(seat);
    this.#due.delete(seat);
    if (this.#seats.get(seat.key) === seat) this.#seats.delete(seat.key);
    seat.subscription?.close();
    seat.subscription = undefined;
    debug('seat %s let go', seat.key);
  }

  #refuseWhileClosing(): void {
    if (!this.#isOpen()) throw new ChatError(503, SHUTTING_DOWN, { code: 'shuttingDown' });
  }
}

/**
 * A seat's subscriber: two fields and a shared method, where an `onEvent` arrow would be a
 * closure and a context per seat (and, named at run time by tsx, a property dictionary too).
 */
class SeatSubscriber {
  readonly #seat: Seat;
  readonly #deliver: (seat: Seat, event: RoomEvent) => void;

  constructor(seat: Seat, deliver: (seat: Seat, event: RoomEvent) => void) {
    this.#seat = seat;
    this.#deliver = deliver;
  }

  onEvent(event: RoomEvent): void {
    this.#deliver(this.#seat, event);
  }
}

const SEAT = Symbol('seat');

/** A poll's response, with the seat that holds it. */
interface SeatResponse extends ServerResponse {
  [SEAT]?: Seat;
}

/** The buffered events, `kicked` or `removeRoom` last. */
function finalLast(seat: Seat): RoomEvent[] {
  if (!seat.ended) return seat.events;
  return [...seat.events.filter((e) => !isFinal(e)), ...seat.events.filter(isFinal)];
}

import { canSee, type RoomEvent, type UserId } from './model.ts';

/** What a transport hands the core for one room subscription. */
export interface RoomSubscriber {
  /**
   * Each event for this visitor, in `seq` order, from `start()` on: the replay first, then the
   * live ones, none twice, whispers between two other users left out.
   */
  onEvent(event: RoomEvent): void;
  /**
   * The core ended the subscription: `kicked` or `removeRoom` has just gone through `onEvent`,
   * and nothing follows it. Not called for the transport's own `close()`.
   */
  onEnd?(): void;
}

/** What lets go of a subscription's hold on the core once it closes (the ChatService's). */
export interface SubscriptionOwner {
  release(subscription: RoomSubscription): void;
}

/** No events: what a subscription holds before any come and after they went out. */
const NONE = Object.freeze([]) as unknown as RoomEvent[];

/**
 * `held`: open (access and capacity checked, the visitor a member, live events held, the replay
 * read) but nothing sent yet; `live`: started, events flow; `closed`: for good.
 */
export type SubscriptionState = 'held' | 'live' | 'closed';

/** A room subscription, as `ChatService.open` gives it. */
export interface Subscription {
  readonly state: SubscriptionState;
  /**
   * The highest `seq` this subscription has examined: sent, or skipped as a whisper between two
   * other users. A client that resumes from it misses nothing it may see (long polling's cursor).
   */
  readonly cursor: number;
  /**
   * A replay cut short by `replayLimit` is out: no later stored event comes through this
   * subscription (it would follow a gap), so a client resumes from `cursor` with a new one.
   */
  readonly behind: boolean;
  /**
   * Sends the replay and the events held since `open`, then every live event as it comes. A
   * transport calls it once its stream is ready (SSE headers out, the ws `subscribed` frame, the
   * Socket.IO acknowledgement, a pending poll); before that it need hold nothing of its own.
   */
  start(): void;
  /** Idempotent; the member's last subscription closing starts their grace. */
  close(): void;
}

/**
 * The one subscription object behind every transport: it holds events until started, drops any
 * `seq` already sent and whispers the visitor may not see, and ends itself after a final event
 * (`kicked`, `removeRoom`): the one place that rule is written on the server.
 */
export class RoomSubscription implements Subscription {
  #state: SubscriptionState = 'held';
  #cursor: number;
  /** Live events that came before `start()` (none: the shared empty list). */
  #held: RoomEvent[] = NONE;
  /** The stored events read at open, sent before the held ones. */
  #replay: readonly RoomEvent[] = NONE;
  /** The replay may stop short of the room's newest seq (a limit). */
  #truncated = false;
  /**
   * Set once a truncated replay is out: a later stored event would come after a gap, so none is
   * sent; the cursor stays where the replay ended.
   */
  #behind = false;
  readonly room: string;
  readonly #userId: UserId;
  readonly #subscriber: RoomSubscriber;
  readonly #owner: SubscriptionOwner;
  /** Set by the owner once the visitor's membership is held: closing lets go of it. */
  member = false;

  /**
   * `owner` lets go of what the subscription holds in the core (its listener, its membership):
   * one object for every subscription, not a closure each (a classroom is mostly idle ones).
   */
  constructor(
    room: string,
    userId: UserId,
    cursor: number,
    subscriber: RoomSubscriber,
    owner: SubscriptionOwner,
  ) {
    this.room = room;
    this.#userId = userId;
    this.#cursor = cursor;
    this.#subscriber = subscriber;
    this.#owner = owner;
  }

  get userId(): UserId {
    return this.#userId;
  }

  get state(): SubscriptionState {
    return this.#state;
  }

  get cursor(): number {
    return this.#cursor;
  }

  get behind(): boolean {
    return this.#behind;
  }

  /** What the hub's listener calls: `only` narrows an event to one user (a kick). */
  receive(event: RoomEvent, only: UserId | undefined): void {
    if (this.#state === 'closed' || (only !== undefined && only !== this.#userId)) return;
    if (this.#state === 'held') {
      if (this.#held === NONE) this.#held = [];
      this.#held.push(event);
    } else this.#deliver(event);
  }

  /**
   * The replay goes before every live event held so far (overlaps are dropped by `seq`).
   * `truncated`: it may stop short of the newest seq, so nothing stored follows it here.
   */
  replayFirst(events: readonly RoomEvent[], truncated = false): void {
    if (this.#state !== 'held') return;
    this.#replay = events;
    this.#truncated = truncated;
  }

  start(): void {
    if (this.#state !== 'held') return;
    this.#state = 'live';
    const { replay, held } = this.#takeHeld();
    if (!this.#deliverAll(replay)) return;
    this.#behind = this.#truncated;
    this.#deliverAll(held);
  }

  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#takeHeld();
    this.#owner.release(this);
  }

  #takeHeld(): { replay: readonly RoomEvent[]; held: RoomEvent[] } {
    const taken = { replay: this.#replay, held: this.#held };
    this.#replay = NONE;
    this.#held = NONE;
    return taken;
  }

  /** Whether it is still open after them: a subscriber may close it on the way (a client cut off by its bound). */
  #deliverAll(events: readonly RoomEvent[]): boolean {
    for (const event of events) {
      if (this.#isClosed()) return false;
      this.#deliver(event);
    }
    return !this.#isClosed();
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #deliver(event: RoomEvent): void {
    if ('id' in event) {
      if (this.#behind) return;
      if (event.id <= this.#cursor) return;
      this.#cursor = event.id;
      if (!canSee(this.#userId, event.data)) return;
    }
    this.#subscriber.onEvent(event);
    if (isFinal(event) && !this.#isClosed()) {
      this.close();
      this.#subscriber.onEnd?.();
    }
  }
}

/** `kicked` and `removeRoom` end a subscription: nothing follows them. */
export function isFinal(event: { type: string }): boolean {
  return event.type === 'kicked' || event.type === 'removeRoom';
}

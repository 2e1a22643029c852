import type { ServerResponse } from 'node:http';
import type { Subscription } from '../../core/chat.ts';
import type { RoomEvent } from '../../core/model.ts';

/** One pending (or just answered) room poll. */
export interface RoomPoll {
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
  /**
   * `opening`: its subscription opens, the replay goes in; `pending`: the next event answers it;
   * `answered`: done (answered, or its client went away).
   */
  state: 'opening' | 'pending' | 'answered';
  /** It was pending when answered: its subscription's cursor covers what it examined. */
  wasPending: boolean;
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
export interface Seat {
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
  /** `gone` once it let go of its subscription: it takes nothing more. */
  state: 'held' | 'gone';
}

export function newSeat(key: string): Seat {
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
    state: 'held',
  };
}

/** Adds a seq-less event to a list; `members` is coalesced to the newest. */
export function keep(events: RoomEvent[], event: RoomEvent): void {
  if (event.type === 'members') {
    const older = events.findIndex((e) => e.type === 'members');
    if (older !== -1) events.splice(older, 1);
  }
  events.push(event);
}

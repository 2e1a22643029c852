import type { ServerResponse } from 'node:http';
import type { Subscription } from '../../core/chat.ts';
import type { RoomEvent } from '../../core/model.ts';

/**
 * A session's hold on one room across its polls: one core subscription, opened by a poll's
 * resume and kept while polls keep coming (and the linger after the last one), so the user stays
 * a member between polls and a poll costs no subscription of its own. Between polls the seat
 * buffers what its subscription delivers (stored events up to a bound, seq-less ones with
 * `members` coalesced), and a poll whose `after` is where the buffer starts is answered from it.
 */
export interface Seat {
  readonly key: string;
  /**
   * `opening`: a resume opens a new subscription, and the old one (if any) holds the membership
   * meanwhile; its stored events are not buffered, the new one's replay brings them. `open`: the
   * subscription is live and the buffer complete from `from`. `gone`: let go, it takes nothing
   * more.
   */
  state: 'opening' | 'open' | 'gone';
  subscription: Subscription | undefined;
  /** Resumes started: only the newest one's subscription is adopted. */
  resumes: number;
  /** Resumes in flight. */
  opening: number;
  /** While `open`: every event the visitor may see with `from < seq <= subscription.cursor` is buffered. */
  from: number;
  /** The next answer's events in arrival order: stored ones (at most one answer's worth) and seq-less ones. */
  events: RoomEvent[];
  stored: number;
  lastSeq: number | undefined;
  /** More stored events came than one answer takes: the next poll resumes from the store. */
  overflowed: boolean;
  /** `kicked` or `removeRoom` is in `events`: nothing follows it. */
  ended: boolean;
  /**
   * Seq-less events already taken while a resume is in flight: the old subscription delivers
   * them, and the new one's held events bring them again at its start. None otherwise.
   */
  seen: WeakSet<RoomEvent> | undefined;
  /** The pending poll's response (one at a time), and the `after` it asked from. */
  res: ServerResponse | undefined;
  after: number;
  /** Answers the pending poll when its `wait` is over. */
  timer: NodeJS.Timeout | undefined;
  /** When the seat's last poll ended: the linger runs from here. */
  idleSince: number;
}

export function newSeat(key: string): Seat {
  const seat: Seat = {
    key,
    state: 'opening',
    subscription: undefined,
    resumes: 0,
    opening: 0,
    from: 0,
    events: [],
    stored: 0,
    lastSeq: undefined,
    overflowed: false,
    ended: false,
    seen: undefined,
    res: undefined,
    after: 0,
    timer: undefined,
    idleSince: 0,
  };
  return seat;
}

/** Adds a seq-less event to a list; `members` is coalesced to the newest. */
export function keep(events: RoomEvent[], event: RoomEvent): void {
  if (event.type === 'members') {
    const older = events.findIndex((e) => e.type === 'members');
    if (older !== -1) events.splice(older, 1);
  }
  events.push(event);
}

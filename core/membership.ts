import { ChatError } from './errors.ts';
import type { User } from './model.ts';

/**
 * Who is in which room, across every transport at once, and the two clocks of PROTOCOL.md's
 * Membership section:
 * - a member whose last subscription closed stays a member for `memberGraceMs` (a reload is no
 *   exit), then `onExit` runs;
 * - a room with no members for `emptyRoomGraceMs` (from its creation, or its last exit) is handed
 *   to `onEmpty`; any join stops that clock.
 *
 * It only counts and keeps time; what a join or an exit means (messages, owner hand-over) is the
 * ChatService's business, through the callbacks. Members are kept in arrival order, so the first
 * is the one who has been there longest.
 */
export interface MembershipEvents {
  onJoin(room: string, user: User): void;
  onExit(room: string, user: User): void;
  onEmpty(room: string): void;
}

export interface MembershipOptions {
  memberGraceMs: number;
  emptyRoomGraceMs: number;
}

interface Member {
  subscriptions: number;
  exitTimer?: NodeJS.Timeout;
}

interface RoomMembers {
  members: Map<User, Member>;
  emptyTimer?: NodeJS.Timeout;
}

export class Membership {
  readonly #rooms = new Map<string, RoomMembers>();
  readonly #events: MembershipEvents;
  readonly #options: MembershipOptions;

  constructor(events: MembershipEvents, options: MembershipOptions) {
    this.#events = events;
    this.#options = options;
  }

  /** Starts counting a room (new, or loaded at start): its empty-room clock runs. */
  track(room: string): void {
    if (this.#rooms.has(room)) return;
    const entry: RoomMembers = { members: new Map() };
    this.#rooms.set(room, entry);
    this.#startEmptyClock(room, entry);
  }

  /** Starts the empty-room clock again for a room still empty (its removal failed). */
  rearm(room: string): void {
    const entry = this.#rooms.get(room);
    if (entry && entry.members.size === 0) this.#startEmptyClock(room, entry);
  }

  /** Forgets a removed room and stops its clocks. */
  forget(room: string): void {
    const entry = this.#rooms.get(room);
    if (!entry) return;
    clearTimeout(entry.emptyTimer);
    for (const member of entry.members.values()) clearTimeout(member.exitTimer);
    this.#rooms.delete(room);
  }

  /** Members in arrival order (longest present first). */
  members(room: string): User[] {
    return [...(this.#rooms.get(room)?.members.keys() ?? [])];
  }

  count(room: string): number {
    return this.#rooms.get(room)?.members.size ?? 0;
  }

  total(): number {
    let total = 0;
    for (const entry of this.#rooms.values()) total += entry.members.size;
    return total;
  }

  isMember(room: string, user: User): boolean {
    return this.#rooms.get(room)?.members.has(user) ?? false;
  }

  /** Whether `user` could open a subscription now without passing `max`. */
  hasRoomFor(room: string, user: User, max: number): boolean {
    return this.isMember(room, user) || this.count(room) < max;
  }

  /**
   * A subscription of `user` to `room` opened. Throws 409 when it would make the members more
   * than `max`; a member (also one inside the grace) is never refused.
   */
  open(room: string, user: User, max: number): void {
    const entry = this.#rooms.get(room);
    if (!entry) throw new ChatError(404, 'This room does not exist (any more).');
    const member = entry.members.get(user);
    if (member) {
      clearTimeout(member.exitTimer);
      member.exitTimer = undefined;
      member.subscriptions += 1;
      return;
    }
    if (entry.members.size >= max) throw new ChatError(409, 'The room is full.');
    entry.members.set(user, { subscriptions: 1 });
    clearTimeout(entry.emptyTimer);
    entry.emptyTimer = undefined;
    this.#events.onJoin(room, user);
  }

  /** A subscription of `user` to `room` closed; the last one starts the member's grace. */
  close(room: string, user: User): void {
    const member = this.#rooms.get(room)?.members.get(user);
    if (!member || member.subscriptions === 0) return;
    member.subscriptions -= 1;
    if (member.subscriptions > 0) return;
    member.exitTimer = setTimeout(() => this.remove(room, user), this.#options.memberGraceMs);
    member.exitTimer.unref();
  }

  /** Makes `user` leave `room` now, without the grace (a kick). Returns whether they were in. */
  remove(room: string, user: User): boolean {
    const entry = this.#rooms.get(room);
    const member = entry?.members.get(user);
    if (!entry || !member) return false;
    clearTimeout(member.exitTimer);
    entry.members.delete(user);
    if (entry.members.size === 0) this.#startEmptyClock(room, entry);
    this.#events.onExit(room, user);
    return true;
  }

  /** Stops every clock (server shutdown). */
  stop(): void {
    for (const room of [...this.#rooms.keys()]) this.forget(room);
  }

  #startEmptyClock(room: string, entry: RoomMembers): void {
    clearTimeout(entry.emptyTimer);
    entry.emptyTimer = setTimeout(() => this.#events.onEmpty(room), this.#options.emptyRoomGraceMs);
    entry.emptyTimer.unref();
  }
}

import { ChatError } from './errors.ts';
import type { Member, UserId } from './model.ts';

/**
 * Who is in which room, across every transport at once, and the two clocks of PROTOCOL.md's
 * Membership section:
 * - a member whose last subscription closed stays a member for `memberGraceMs` (a reload is no
 *   exit), then `onExit` runs;
 * - a room with no members for `emptyRoomGraceMs` (from its creation, or its last exit) is handed
 *   to `onEmpty`; any join stops that clock.
 *
 * It only counts and keeps time; what a join or an exit means (messages, owner hand-over) is the
 * ChatService's business, through the callbacks. Members are kept by `userId` (two users of one
 * colour are two members), in arrival order, so the first is the one who has been there longest.
 */
export interface MembershipEvents {
  onJoin(room: string, member: Member): void;
  onExit(room: string, member: Member): void;
  onEmpty(room: string): void;
}

/**
 * What the ChatService asks of membership, in one process (Membership) or shared by many through
 * Redis (SharedMembership). Counts are this process's view, for pages and stats; `open` decides
 * capacity for everyone.
 */
export interface Members {
  /** Starts counting a room (new, or loaded at start): its empty-room clock runs. */
  track(room: string): void;
  rearm(room: string): void;
  /** Forgets a removed room and stops its clocks. */
  forget(room: string): void;
  /** Members in arrival order (longest present first). */
  members(room: string): Promise<Member[]>;
  count(room: string): number;
  total(): number;
  /** Whether `userId` could open a subscription now without passing `max` (as far as seen here). */
  hasRoomFor(room: string, userId: UserId, max: number): boolean;
  /** A subscription opened: 409 when it would make the members more than `max`. */
  open(room: string, member: Member, max: number): Promise<void>;
  /** A subscription closed; the member's last one starts their grace. */
  close(room: string, userId: UserId): void;
  /** Makes `userId` leave `room` now, without the grace (a kick). Whether they were in. */
  remove(room: string, userId: UserId): Promise<boolean>;
  /** Stops every clock (server shutdown). */
  stop(): Promise<void>;
}

export interface MembershipOptions {
  memberGraceMs: number;
  emptyRoomGraceMs: number;
}

interface Presence {
  readonly member: Member;
  subscriptions: number;
  exitTimer?: NodeJS.Timeout;
}

interface RoomMembers {
  members: Map<UserId, Presence>;
  emptyTimer?: NodeJS.Timeout;
}

export class Membership implements Members {
  readonly #rooms = new Map<string, RoomMembers>();
  readonly #events: MembershipEvents;
  readonly #options: MembershipOptions;

  constructor(events: MembershipEvents, options: MembershipOptions) {
    this.#events = events;
    this.#options = options;
  }

  track(room: string): void {
    if (this.#rooms.has(room)) return;
    const entry: RoomMembers = { members: new Map() };
    this.#rooms.set(room, entry);
    this.#startEmptyClock(room, entry);
  }

  rearm(room: string): void {
    const entry = this.#rooms.get(room);
    if (entry && entry.members.size === 0) this.#startEmptyClock(room, entry);
  }

  forget(room: string): void {
    const entry = this.#rooms.get(room);
    if (!entry) return;
    clearTimeout(entry.emptyTimer);
    for (const presence of entry.members.values()) clearTimeout(presence.exitTimer);
    this.#rooms.delete(room);
  }

  async members(room: string): Promise<Member[]> {
    const entry = this.#rooms.get(room);
    return entry ? [...entry.members.values()].map((presence) => presence.member) : [];
  }

  count(room: string): number {
    return this.#rooms.get(room)?.members.size ?? 0;
  }

  total(): number {
    let total = 0;
    for (const entry of this.#rooms.values()) total += entry.members.size;
    return total;
  }

  isMember(room: string, userId: UserId): boolean {
    return this.#rooms.get(room)?.members.has(userId) ?? false;
  }

  hasRoomFor(room: string, userId: UserId, max: number): boolean {
    return this.isMember(room, userId) || this.count(room) < max;
  }

  /** A member (also one inside the grace) is never refused. */
  async open(room: string, member: Member, max: number): Promise<void> {
    const entry = this.#rooms.get(room);
    if (!entry)
      throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
    const presence = entry.members.get(member.userId);
    if (presence) {
      clearTimeout(presence.exitTimer);
      presence.exitTimer = undefined;
      presence.subscriptions += 1;
      return;
    }
    if (entry.members.size >= max)
      throw new ChatError(409, 'The room is full.', { code: 'roomFull' });
    const joined = { userId: member.userId, user: member.user };
    entry.members.set(member.userId, { member: joined, subscriptions: 1 });
    clearTimeout(entry.emptyTimer);
    entry.emptyTimer = undefined;
    this.#events.onJoin(room, joined);
  }

  /** A subscription of `userId` to `room` closed; the last one starts the member's grace. */
  close(room: string, userId: UserId): void {
    const presence = this.#rooms.get(room)?.members.get(userId);
    if (!presence || presence.subscriptions === 0) return;
    presence.subscriptions -= 1;
    if (presence.subscriptions > 0) return;
    presence.exitTimer = setTimeout(() => this.#remove(room, userId), this.#options.memberGraceMs);
    presence.exitTimer.unref();
  }

  async remove(room: string, userId: UserId): Promise<boolean> {
    return this.#remove(room, userId);
  }

  #remove(room: string, userId: UserId): boolean {
    const entry = this.#rooms.get(room);
    const presence = entry?.members.get(userId);
    if (!entry || !presence) return false;
    clearTimeout(presence.exitTimer);
    entry.members.delete(userId);
    if (entry.members.size === 0) this.#startEmptyClock(room, entry);
    this.#events.onExit(room, presence.member);
    return true;
  }

  async stop(): Promise<void> {
    for (const room of [...this.#rooms.keys()]) this.forget(room);
  }

  #startEmptyClock(room: string, entry: RoomMembers): void {
    clearTimeout(entry.emptyTimer);
    entry.emptyTimer = setTimeout(() => this.#events.onEmpty(room), this.#options.emptyRoomGraceMs);
    entry.emptyTimer.unref();
  }
}

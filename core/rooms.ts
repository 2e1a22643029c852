import { ChatError } from './errors.ts';
import type { Visitor } from './identity.ts';
import { LIMITS, type Room, type RoomPage, type StoredRoom } from './model.ts';
import * as validate from './validate.ts';

/**
 * Every room, kept in memory so that access checks and counts need no store read, in creation
 * order (the list's paging cursor), and who may do what in each: the access rules of PROTOCOL.md
 * (kicked, password, owner), each thrown as the ChatError the edges show.
 */
export class RoomDirectory {
  readonly #rooms = new Map<string, StoredRoom>();
  /** Each room's place in creation order, and the next place. */
  readonly #ranks = new Map<string, number>();
  #nextRank = 1;
  readonly #memberCount: (room: string) => number;

  constructor(memberCount: (room: string) => number) {
    this.#memberCount = memberCount;
  }

  add(room: StoredRoom): void {
    this.#rooms.set(room.id, room);
    this.#ranks.set(room.id, this.#nextRank++);
  }

  /** Whether the room was here. */
  delete(id: string): boolean {
    this.#ranks.delete(id);
    return this.#rooms.delete(id);
  }

  get(id: string): StoredRoom | undefined {
    return this.#rooms.get(id);
  }

  has(id: string): boolean {
    return this.#rooms.has(id);
  }

  /** How many rooms `visitor` owns now. */
  ownedBy(visitor: Visitor): number {
    let owned = 0;
    for (const room of this.#rooms.values()) if (isOwner(room, visitor)) owned += 1;
    return owned;
  }

  /**
   * One page of the room list, newest first (PROTOCOL.md, `GET /api/rooms`): at most `limit` rooms
   * (1 to 200, default 100) created before the cursor `before`, the number of rooms in all, and
   * `next`, the `before` of the following page (absent on the last). Only the page becomes views.
   * 400 for a bad `limit` or `before`.
   */
  page(query: { limit?: unknown; before?: unknown }): RoomPage {
    const limit = validate.limit(query.limit, LIMITS.roomsPageMax, LIMITS.roomsPageDefault);
    const before = validate.cursor(query.before, 'before') ?? Number.POSITIVE_INFINITY;
    const all = [...this.#rooms.values()];
    const rooms: Room[] = [];
    let last = before;
    for (let i = all.length - 1; i >= 0; i -= 1) {
      const rank = this.#ranks.get(all[i]!.id)!;
      if (rank >= before) continue;
      if (rooms.length === limit) return { rooms, total: all.length, next: String(last) };
      rooms.push(this.view(all[i]!));
      last = rank;
    }
    return { rooms, total: all.length };
  }

  /** The room as PROTOCOL.md shows it: no password hash, no kick list. */
  view(room: StoredRoom): Room {
    return {
      id: room.id,
      title: room.title,
      max: room.max,
      owner: room.owner,
      ownerId: room.ownerId,
      hasPassword: room.passwordHash !== null,
      members: this.#memberCount(room.id),
      createdAt: room.createdAt,
    };
  }

  /** The room, or 400 for a malformed id and 404 for one that does not exist (any more). */
  find(id: unknown): StoredRoom {
    const room = this.#rooms.get(validate.roomId(id));
    if (!room)
      throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
    return room;
  }

  /** The room, if this visitor may read and post in it now (404, 403). */
  access(visitor: Visitor, id: unknown): StoredRoom {
    const room = this.find(id);
    refuseKicked(room, visitor);
    if (!granted(room, visitor)) {
      throw new ChatError(403, 'This room needs its password: enter it first.', {
        code: 'needsPassword',
      });
    }
    return room;
  }
}

/** Ownership is by `userId`: a visitor of the owner's colour is someone else. */
export function isOwner(room: StoredRoom, visitor: Visitor): boolean {
  return room.ownerId !== null && room.ownerId === visitor.userId;
}

/** Whether the visitor may enter without a password (none, the owner, or entered before). */
export function granted(room: StoredRoom, visitor: Visitor): boolean {
  return room.passwordHash === null || isOwner(room, visitor) || visitor.granted.includes(room.id);
}

export function refuseKicked(room: StoredRoom, visitor: Visitor): void {
  if (room.kicked.includes(visitor.userId)) {
    throw new ChatError(403, 'You were removed from this room by its owner.', { code: 'kicked' });
  }
}

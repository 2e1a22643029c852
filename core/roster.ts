import { ChatError } from './errors.ts';
import type { Hub } from './hub.ts';
import { logError } from './log.ts';
import type { Members } from './membership.ts';
import { type Member, type StoredRoom, SYSTEM_USER, type SystemEventType } from './model.ts';
import { type RoomLog, SYSTEM_TEXT } from './room-log.ts';
import type { RoomDirectory } from './rooms.ts';
import type { Store } from './store/store.ts';

/** While members keep coming and going, a room's `members` event goes out at most this often. */
const MEMBERS_INTERVAL_MS = 100;

export interface RosterParts {
  store: Store;
  hub: Hub;
  log: RoomLog;
  rooms: RoomDirectory;
  membership: () => Members;
}

/**
 * What a join or an exit says in a room, once Membership has decided it: the `join`, `exit` and
 * `owner` messages, the owner hand-over, and the `members` lists (with the lobby's `roomUpdate`),
 * each queued in the room's order.
 */
export class Roster {
  readonly #parts: RosterParts;
  /**
   * Each member's join message as it is stored, then whether it was: an exit is recorded only
   * after a stored join. A settled join keeps a boolean, not its promise (a member is mostly idle).
   */
  readonly #joins = new Map<string, Promise<boolean> | boolean>();
  /** Rooms whose `members` events are held back for a moment, and whether a change came since. */
  readonly #membersHeld = new Map<string, { changed: boolean; timer: NodeJS.Timeout }>();

  constructor(parts: RosterParts) {
    this.#parts = parts;
  }

  joined(id: string, member: Member): void {
    const stored = this.#system(id, 'join', member).then(
      async () => {
        // A room of v1 has no owner (its owner was a colour): its first member becomes it.
        const room = this.#parts.rooms.get(id);
        if (room && room.ownerId === null && (await this.#isMember(id, member))) {
          await this.#handOver(room, member);
        }
        return true;
      },
      (error) => {
        ignoreRemoved('a join', error);
        return false;
      },
    );
    const key = memberKey(id, member.userId);
    this.#joins.set(key, stored);
    void stored.then((wasStored) => {
      if (this.#joins.get(key) === stored) this.#joins.set(key, wasStored);
      this.#membersChanged(id);
    });
  }

  left(id: string, member: Member): void {
    const key = memberKey(id, member.userId);
    // A join recorded by another process (or before this one started) was stored.
    const joined = this.#joins.get(key) ?? true;
    this.#joins.delete(key);
    const task = async () => {
      // A join the store never took (an outage) gets no exit either.
      if (await joined) await this.#system(id, 'exit', member);
      const room = this.#parts.rooms.get(id);
      const heir = (await this.#parts.membership().members(id))[0];
      if (room && room.ownerId === member.userId && heir !== undefined) {
        await this.#handOver(room, heir);
      }
      this.#membersChanged(id);
    };
    task().catch((error) => ignoreRemoved('an exit', error));
  }

  /** A removed room: nothing more is said in it. */
  forget(id: string): void {
    clearTimeout(this.#membersHeld.get(id)?.timer);
    this.#membersHeld.delete(id);
    for (const key of this.#joins.keys()) if (key.startsWith(`${id}\n`)) this.#joins.delete(key);
  }

  stop(): void {
    for (const held of this.#membersHeld.values()) clearTimeout(held.timer);
    this.#membersHeld.clear();
  }

  /** Makes `heir` the owner: in the store first, then here, then the `owner` message. */
  async #handOver(room: StoredRoom, heir: Member): Promise<void> {
    await this.#parts.store.setOwner(room.id, { owner: heir.user, ownerId: heir.userId });
    room.owner = heir.user;
    room.ownerId = heir.userId;
    this.#parts.hub.publishDirectory({ op: 'put', room });
    await this.#system(room.id, 'owner', heir);
  }

  async #isMember(id: string, member: Member): Promise<boolean> {
    const members = await this.#parts.membership().members(id);
    return members.some((present) => present.userId === member.userId);
  }

  #system(room: string, type: SystemEventType, member: Member) {
    const chat = `${member.user}${SYSTEM_TEXT[type]}`;
    return this.#parts.log.append(type, { room, user: SYSTEM_USER, kind: 'system', chat });
  }

  /**
   * `members` (and the lobby's `roomUpdate`) after a join or an exit, queued behind it in the
   * room's order: at once, then at most one per MEMBERS_INTERVAL_MS while members keep coming
   * and going, carrying the newest list. A thousand users joining at once then cost a few dozen
   * lists to everyone instead of a thousand lists of up to a thousand colours to each of up to a
   * thousand members (gigabytes), and the list a member sees is never stale for long.
   */
  #membersChanged(room: string): void {
    const held = this.#membersHeld.get(room);
    if (held) {
      held.changed = true;
      return;
    }
    this.#parts.log
      .enqueue(room, async () => this.#publishMembers(room))
      .catch((error) => ignoreRemoved('the members', error));
    const hold = {
      changed: false,
      timer: setTimeout(() => {
        if (this.#membersHeld.get(room) === hold) this.#membersHeld.delete(room);
        if (hold.changed) this.#membersChanged(room);
      }, MEMBERS_INTERVAL_MS),
    };
    hold.timer.unref();
    this.#membersHeld.set(room, hold);
  }

  async #publishMembers(id: string): Promise<void> {
    const { rooms, log, hub } = this.#parts;
    if (!rooms.get(id)) return;
    const members = await this.#parts.membership().members(id);
    const room = rooms.get(id);
    if (!room) return;
    log.publishNow(id, { type: 'members', data: { members, ownerId: room.ownerId } });
    hub.publishLobby({ type: 'roomUpdate', data: rooms.view(room) });
  }
}

function memberKey(room: string, userId: string): string {
  return `${room}\n${userId}`;
}

function ignoreRemoved(what: string, error: unknown): void {
  // The room may be removed while its join or exit is queued: nothing is left to tell. A
  // ChatError (503: the store is unreachable) has already been said to whoever asked.
  if (error instanceof ChatError) return;
  logError(`recording ${what}`, error);
}

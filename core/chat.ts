import { randomBytes } from 'node:crypto';
import { ChatError } from './errors.ts';
import type { GifFiles } from './gifs.ts';
import { type Hub, LocalHub } from './hub.ts';
import { userOf } from './identity.ts';
import { Limits } from './limits.ts';
import { logError, logger } from './log.ts';
import { Membership } from './membership.ts';
import {
  canSee,
  LIMITS,
  type LobbyEvent,
  type Member,
  type Message,
  type MessageDraft,
  type Room,
  type RoomEvent,
  type RoomPage,
  type StoredRoom,
  SYSTEM_USER,
  type SystemEventType,
  USER_ID_PATTERN,
  type User,
  type UserId,
} from './model.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import type { Store } from './store/store.ts';
import * as validate from './validate.ts';

const debug = logger('chat');

/**
 * Who is asking: the session's public `userId`, its colour and the password rooms this session
 * entered. Built by the edges from the session; the core never sees a cookie.
 */
export interface Visitor {
  /**
   * Who the visitor is (PROTOCOL.md, Identity): random, public, at least 96 bits. About 3,240
   * colours exist, so two visitors often share one; everything per user is keyed by this.
   */
  userId: UserId;
  /** How the visitor is shown: `new ColorHash().hex(userId)`. */
  user: User;
  granted: readonly string[];
}

/** A live subscription; `close` is idempotent. */
export interface Subscription {
  /**
   * The highest `seq` this subscription has examined: sent, or skipped as a whisper between two
   * other users. A client that resumes from it misses nothing it may see (long polling's cursor).
   */
  readonly cursor: number;
  close(): void;
}

export interface SubscribeOptions {
  /** Send every stored message with `seq > after` first, then the live ones. */
  after?: number;
}

/** What the chat page needs to know before it renders. */
export type PageAccess = 'chat' | 'password';

export interface ChatOptions {
  store: Store;
  gifs: GifFiles;
  /** How long a room may stay empty before it is removed (`--empty-room-grace`). */
  emptyRoomGraceMs: number;
  /** How long a member may be without subscriptions before they exit (a reload is no exit). */
  memberGraceMs?: number;
  hub?: Hub;
  /** The per-session limits (PROTOCOL.md, Limits), checked here for every transport; none if absent. */
  limits?: Limits;
}

const HISTORY_PAGE = 500;
/** While members keep coming and going, a room's `members` event goes out at most this often. */
const MEMBERS_INTERVAL_MS = 100;
/** Stored events kept per room for replays that start among them. */
const RECENT_EVENTS = 256;

/**
 * The chat: the only door transports use. It validates every input, decides access, appends
 * messages one room at a time (so `seq` order is publish order on every transport), runs
 * membership and owner hand-over, and serves every subscription through one resume path.
 * Errors are ChatError(status, sentence).
 */
export class ChatService {
  readonly store: Store;
  readonly gifs: GifFiles;
  readonly #hub: Hub;
  readonly #limits: Limits;
  readonly #membership: Membership;
  /** Every room, kept in memory: access checks and counts need no store read. */
  readonly #rooms = new Map<string, StoredRoom>();
  /** Each room's place in creation order (the list's paging cursor), and the next place. */
  readonly #ranks = new Map<string, number>();
  #nextRank = 1;
  /** Each room's highest seq, as appended: where a subscription without `after` starts. */
  readonly #lastSeqs = new Map<string, number>();
  /**
   * Each room's newest stored events since this process started, oldest first, without a gap up
   * to its last seq: the very objects live subscribers got. A replay that starts among them (a
   * long poll, a reconnect) reads no store and hands transports events they have already encoded.
   */
  readonly #recent = new Map<string, RoomEvent[]>();
  /** Each member's join message as it is stored: an exit is recorded only after a stored join. */
  readonly #joins = new Map<string, Promise<boolean>>();
  /** The tail of each room's append queue. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Rooms whose `members` events are held back for a moment, and whether a change came since. */
  readonly #membersHeld = new Map<string, { changed: boolean; timer: NodeJS.Timeout }>();

  private constructor(options: ChatOptions) {
    this.store = options.store;
    this.gifs = options.gifs;
    this.#hub = options.hub ?? new LocalHub((error) => logError('subscriber failed', error));
    this.#limits = options.limits ?? Limits.off();
    this.#membership = new Membership(
      {
        onJoin: (room, user) => this.#onJoin(room, user),
        onExit: (room, user) => this.#onExit(room, user),
        onEmpty: (room) => {
          debug('room %s stayed empty; removing it', room);
          this.#removeRoom(room).catch((error) => {
            // The store failed (a database outage): try again after another grace.
            if (!(error instanceof ChatError)) logError('removing an empty room', error);
            this.#membership.rearm(room);
          });
        },
      },
      { memberGraceMs: options.memberGraceMs ?? 2000, emptyRoomGraceMs: options.emptyRoomGraceMs },
    );
  }

  /** Loads the stored rooms; each starts its empty-room clock, as nobody is in it yet. */
  static async open(options: ChatOptions): Promise<ChatService> {
    const chat = new ChatService(options);
    for (const room of await options.store.listRooms()) {
      // v1 kicked colours, and a colour names nobody: those kicks lapse (README, Identity).
      room.kicked = room.kicked.filter((userId) => USER_ID_PATTERN.test(userId));
      chat.#rooms.set(room.id, room);
      chat.#ranks.set(room.id, chat.#nextRank++);
      chat.#lastSeqs.set(room.id, await options.store.lastSeq(room.id));
      chat.#membership.track(room.id);
    }
    return chat;
  }

  // ---- rooms ------------------------------------------------------------------------------

  /**
   * One page of the room list, newest first (PROTOCOL.md, `GET /api/rooms`): at most `limit` rooms
   * (1 to 200, default 100) created before the cursor `before`, the number of rooms in all, and
   * `next`, the `before` of the following page (absent on the last). Only the page becomes views.
   * 400 for a bad `limit` or `before`.
   */
  listRooms(query: { limit?: unknown; before?: unknown } = {}): RoomPage {
    const limit = validate.limit(query.limit, LIMITS.roomsPageMax, LIMITS.roomsPageDefault);
    const before = validate.cursor(query.before, 'before') ?? Number.POSITIVE_INFINITY;
    const all = [...this.#rooms.values()];
    const rooms: Room[] = [];
    let last = before;
    for (let i = all.length - 1; i >= 0; i -= 1) {
      const rank = this.#ranks.get(all[i]!.id)!;
      if (rank >= before) continue;
      if (rooms.length === limit) return { rooms, total: all.length, next: String(last) };
      rooms.push(this.#view(all[i]!));
      last = rank;
    }
    return { rooms, total: all.length };
  }

  getRoom(id: string): Room {
    return this.#view(this.#room(id));
  }

  async createRoom(visitor: Visitor, body: unknown): Promise<Room> {
    const input = validate.roomInput(body);
    const owned = [...this.#rooms.values()].filter((room) => isOwner(room, visitor));
    this.#limits.createRoom(visitor, owned.length);
    const room: StoredRoom = {
      id: randomBytes(9).toString('base64url'),
      title: input.title,
      max: input.max,
      owner: visitor.user,
      ownerId: visitor.userId,
      passwordHash: input.password === null ? null : await hashPassword(input.password),
      kicked: [],
      createdAt: new Date().toISOString(),
    };
    await this.store.createRoom(room);
    this.#rooms.set(room.id, room);
    this.#ranks.set(room.id, this.#nextRank++);
    this.#lastSeqs.set(room.id, 0);
    this.#membership.track(room.id);
    const view = this.#view(room);
    this.#hub.publishLobby({ type: 'newRoom', data: view });
    return view;
  }

  /**
   * Checks a room's password; the edge then keeps the grant in the session. `address` (the
   * client's) counts the attempt against its network's limit too.
   */
  async enter(visitor: Visitor, id: string, body: unknown, address?: string): Promise<void> {
    const room = this.#room(id);
    this.#refuseKicked(room, visitor);
    if (room.passwordHash === null || room.ownerId === visitor.userId) return;
    this.#limits.password(visitor, room.id, address);
    const fields =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const password = validate.password(fields.password);
    if (password === null || !(await verifyPassword(password, room.passwordHash))) {
      throw new ChatError(403, 'The password is wrong.');
    }
  }

  /** Whether the chat page can open, or must ask for the password first. */
  pageAccess(visitor: Visitor, id: string): PageAccess {
    const room = this.#room(id);
    this.#refuseKicked(room, visitor);
    if (!this.#granted(room, visitor)) return 'password';
    if (!this.#membership.hasRoomFor(room.id, visitor.userId, room.max)) {
      throw new ChatError(409, 'The room is full.');
    }
    return 'chat';
  }

  async removeRoom(visitor: Visitor, id: string): Promise<void> {
    const room = this.#room(id);
    if (!isOwner(room, visitor)) {
      throw new ChatError(403, 'Only the owner of the room can remove it.');
    }
    await this.#removeRoom(room.id);
  }

  async kick(visitor: Visitor, id: string, body: unknown): Promise<void> {
    const room = this.#room(id);
    if (!isOwner(room, visitor)) throw new ChatError(403, 'Only the owner can kick a member.');
    const fields =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const target = validate.userId(fields.userId, 'userId');
    if (target === room.ownerId) throw new ChatError(400, 'The owner cannot kick themselves.');
    if (!room.kicked.includes(target)) {
      await this.store.addKicked(room.id, target);
      room.kicked.push(target);
    }
    await this.#enqueue(room.id, async () => {
      this.#hub.publishRoom(room.id, { type: 'kicked', data: { id: room.id } }, target);
    });
    // A kicked member exits at once, without the grace.
    this.#membership.remove(room.id, target);
  }

  // ---- messages ---------------------------------------------------------------------------

  async post(visitor: Visitor, id: string, body: unknown): Promise<Message> {
    const room = this.#access(visitor, id);
    const input = validate.chatInput(body);
    this.#limits.post(visitor);
    const draft: MessageDraft = {
      room: room.id,
      user: visitor.user,
      userId: visitor.userId,
      kind: 'chat',
      chat: input.chat,
    };
    if (input.toId !== undefined) {
      draft.toId = input.toId;
      draft.to = userOf(input.toId);
    }
    return this.#append('chat', draft);
  }

  /** Adopts an uploaded file (checked by its bytes) as a GIF message. */
  async postGif(visitor: Visitor, id: string, uploadPath: string): Promise<Message> {
    let room: StoredRoom;
    try {
      room = this.#access(visitor, id);
      this.#limits.post(visitor);
    } catch (error) {
      await this.gifs.discard(uploadPath);
      throw error;
    }
    const gif = await this.gifs.adopt(uploadPath);
    try {
      const { user, userId } = visitor;
      return await this.#append('chat', { room: room.id, user, userId, kind: 'gif', gif });
    } catch (error) {
      await this.gifs.remove([gif]);
      throw error;
    }
  }

  /** The room's newest seq, for a visitor who may read it (404, 403 otherwise). */
  latestSeq(visitor: Visitor, id: string): number {
    const room = this.#access(visitor, id);
    return this.#lastSeqs.get(room.id) ?? 0;
  }

  /** Throws 404 or 403 unless the visitor may read and post in the room now. */
  assertAccess(visitor: Visitor, id: string): void {
    this.#access(visitor, id);
  }

  /** Stored messages with `seq > after` that the visitor may see, oldest first. */
  async history(visitor: Visitor, id: string, query: { after?: unknown; limit?: unknown }) {
    const room = this.#access(visitor, id);
    const after = validate.cursor(query.after) ?? 0;
    const limit = validate.limit(query.limit);
    const visible: Message[] = [];
    let cursor = after;
    while (visible.length < limit) {
      const page = await this.store.messagesAfter(room.id, cursor, limit);
      for (const message of page) {
        if (canSee(visitor.userId, message) && visible.length < limit) visible.push(message);
      }
      if (page.length < limit) break;
      cursor = page.at(-1)!.seq;
    }
    return visible;
  }

  // ---- subscriptions ----------------------------------------------------------------------

  /**
   * The one resume path of every transport. Checks access (404, 403) and capacity (409) before
   * anything is sent. Then registers the live listener and holds its events, sends the stored
   * messages with `seq > after` the visitor may see, and releases the held events, dropping any
   * `seq` already sent: no gap, no duplicate. Resolves once the subscription is live.
   *
   * After `kicked` or `removeRoom` the subscription is closed by the core; the transport ends its
   * stream.
   */
  async subscribe(
    visitor: Visitor,
    id: string,
    options: SubscribeOptions,
    listener: (event: RoomEvent) => void,
  ): Promise<Subscription> {
    const room = this.#access(visitor, id);
    const { userId } = visitor;
    let held: RoomEvent[] | null = options.after === undefined ? null : [];
    // Without `after`, the subscription starts at the newest seq: only what happens after it.
    let cursor = options.after ?? this.#lastSeqs.get(room.id) ?? 0;
    let closed = false;
    let member = false;

    const deliver = (event: RoomEvent) => {
      if ('id' in event) {
        if (event.id <= cursor) return;
        cursor = event.id;
        if (!canSee(userId, event.data)) return;
      }
      listener(event);
      if (event.type === 'kicked' || event.type === 'removeRoom') subscription.close();
    };
    const unsubscribe = this.#hub.subscribeRoom(room.id, (event, only) => {
      if (closed || (only !== undefined && only !== userId)) return;
      if (held) held.push(event);
      else deliver(event);
    });
    const subscription: Subscription = {
      get cursor() {
        return cursor;
      },
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        if (member) this.#membership.close(room.id, userId);
      },
    };

    try {
      this.#membership.open(room.id, visitor, room.max);
      member = true;
    } catch (error) {
      subscription.close();
      throw error;
    }

    if (options.after !== undefined) {
      const recent = this.#recentAfter(room.id, cursor);
      if (recent) {
        for (const event of recent) {
          if (closed) return subscription;
          deliver(event);
        }
      } else {
        try {
          let page: Message[];
          do {
            page = await this.store.messagesAfter(room.id, cursor, HISTORY_PAGE);
            for (const message of page) {
              if (closed) return subscription;
              deliver(storedEvent(message));
            }
          } while (page.length === HISTORY_PAGE);
        } catch (error) {
          subscription.close();
          throw error;
        }
      }
      const pending: RoomEvent[] = held ?? [];
      held = null;
      for (const event of pending) {
        if (closed) break;
        deliver(event);
      }
    }
    return subscription;
  }

  /** The lobby stream: no session, no cursor (a reconnecting client reads the room list). */
  subscribeLobby(listener: (event: LobbyEvent) => void): { close(): void } {
    return { close: this.#hub.subscribeLobby(listener) };
  }

  /** Members now, across all rooms (for /api/stats). */
  memberCount(): number {
    return this.#membership.total();
  }

  async close(): Promise<void> {
    this.#membership.stop();
    for (const held of this.#membersHeld.values()) clearTimeout(held.timer);
    this.#membersHeld.clear();
    await Promise.allSettled([...this.#queues.values()]);
    await this.store.close();
  }

  // ---- inside -----------------------------------------------------------------------------

  #view(room: StoredRoom): Room {
    return {
      id: room.id,
      title: room.title,
      max: room.max,
      owner: room.owner,
      ownerId: room.ownerId,
      hasPassword: room.passwordHash !== null,
      members: this.#membership.count(room.id),
      createdAt: room.createdAt,
    };
  }

  #room(id: unknown): StoredRoom {
    const room = this.#rooms.get(validate.roomId(id));
    if (!room) throw new ChatError(404, 'This room does not exist (any more).');
    return room;
  }

  #granted(room: StoredRoom, visitor: Visitor): boolean {
    return (
      room.passwordHash === null || isOwner(room, visitor) || visitor.granted.includes(room.id)
    );
  }

  #refuseKicked(room: StoredRoom, visitor: Visitor): void {
    if (room.kicked.includes(visitor.userId)) {
      throw new ChatError(403, 'You were removed from this room by its owner.');
    }
  }

  /** The room, if this visitor may read and post in it now (404, 403). */
  #access(visitor: Visitor, id: unknown): StoredRoom {
    const room = this.#room(id);
    this.#refuseKicked(room, visitor);
    if (!this.#granted(room, visitor)) {
      throw new ChatError(403, 'This room needs its password: enter it first.');
    }
    return room;
  }

  /** Runs `task` after every earlier task of the room: one order per room. */
  #enqueue<T>(room: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(room) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.#queues.set(room, tail);
    tail.then(() => {
      if (this.#queues.get(room) === tail) this.#queues.delete(room);
    });
    return result;
  }

  /** Stores a message and publishes its event, in the room's order. */
  #append(type: 'chat' | SystemEventType, draft: MessageDraft): Promise<Message> {
    return this.#enqueue(draft.room, async () => {
      if (!this.#rooms.has(draft.room)) {
        throw new ChatError(404, 'This room does not exist (any more).');
      }
      const message = await this.store.appendMessage(draft);
      const event: RoomEvent = { type, id: message.seq, data: message };
      this.#remember(draft.room, event);
      this.#lastSeqs.set(draft.room, message.seq);
      this.#hub.publishRoom(draft.room, event);
      return message;
    });
  }

  /** Keeps a stored event among the room's recent ones (see `#recent`). */
  #remember(room: string, event: RoomEvent & { id: number }): void {
    let recent = this.#recent.get(room);
    const last = recent?.at(-1) as { id: number } | undefined;
    // Only a gapless run is of use: start again if one was missed (it cannot, but never trust it).
    if (!recent || (last && last.id !== event.id - 1)) {
      recent = [];
      this.#recent.set(room, recent);
    }
    recent.push(event);
    if (recent.length > RECENT_EVENTS) recent.splice(0, recent.length - RECENT_EVENTS);
  }

  /** The stored events with `seq > after`, when the recent ones reach back that far; else null. */
  #recentAfter(room: string, after: number): readonly RoomEvent[] | null {
    if (after >= (this.#lastSeqs.get(room) ?? 0)) return [];
    const recent = this.#recent.get(room);
    const first = (recent?.[0] as { id: number } | undefined)?.id;
    if (!recent || first === undefined || first > after + 1) return null;
    return recent.slice(after + 1 - first);
  }

  #system(room: string, type: SystemEventType, member: Member): Promise<Message> {
    const chat = `${member.user}${SYSTEM_TEXT[type]}`;
    return this.#append(type, { room, user: SYSTEM_USER, kind: 'system', chat });
  }

  #publishMembers(id: string): void {
    const room = this.#rooms.get(id);
    if (!room) return;
    this.#hub.publishRoom(id, {
      type: 'members',
      data: { members: this.#membership.members(id), ownerId: room.ownerId },
    });
    this.#hub.publishLobby({ type: 'roomUpdate', data: this.#view(room) });
  }

  #onJoin(id: string, member: Member): void {
    const stored = this.#system(id, 'join', member).then(
      async () => {
        // A room of v1 has no owner (its owner was a colour): its first member becomes it.
        const room = this.#rooms.get(id);
        if (room && room.ownerId === null && this.#membership.isMember(id, member.userId)) {
          await this.#handOver(room, member);
        }
        return true;
      },
      (error) => {
        this.#ignoreRemoved('a join', error);
        return false;
      },
    );
    this.#joins.set(memberKey(id, member.userId), stored);
    void stored.then(() => this.#membersChanged(id));
  }

  #onExit(id: string, member: Member): void {
    const key = memberKey(id, member.userId);
    const joined = this.#joins.get(key) ?? Promise.resolve(false);
    this.#joins.delete(key);
    const task = async () => {
      // A join the store never took (an outage) gets no exit either.
      if (await joined) await this.#system(id, 'exit', member);
      const room = this.#rooms.get(id);
      const heir = this.#membership.members(id)[0];
      if (room && room.ownerId === member.userId && heir !== undefined) {
        await this.#handOver(room, heir);
      }
      this.#membersChanged(id);
    };
    task().catch((error) => this.#ignoreRemoved('an exit', error));
  }

  /** Makes `heir` the owner: in the store first, then here, then the `owner` message. */
  async #handOver(room: StoredRoom, heir: Member): Promise<void> {
    await this.store.setOwner(room.id, { owner: heir.user, ownerId: heir.userId });
    room.owner = heir.user;
    room.ownerId = heir.userId;
    await this.#system(room.id, 'owner', heir);
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
    this.#enqueue(room, async () => this.#publishMembers(room)).catch((error) =>
      this.#ignoreRemoved('the members', error),
    );
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

  #ignoreRemoved(what: string, error: unknown): void {
    // The room may be removed while its join or exit is queued: nothing is left to tell. A
    // ChatError (503: the store is unreachable) has already been said to whoever asked.
    if (error instanceof ChatError) return;
    logError(`recording ${what}`, error);
  }

  /** The store first: if it fails (503), the room stays, in memory as in the store. */
  async #removeRoom(id: string): Promise<void> {
    if (!this.#rooms.has(id)) return;
    const removed = await this.#enqueue(id, () => this.store.removeRoom(id));
    if (!this.#rooms.delete(id)) return;
    this.#ranks.delete(id);
    this.#lastSeqs.delete(id);
    this.#recent.delete(id);
    this.#membership.forget(id);
    clearTimeout(this.#membersHeld.get(id)?.timer);
    this.#membersHeld.delete(id);
    for (const key of this.#joins.keys()) if (key.startsWith(`${id}\n`)) this.#joins.delete(key);
    const event = { type: 'removeRoom', data: { id } } as const;
    this.#hub.publishRoom(id, event);
    this.#hub.publishLobby(event);
    if (removed) await this.gifs.remove(removed.gifs);
  }
}

function memberKey(room: string, userId: UserId): string {
  return `${room}\n${userId}`;
}

/** Ownership is by `userId`: a visitor of the owner's colour is someone else. */
function isOwner(room: StoredRoom, visitor: Visitor): boolean {
  return room.ownerId !== null && room.ownerId === visitor.userId;
}

/** The text of each system message after the user it names; its event is read back from it. */
const SYSTEM_TEXT = {
  join: ' joined',
  exit: ' left',
  owner: ' is now the owner',
} as const satisfies Record<SystemEventType, string>;

/** The event a stored message is sent as, on replay. */
function storedEvent(message: Message): RoomEvent {
  let type: 'chat' | SystemEventType = 'chat';
  if (message.kind === 'system') {
    const text = message.chat ?? '';
    for (const [name, suffix] of Object.entries(SYSTEM_TEXT)) {
      if (text.endsWith(suffix)) type = name as SystemEventType;
    }
  }
  return { type, id: message.seq, data: message };
}

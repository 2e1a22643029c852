import { randomBytes } from 'node:crypto';
import { ChatError } from './errors.ts';
import type { GifFiles } from './gifs.ts';
import { type DirectoryChange, type Hub, LocalHub } from './hub.ts';
import { userOf, type Visitor } from './identity.ts';
import { Limits } from './limits.ts';
import { logError, logger } from './log.ts';
import { type Members, Membership, type MembershipEvents } from './membership.ts';
import {
  canSee,
  type LobbyEvent,
  type Message,
  type MessageDraft,
  type Room,
  type RoomEvent,
  type RoomPage,
  type StoredRoom,
  USER_ID_PATTERN,
} from './model.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { RedisHub } from './redis/hub.ts';
import { SharedMembership } from './redis/presence.ts';
import type { SharedRedis } from './redis/shared.ts';
import { RoomLog } from './room-log.ts';
import { granted, isOwner, RoomDirectory, refuseKicked } from './rooms.ts';
import { Roster } from './roster.ts';
import type { Store } from './store/store.ts';
import {
  type RoomSubscriber,
  RoomSubscription,
  type Subscription,
  type SubscriptionOwner,
} from './subscription.ts';
import * as validate from './validate.ts';

export type { Visitor } from './identity.ts';
export type { RoomSubscriber, Subscription, SubscriptionState } from './subscription.ts';

const debug = logger('chat');

export interface SubscribeOptions {
  /** Send every stored message with `seq > after` first, then the live ones. */
  after?: number;
  /**
   * At most this many stored messages in the replay, for a transport that answers in pages and
   * takes the rest on its next request (long polling): no replay is read further than it sends.
   */
  replayLimit?: number;
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
  /**
   * `--redis-url`: rooms shared with every process of the same Redis (PROTOCOL.md, Many
   * processes): the hub, membership and the room list go through it.
   */
  redis?: SharedRedis;
  /** The per-session limits (PROTOCOL.md, Limits), checked here for every transport; none if absent. */
  limits?: Limits;
}

/**
 * The chat: the only door transports and the web app use. It validates every input, decides
 * access (RoomDirectory), appends through the ordered room log (RoomLog: one order per room),
 * counts members across transports (Membership) and says what their joins and exits mean
 * (Roster), and serves every subscription through one resume path. Errors are
 * ChatError(status, sentence).
 */
export class ChatService {
  readonly store: Store;
  readonly gifs: GifFiles;
  readonly #hub: Hub;
  readonly #limits: Limits;
  readonly #log: RoomLog;
  readonly #rooms: RoomDirectory;
  readonly #membership: Members;
  readonly #roster: Roster;
  /** Lets go of every closed subscription's listener and membership. */
  readonly #owner: SubscriptionOwner = {
    release: (subscription) => {
      this.#log.unlisten(subscription.room, subscription);
      if (subscription.member) this.#membership.close(subscription.room, subscription.userId);
    },
  };
  /** Whether other processes share the rooms (`--redis-url`). */
  readonly #shared: boolean;

  private constructor(options: ChatOptions, hub: Hub) {
    this.store = options.store;
    this.gifs = options.gifs;
    this.#hub = hub;
    this.#shared = options.redis !== undefined;
    this.#limits = options.limits ?? Limits.off();
    this.#log = new RoomLog(this.store, this.#hub);
    const events: MembershipEvents = {
      onJoin: (room, member) => this.#roster.joined(room, member),
      onExit: (room, member) => this.#roster.left(room, member),
      onEmpty: (room) => {
        debug('room %s stayed empty; removing it', room);
        this.#removeRoom(room).catch((error) => {
          // The store failed (a database outage): try again after another grace.
          if (!(error instanceof ChatError)) logError('removing an empty room', error);
          this.#membership.rearm(room);
        });
      },
    };
    const clocks = {
      memberGraceMs: options.memberGraceMs ?? 2000,
      emptyRoomGraceMs: options.emptyRoomGraceMs,
    };
    this.#membership = options.redis
      ? new SharedMembership(options.redis, events, clocks)
      : new Membership(events, clocks);
    this.#hub.receiveDirectory((change) => this.#applyDirectory(change));
    this.#rooms = new RoomDirectory((room) => this.#membership.count(room));
    this.#roster = new Roster({
      store: this.store,
      hub: this.#hub,
      log: this.#log,
      rooms: this.#rooms,
      membership: () => this.#membership,
    });
  }

  /** Loads the stored rooms; each starts its empty-room clock, as nobody is in it yet. */
  static async open(options: ChatOptions): Promise<ChatService> {
    const onError = (error: unknown) => logError('subscriber failed', error);
    const hub = options.redis
      ? await RedisHub.open(options.redis, {
          storePublishes: 'publishesMessages' in options.store,
        })
      : new LocalHub(onError);
    const chat = new ChatService(options, hub);
    for (const room of await options.store.listRooms()) {
      // v1 kicked colours, and a colour names nobody: those kicks lapse (README, Identity).
      room.kicked = room.kicked.filter((userId) => USER_ID_PATTERN.test(userId));
      chat.#addRoom(room, await options.store.lastSeq(room.id));
    }
    return chat;
  }

  // ---- rooms ------------------------------------------------------------------------------

  /** One page of the room list, newest first (see RoomDirectory.page); 400 for a bad query. */
  listRooms(query: { limit?: unknown; before?: unknown } = {}): RoomPage {
    return this.#rooms.page(query);
  }

  getRoom(id: string): Room {
    return this.#rooms.view(this.#rooms.find(id));
  }

  async createRoom(visitor: Visitor, body: unknown): Promise<Room> {
    const input = validate.roomInput(body);
    this.#limits.createRoom(visitor, this.#rooms.ownedBy(visitor));
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
    this.#addRoom(room, 0);
    this.#hub.publishDirectory({ op: 'put', room });
    const view = this.#rooms.view(room);
    this.#hub.publishLobby({ type: 'newRoom', data: view });
    return view;
  }

  /**
   * Checks a room's password; the edge then keeps the grant in the session. `address` (the
   * client's) counts the attempt against its network's limit too.
   */
  async enter(visitor: Visitor, id: string, body: unknown, address?: string): Promise<void> {
    const room = this.#rooms.find(id);
    refuseKicked(room, visitor);
    if (room.passwordHash === null || room.ownerId === visitor.userId) return;
    this.#limits.password(visitor, room.id, address);
    const password = validate.password(fieldsOf(body).password);
    if (password === null || !(await verifyPassword(password, room.passwordHash))) {
      throw new ChatError(403, 'The password is wrong.', { code: 'wrongPassword' });
    }
  }

  /** Whether the chat page can open, or must ask for the password first. */
  pageAccess(visitor: Visitor, id: string): PageAccess {
    const room = this.#rooms.find(id);
    refuseKicked(room, visitor);
    if (!granted(room, visitor)) return 'password';
    if (!this.#membership.hasRoomFor(room.id, visitor.userId, room.max)) {
      throw new ChatError(409, 'The room is full.', { code: 'roomFull' });
    }
    return 'chat';
  }

  async removeRoom(visitor: Visitor, id: string): Promise<void> {
    const room = this.#rooms.find(id);
    if (!isOwner(room, visitor)) {
      throw new ChatError(403, 'Only the owner of the room can remove it.', {
        code: 'ownerOnlyRemove',
      });
    }
    await this.#removeRoom(room.id);
  }

  async kick(visitor: Visitor, id: string, body: unknown): Promise<void> {
    const room = this.#rooms.find(id);
    if (!isOwner(room, visitor))
      throw new ChatError(403, 'Only the owner can kick a member.', { code: 'ownerOnlyKick' });
    const target = validate.userId(fieldsOf(body).userId, 'userId');
    if (target === room.ownerId)
      throw new ChatError(400, 'The owner cannot kick themselves.', { code: 'ownerSelfKick' });
    if (!room.kicked.includes(target)) {
      await this.store.addKicked(room.id, target);
      room.kicked.push(target);
      this.#hub.publishDirectory({ op: 'put', room });
    }
    await this.#log.publish(room.id, { type: 'kicked', data: { id: room.id } }, target);
    // A kicked member exits at once, without the grace.
    await this.#membership.remove(room.id, target);
  }

  // ---- messages ---------------------------------------------------------------------------

  async post(visitor: Visitor, id: string, body: unknown): Promise<Message> {
    const room = this.#rooms.access(visitor, id);
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
    return this.#log.append('chat', draft);
  }

  /** Adopts an uploaded file (checked by its bytes) as a GIF message. */
  async postGif(visitor: Visitor, id: string, uploadPath: string): Promise<Message> {
    let room: StoredRoom;
    try {
      room = this.#rooms.access(visitor, id);
      this.#limits.post(visitor);
    } catch (error) {
      await this.gifs.discard(uploadPath);
      throw error;
    }
    const gif = await this.gifs.adopt(uploadPath);
    try {
      const { user, userId } = visitor;
      return await this.#log.append('chat', { room: room.id, user, userId, kind: 'gif', gif });
    } catch (error) {
      await this.gifs.remove([gif]);
      throw error;
    }
  }

  /** The room's newest seq, for a visitor who may read it (404, 403 otherwise). */
  latestSeq(visitor: Visitor, id: string): number {
    return this.#log.lastSeq(this.#rooms.access(visitor, id).id);
  }

  /** Throws 404 or 403 unless the visitor may read and post in the room now. */
  assertAccess(visitor: Visitor, id: string): void {
    this.#rooms.access(visitor, id);
  }

  /** Stored messages with `seq > after` that the visitor may see, oldest first. */
  async history(visitor: Visitor, id: string, query: { after?: unknown; limit?: unknown }) {
    const room = this.#rooms.access(visitor, id);
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
   * The one resume path of every transport, step one: checks access (404, 403) and capacity
   * (409), makes the visitor a member, registers the live listener and holds its events, and reads
   * the stored messages with `seq > after` (503 if the store fails): every refusal comes before
   * the transport has sent anything. Step two is the subscription's `start()`, once the transport
   * is ready: the replay and the held events go out, dropping any `seq` already sent (no gap, no
   * duplicate), then the live ones. Without `after`, only what happens after this call.
   *
   * After `kicked` or `removeRoom` the core closes the subscription and calls `onEnd`.
   */
  async openSubscription(
    visitor: Visitor,
    id: string,
    options: SubscribeOptions,
    subscriber: RoomSubscriber,
  ): Promise<Subscription> {
    const room = this.#rooms.access(visitor, id);
    const { userId } = visitor;
    const cursor = options.after ?? this.#log.lastSeq(room.id);
    // The subscription is its own room listener, and the service lets go of it: no closure per
    // subscription (tsx's keepNames gives every named one a property dictionary too).
    const subscription = new RoomSubscription(room.id, userId, cursor, subscriber, this.#owner);
    this.#log.listen(room.id, subscription);
    try {
      await this.#membership.open(room.id, visitor, room.max);
      subscription.member = true;
      if (options.after !== undefined) {
        const limit = options.replayLimit ?? Number.POSITIVE_INFINITY;
        const replay = await this.#log.replay(room.id, cursor, limit);
        subscription.replayFirst(replay, replay.length >= limit);
      }
    } catch (error) {
      subscription.close();
      throw error;
    }
    return subscription;
  }

  /** Both steps at once, for a caller with nothing to send before the events. */
  async subscribe(
    visitor: Visitor,
    id: string,
    options: SubscribeOptions,
    onEvent: (event: RoomEvent) => void,
  ): Promise<Subscription> {
    const subscription = await this.openSubscription(visitor, id, options, { onEvent });
    subscription.start();
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
    await this.#membership.stop();
    this.#roster.stop();
    await this.#log.drain();
    await this.#hub.close();
    await this.store.close();
  }

  /** A room this process did not have: its directory entry, its log and its member count. */
  #addRoom(room: StoredRoom, lastSeq: number): void {
    this.#rooms.add(room);
    this.#log.track(room.id, lastSeq);
    this.#membership.track(room.id);
  }

  /** Forgets a removed room here; whether it was here. */
  #forgetRoom(id: string): boolean {
    if (!this.#rooms.delete(id)) return false;
    this.#log.forget(id);
    this.#membership.forget(id);
    this.#roster.forget(id);
    return true;
  }

  /** What another process changed in the room list (with `--redis-url`); this one's come back too. */
  #applyDirectory(change: DirectoryChange): void {
    if (change.op === 'delete') {
      this.#forgetRoom(change.id);
      return;
    }
    const known = this.#rooms.get(change.room.id);
    if (known) Object.assign(known, change.room);
    else this.#addRoom(change.room, 0);
  }

  /**
   * The store first: if it fails (503), the room stays, in memory as in the store. Removed once:
   * with other processes, the one whose store call removed it tells them all.
   */
  async #removeRoom(id: string): Promise<void> {
    if (!this.#rooms.has(id)) return;
    const removed = await this.#log.enqueue(id, () => this.store.removeRoom(id));
    if (!this.#forgetRoom(id)) return;
    if (this.#shared && !removed) return;
    this.#hub.publishDirectory({ op: 'delete', id });
    const event = { type: 'removeRoom', data: { id } } as const;
    this.#log.publishNow(id, event);
    this.#hub.publishLobby(event);
    if (removed) await this.gifs.remove(removed.gifs);
  }
}

function fieldsOf(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
}

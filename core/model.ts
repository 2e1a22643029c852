/**
 * The chat's objects and events, exactly as PROTOCOL.md (Objects, Events) puts them on the wire.
 * Every transport, page, test and the bench speak these types; nothing here knows about a network.
 */

/** A user's colour, derived from their `userId`, e.g. `#a3c25e` (see identity.ts): how they are shown. */
export type User = string;

/** Who a user is: a random public id (PROTOCOL.md, Identity); the colour only shows it. */
export type UserId = string;

/** The user name of system messages (joins, exits, owner changes). */
export const SYSTEM_USER = 'system';

/**
 * A room as clients see it. `owner` is the owner's colour and `ownerId` who they are (null for a
 * room of v1 that has not had a member since: see StoredRoom). `members` is the number of members
 * now; a password is never sent.
 */
export interface Room {
  id: string;
  title: string;
  max: number;
  owner: User;
  ownerId: UserId | null;
  hasPassword: boolean;
  members: number;
  createdAt: string;
}

/** One page of the room list, newest first (`GET /api/rooms`). */
export interface RoomPage {
  rooms: Room[];
  /** Rooms in all, on every page. */
  total: number;
  /** The `before` of the next page; absent on the last one. */
  next?: string;
}

/** A room as the store keeps it: the password only as a salted scrypt hash, and who was kicked. */
export interface StoredRoom {
  id: string;
  title: string;
  max: number;
  /** The owner's colour, as shown. */
  owner: User;
  /**
   * Who owns the room. A room stored by v1 named its owner by colour only, and a colour grants
   * nothing: such a room has no owner (null) until a member joins it, who then becomes its owner.
   */
  ownerId: UserId | null;
  /** `scrypt$<salt hex>$<hash hex>`, or null for a room without a password. */
  passwordHash: string | null;
  /** The users the owner kicked (by `userId`): they get 403 on this room from then on. */
  kicked: UserId[];
  createdAt: string;
}

export type MessageKind = 'chat' | 'gif' | 'system';

/**
 * A stored message. `seq` is 1, 2, 3, ... per room with no gaps, in the order the server
 * accepted the messages: the resume cursor on every transport.
 */
export interface Message {
  id: string;
  seq: number;
  room: string;
  /** The sender's colour, or `system`. */
  user: User;
  /** The sender (absent on system messages, and on messages stored by v1). */
  userId?: UserId;
  kind: MessageKind;
  /** The text of a `chat` or `system` message. */
  chat?: string;
  /** The file name of a `gif` message; the image is at `/gif/<gif>`. */
  gif?: string;
  /** Set on a whisper: delivered only to the sender and `toId`, whose colour is `to`. */
  toId?: UserId;
  to?: User;
  createdAt: string;
}

/** A message before the store gives it its `id`, `seq` and `createdAt`. */
export type MessageDraft = Omit<Message, 'id' | 'seq' | 'createdAt'>;

/** What a stored system message announces; its event has the same name. */
export type SystemEventType = 'join' | 'exit' | 'owner';

/** A member as the member list shows them. */
export interface Member {
  userId: UserId;
  user: User;
}

/** The `members` event: members in arrival order (longest present first), and the owner. */
export interface MembersPayload {
  members: Member[];
  ownerId: UserId | null;
}

/**
 * An event on a room stream. Stored events (`chat`, `join`, `exit`, `owner`) carry their
 * Message's `seq` as `id`; the others carry no cursor.
 */
export type RoomEvent =
  | { type: 'chat' | SystemEventType; id: number; data: Message }
  | { type: 'members'; data: MembersPayload }
  | { type: 'removeRoom'; data: { id: string } }
  | { type: 'kicked'; data: { id: string } };

/** An event on the lobby stream. Lobby events carry no cursor. */
export type LobbyEvent =
  | { type: 'newRoom' | 'roomUpdate'; data: Room }
  | { type: 'removeRoom'; data: { id: string } };

export type RoomEventType = RoomEvent['type'];
export type LobbyEventType = LobbyEvent['type'];

export const TRANSPORT_NAMES = ['polling', 'sse', 'ws', 'socketio'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** Ids are opaque strings of at most 64 characters from `[A-Za-z0-9_-]`. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** A user colour as color-hash writes it. */
export const USER_PATTERN = /^#[0-9a-f]{6}$/;
/** A `userId`: at least 96 random bits, base64url (PROTOCOL.md, Identity). */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** A stored GIF's file name. */
export const GIF_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}\.gif$/;

/** The limits of PROTOCOL.md's rules, in one table. */
export const LIMITS = {
  titleMax: 60,
  maxMin: 2,
  maxMax: 10000,
  maxDefault: 10,
  passwordMax: 64,
  chatMax: 2000,
  gifBytes: 5 * 1024 * 1024,
  historyLimitDefault: 100,
  historyLimitMax: 1000,
  roomsPageDefault: 100,
  roomsPageMax: 200,
} as const;

/**
 * Whether the user `userId` may see `message`: whispers reach only their two users. A whisper
 * stored by v1 named them by colour only (`to` without `toId`), so it reaches nobody now.
 */
export function canSee(userId: UserId, message: Message): boolean {
  if (message.to === undefined && message.toId === undefined) return true;
  return message.userId === userId || message.toId === userId;
}

import type { Message, MessageDraft, StoredRoom, User, UserId } from '../model.ts';

/**
 * Where rooms and messages live. Only the core's ChatService calls a store; transports never do.
 *
 * Contract (checked for every adapter by `store.contract.ts`):
 * - `appendMessage` gives the message the room's next `seq` (1, 2, 3, ... with no gaps) atomically,
 *   even when called concurrently, plus a fresh `id` and `createdAt`. It fails with a ChatError
 *   404 when the room does not exist.
 * - `messagesAfter` returns the room's messages with `seq > after`, oldest first, at most `limit`.
 * - `lastSeq` is the highest `seq` given out: no message with `seq > lastSeq` exists yet.
 * - `removeRoom` removes the room and all its messages and returns the GIF file names its
 *   messages referred to (so the core can delete the files), or null if there was no such room.
 * - Values reach a store already validated as plain strings and numbers.
 * - A room stored by v1 (no `ownerId`) is read back with `ownerId: null`.
 * - `close` flushes what must survive a restart.
 */
export interface Store {
  readonly name: StoreName;
  createRoom(room: StoredRoom): Promise<void>;
  getRoom(id: string): Promise<StoredRoom | null>;
  /** Every room, oldest first. */
  listRooms(): Promise<StoredRoom[]>;
  /** A new owner: their `userId`, and their colour as shown. */
  setOwner(id: string, owner: { owner: User; ownerId: UserId }): Promise<void>;
  addKicked(id: string, userId: UserId): Promise<void>;
  removeRoom(id: string): Promise<{ gifs: string[] } | null>;
  appendMessage(draft: MessageDraft): Promise<Message>;
  messagesAfter(room: string, after: number, limit: number): Promise<Message[]>;
  /** The highest `seq` the room has given out (0 for none, or for no such room). */
  lastSeq(room: string): Promise<number>;
  close(): Promise<void>;
}

export type StoreName = 'file' | 'memory' | 'mongo' | 'redis';

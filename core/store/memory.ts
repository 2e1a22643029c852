import { ChatError } from '../errors.ts';
import type { Message, MessageDraft, StoredRoom, User, UserId } from '../model.ts';
import { randomId } from '../random-id.ts';
import type { Store } from './store.ts';

/** A room and its messages; `messages[n - 1]` has seq n, since messages are only removed with their room. */
interface RoomRecord {
  room: StoredRoom;
  messages: Message[];
}

/** Keeps everything in Maps: the store of tests and of a server that may forget on restart. */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly #rooms = new Map<string, RoomRecord>();

  async createRoom(room: StoredRoom): Promise<void> {
    if (this.#rooms.has(room.id)) throw new Error(`Room ${room.id} exists already.`);
    this.#rooms.set(room.id, { room: structuredClone(room), messages: [] });
  }

  async getRoom(id: string): Promise<StoredRoom | null> {
    const record = this.#rooms.get(id);
    return record ? structuredClone(record.room) : null;
  }

  async lastSeq(id: string): Promise<number> {
    return this.#rooms.get(id)?.messages.length ?? 0;
  }

  async listRooms(): Promise<StoredRoom[]> {
    // A Map iterates in insertion order, which is creation order.
    return [...this.#rooms.values()].map((record) => structuredClone(record.room));
  }

  async setOwner(id: string, owner: { owner: User; ownerId: UserId }): Promise<void> {
    const record = this.#rooms.get(id);
    if (record) Object.assign(record.room, { owner: owner.owner, ownerId: owner.ownerId });
  }

  async addKicked(id: string, userId: UserId): Promise<void> {
    const record = this.#rooms.get(id);
    if (record && !record.room.kicked.includes(userId)) record.room.kicked.push(userId);
  }

  async removeRoom(id: string): Promise<{ gifs: string[] } | null> {
    const record = this.#rooms.get(id);
    if (!record) return null;
    this.#rooms.delete(id);
    const gifs = record.messages.flatMap((message) =>
      message.kind === 'gif' && message.gif !== undefined ? [message.gif] : [],
    );
    return { gifs };
  }

  async appendMessage(draft: MessageDraft): Promise<Message> {
    const record = this.#rooms.get(draft.room);
    if (!record)
      throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
    // One frozen object, stored and handed out (nothing may change a stored message). Built by
    // `Object.assign`: `{ ...draft, id }` would give every message a hidden class of its own in
    // V8 (a spread followed by more properties), some 270 bytes each.
    const message: Message = Object.freeze(
      Object.assign({}, draft, {
        id: randomId(),
        seq: record.messages.length + 1,
        createdAt: new Date().toISOString(),
      }),
    );
    record.messages.push(message);
    return message;
  }

  async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    const messages = this.#rooms.get(room)?.messages ?? [];
    const start = Math.max(0, after);
    return messages.slice(start, start + Math.max(0, limit));
  }

  async close(): Promise<void> {}
}

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import nedb from '@seald-io/nedb';
import { ChatError } from '../errors.ts';
import type { Message, MessageDraft, StoredRoom, User, UserId } from '../model.ts';
import { randomId } from '../random-id.ts';
import type { Store } from './store.ts';

// nedb's typings declare `export default` on a CommonJS module: under NodeNext, TypeScript puts
// the class at `.default`, while Node hands the class itself to a default import.
const Datastore = nedb as unknown as typeof nedb.default;
type Datastore<Schema> = nedb.default<Schema>;

/** A room as nedb keeps it: with the seq of its last message and its place in the room list. */
interface RoomDocument extends StoredRoom {
  lastSeq: number;
  rank: number;
}

/** Keeps rooms and messages in two nedb files, `rooms.db` and `messages.db`, in one directory. */
export class FileStore implements Store {
  readonly name = 'file';
  readonly #rooms: Datastore<RoomDocument>;
  readonly #messages: Datastore<Message>;
  /** Per room, the end of the chain its appends and its removal run on, one after another. */
  readonly #queues = new Map<string, Promise<void>>();
  #nextRank: number;

  private constructor(
    rooms: Datastore<RoomDocument>,
    messages: Datastore<Message>,
    nextRank: number,
  ) {
    this.#rooms = rooms;
    this.#messages = messages;
    this.#nextRank = nextRank;
  }

  static async open(dir: string): Promise<FileStore> {
    await mkdir(dir, { recursive: true });
    const rooms = new Datastore<RoomDocument>({ filename: join(dir, 'rooms.db') });
    const messages = new Datastore<Message>({ filename: join(dir, 'messages.db') });
    await Promise.all([rooms.loadDatabaseAsync(), messages.loadDatabaseAsync()]);
    await rooms.ensureIndexAsync({ fieldName: 'id', unique: true });
    await messages.ensureIndexAsync({ fieldName: ['room', 'seq'], unique: true });
    await messages.ensureIndexAsync({ fieldName: 'room' });

    const roomDocuments: RoomDocument[] = await rooms.findAsync<RoomDocument>({});
    for (const room of roomDocuments) await repairLastSeq(rooms, messages, room);
    const nextRank = Math.max(0, ...roomDocuments.map((room) => room.rank + 1));
    return new FileStore(rooms, messages, nextRank);
  }

  async createRoom(room: StoredRoom): Promise<void> {
    await this.#rooms.insertAsync({ ...room, lastSeq: 0, rank: this.#nextRank++ });
  }

  async getRoom(id: string): Promise<StoredRoom | null> {
    const room: RoomDocument | null = await this.#rooms.findOneAsync<RoomDocument>({ id });
    return room ? toStoredRoom(room) : null;
  }

  async lastSeq(id: string): Promise<number> {
    const room: RoomDocument | null = await this.#rooms.findOneAsync<RoomDocument>({ id });
    return room?.lastSeq ?? 0;
  }

  async listRooms(): Promise<StoredRoom[]> {
    const rooms: RoomDocument[] = await this.#rooms.findAsync<RoomDocument>({}).sort({ rank: 1 });
    return rooms.map(toStoredRoom);
  }

  async setOwner(id: string, owner: { owner: User; ownerId: UserId }): Promise<void> {
    await this.#rooms.updateAsync({ id }, { $set: { owner: owner.owner, ownerId: owner.ownerId } });
  }

  async addKicked(id: string, userId: UserId): Promise<void> {
    await this.#rooms.updateAsync({ id }, { $addToSet: { kicked: userId } });
  }

  removeRoom(id: string): Promise<{ gifs: string[] } | null> {
    return this.#serialise(id, async () => {
      if (!(await this.#rooms.findOneAsync<RoomDocument>({ id }))) return null;
      const gifMessages: Message[] = await this.#messages.findAsync<Message>({
        room: id,
        kind: 'gif',
      });
      // Messages first: a crash in between leaves an empty room that can be removed again.
      await this.#messages.removeAsync({ room: id }, { multi: true });
      await this.#rooms.removeAsync({ id }, {});
      return { gifs: gifMessages.flatMap((message) => message.gif ?? []) };
    });
  }

  appendMessage(draft: MessageDraft): Promise<Message> {
    return this.#serialise(draft.room, async () => {
      const room: RoomDocument | null = await this.#rooms.findOneAsync<RoomDocument>({
        id: draft.room,
      });
      if (!room)
        throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
      const message: Message = {
        ...draft,
        id: randomId(),
        seq: room.lastSeq + 1,
        createdAt: new Date().toISOString(),
      };
      // The message before the counter: a crash in between is repaired by `open`.
      await this.#messages.insertAsync(message);
      await this.#rooms.updateAsync({ id: room.id }, { $set: { lastSeq: message.seq } });
      return message;
    });
  }

  async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    // nedb reads `limit(0)` as "no limit".
    if (limit <= 0) return [];
    const messages: Message[] = await this.#messages
      .findAsync<Message>({ room, seq: { $gt: after } })
      .sort({ seq: 1 })
      .limit(limit);
    return messages.map(withoutId);
  }

  async close(): Promise<void> {
    await Promise.all(this.#queues.values());
    // nedb appends without fsync; compaction rewrites each file crash-safely and fsyncs it.
    await Promise.all([this.#rooms.compactDatafileAsync(), this.#messages.compactDatafileAsync()]);
  }

  /** Runs `task` after every task queued before it for `room`, whether those failed or not. */
  #serialise<T>(room: string, task: () => Promise<T>): Promise<T> {
    const result = (this.#queues.get(room) ?? Promise.resolve()).then(task);
    const settled = result.then(
      () => {},
      () => {},
    );
    this.#queues.set(room, settled);
    void settled.then(() => {
      if (this.#queues.get(room) === settled) this.#queues.delete(room);
    });
    return result;
  }
}

/** Moves `lastSeq` up to the room's last stored message, should a crash have come in between. */
async function repairLastSeq(
  rooms: Datastore<RoomDocument>,
  messages: Datastore<Message>,
  room: RoomDocument,
): Promise<void> {
  const [last]: Message[] = await messages
    .findAsync<Message>({ room: room.id })
    .sort({ seq: -1 })
    .limit(1);
  if (last && last.seq > room.lastSeq) {
    await rooms.updateAsync({ id: room.id }, { $set: { lastSeq: last.seq } });
  }
}

/** A room of v1 has no `ownerId`: it reads back ownerless (see StoredRoom). */
function toStoredRoom(room: RoomDocument): StoredRoom {
  const { id, title, max, owner, passwordHash, kicked, createdAt } = room;
  return { id, title, max, owner, ownerId: room.ownerId ?? null, passwordHash, kicked, createdAt };
}

function withoutId(message: Message): Message {
  const { _id, ...rest } = message as Message & { _id?: string };
  return rest;
}

import mongoose, { type Connection, type Model, Schema } from 'mongoose';
import { ChatError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Message, MessageDraft, MessageKind, StoredRoom, User, UserId } from '../model.ts';
import type { Store } from './store.ts';

const debug = logger('mongo');

/** What a request that needs the database gets (503) while the database cannot be reached. */
export const DATABASE_UNREACHABLE =
  'The database is not reachable right now; try again in a moment.';

/** How long an operation (and the first connection) waits for the database before it fails. */
const SERVER_SELECTION_TIMEOUT_MS = 5000;

/**
 * The book's Room schema, keyed by our room id (the book lets MongoDB make an ObjectId), plus what
 * the core needs: the password only as `passwordHash`, the kicked users, and `lastSeq`, the seq of
 * the room's last message, which appends take atomically with `$inc`.
 */
interface RoomDocument {
  _id: string;
  title: string;
  max: number;
  owner: string;
  /** Absent on a room of v1, whose owner was a colour. */
  ownerId?: string | null;
  passwordHash: string | null;
  kicked: string[];
  lastSeq: number;
  createdAt: Date;
}

/** The book's Chat schema, plus the per-room `seq`, the `kind`, the sender and the whisper's. */
interface ChatDocument {
  _id: mongoose.Types.ObjectId;
  room: string;
  seq: number;
  user: string;
  userId?: string;
  kind: MessageKind;
  chat?: string;
  gif?: string;
  toId?: string;
  to?: string;
  createdAt: Date;
}

/** Casting is strict: a filter field the schema lacks throws, and a value must cast to its type. */
const SCHEMA_OPTIONS = { versionKey: false, strict: 'throw', strictQuery: 'throw' } as const;

const roomSchema = new Schema<RoomDocument>(
  {
    _id: { type: String, required: true },
    title: { type: String, required: true },
    max: { type: Number, required: true, default: 10, min: 2 },
    owner: { type: String, required: true },
    ownerId: { type: String, default: null },
    passwordHash: { type: String, default: null },
    kicked: { type: [String], default: [] },
    lastSeq: { type: Number, required: true, default: 0 },
    createdAt: { type: Date, default: Date.now },
  },
  { ...SCHEMA_OPTIONS, collection: 'rooms' },
);

const chatSchema = new Schema<ChatDocument>(
  {
    room: { type: String, required: true, ref: 'Room' },
    seq: { type: Number, required: true },
    user: { type: String, required: true },
    userId: String,
    kind: { type: String, required: true, enum: ['chat', 'gif', 'system'] },
    chat: String,
    gif: String,
    toId: String,
    to: String,
    createdAt: { type: Date, default: Date.now },
  },
  { ...SCHEMA_OPTIONS, collection: 'chats' },
);
// One message per seq per room, whoever appends: the database refuses a second one.
chatSchema.index({ room: 1, seq: 1 }, { unique: true });

/**
 * Rooms and chats in MongoDB through mongoose, with the book's schemas, on a connection of its
 * own (`mongoose.createConnection`, never the global one). Filters are sanitised (`sanitizeFilter`:
 * an object where a value belongs cannot become a query operator) and cast strictly by the schemas.
 * While the database cannot be reached, every method fails with ChatError 503
 * (`DATABASE_UNREACHABLE`) after at most the server selection timeout; the driver reconnects by
 * itself when the database returns.
 */
export class MongoStore implements Store {
  readonly name = 'mongo';
  readonly #connection: Connection;
  readonly #rooms: Model<RoomDocument>;
  readonly #chats: Model<ChatDocument>;

  private constructor(connection: Connection) {
    this.#connection = connection;
    this.#rooms = connection.model<RoomDocument>('Room', roomSchema);
    this.#chats = connection.model<ChatDocument>('Chat', chatSchema);
  }

  /**
   * Connects to `url` (`mongodb://host:port/database`) and makes sure of the indexes. Rejects
   * when the database is not reachable within `serverSelectionTimeoutMS` (5 s, unless the URL
   * sets it), with the driver's reason as the message.
   */
  static async open(url: string): Promise<MongoStore> {
    const connection = mongoose.createConnection(url, {
      ...(/[?&]serverSelectionTimeoutMS=/i.test(url)
        ? {}
        : { serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS }),
      // Fail at once rather than queue operations while disconnected; the driver's own server
      // selection waits for the database (up to the timeout above).
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
      sanitizeFilter: true,
    });
    connection.on('error', (error) => debug('connection error: %s', error.message));
    connection.on('disconnected', () => debug('disconnected from %s', maskMongoUrl(url)));
    connection.on('reconnected', () => debug('reconnected to %s', maskMongoUrl(url)));
    try {
      await connection.asPromise();
      const store = new MongoStore(connection);
      await Promise.all([store.#rooms.createIndexes(), store.#chats.createIndexes()]);
      return store;
    } catch (error) {
      await connection.close(true).catch(() => undefined);
      throw error;
    }
  }

  async createRoom(room: StoredRoom): Promise<void> {
    await reachable(
      this.#rooms.create({
        _id: room.id,
        title: room.title,
        max: room.max,
        owner: room.owner,
        ownerId: room.ownerId,
        passwordHash: room.passwordHash,
        kicked: [...room.kicked],
        lastSeq: 0,
        createdAt: new Date(room.createdAt),
      }),
    );
  }

  async getRoom(id: string): Promise<StoredRoom | null> {
    const room = await reachable(this.#rooms.findOne({ _id: id }).lean<RoomDocument>().exec());
    return room ? toStoredRoom(room) : null;
  }

  async lastSeq(id: string): Promise<number> {
    const room = await reachable(this.#rooms.findOne({ _id: id }).lean<RoomDocument>().exec());
    return room?.lastSeq ?? 0;
  }

  async listRooms(): Promise<StoredRoom[]> {
    const rooms = await reachable(
      this.#rooms.find().sort({ createdAt: 1, _id: 1 }).lean<RoomDocument[]>().exec(),
    );
    return rooms.map(toStoredRoom);
  }

  async setOwner(id: string, owner: { owner: User; ownerId: UserId }): Promise<void> {
    const $set = { owner: owner.owner, ownerId: owner.ownerId };
    await reachable(this.#rooms.updateOne({ _id: id }, { $set }).exec());
  }

  async addKicked(id: string, userId: UserId): Promise<void> {
    await reachable(this.#rooms.updateOne({ _id: id }, { $addToSet: { kicked: userId } }).exec());
  }

  /**
   * The room first, then its messages: an append that raced the removal finds the room gone when
   * it checks after its insert, and takes its message back (see `appendMessage`).
   */
  async removeRoom(id: string): Promise<{ gifs: string[] } | null> {
    const room = await reachable(this.#rooms.findOneAndDelete({ _id: id }).lean().exec());
    if (!room) return null;
    const gifMessages = await reachable(
      this.#chats.find({ room: id, kind: 'gif' }).select({ gif: 1 }).lean<ChatDocument[]>().exec(),
    );
    await reachable(this.#chats.deleteMany({ room: id }).exec());
    return { gifs: gifMessages.flatMap((message) => message.gif ?? []) };
  }

  /**
   * Takes the room's next seq with one atomic `$inc`, so concurrent appends (from any number of
   * processes) get 1, 2, 3... Should the database fail between the `$inc` and the insert, that seq
   * stays unused: a gap, never a duplicate or a reordering.
   */
  async appendMessage(draft: MessageDraft): Promise<Message> {
    const room = await reachable(
      this.#rooms
        .findOneAndUpdate(
          { _id: draft.room },
          { $inc: { lastSeq: 1 } },
          { returnDocument: 'after' },
        )
        .select({ lastSeq: 1 })
        .lean<Pick<RoomDocument, 'lastSeq'>>()
        .exec(),
    );
    if (!room) throw roomGone();
    const created = await reachable(this.#chats.create({ ...draft, seq: room.lastSeq }));
    // A removal between the `$inc` and the insert may have deleted the messages already.
    if (!(await reachable(this.#rooms.exists({ _id: draft.room }).exec()))) {
      await reachable(this.#chats.deleteOne({ _id: created._id }).exec());
      throw roomGone();
    }
    return toMessage(created.toObject());
  }

  async messagesAfter(room: string, after: number, limit: number): Promise<Message[]> {
    // MongoDB reads `limit(0)` as "no limit".
    if (limit <= 0) return [];
    const messages = await reachable(
      this.#chats
        .find({ room, seq: mongoose.trusted({ $gt: after }) })
        .sort({ seq: 1 })
        .limit(limit)
        .lean<ChatDocument[]>()
        .exec(),
    );
    return messages.map(toMessage);
  }

  async close(): Promise<void> {
    await this.#connection.close();
  }
}

/** `mongodb://user:****@host/db`: the URL with its password masked, for messages and logs. */
export function maskMongoUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:****@');
}

/** Socket errors the driver can pass on unwrapped (a write to a socket the database just closed). */
const SOCKET_ERRORS = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT']);

/** Whether `error` means the database cannot be reached (as opposed to a refused operation). */
export function isUnreachable(error: unknown): boolean {
  const { mongo } = mongoose;
  return (
    error instanceof mongo.MongoNetworkError ||
    error instanceof mongo.MongoServerSelectionError ||
    error instanceof mongo.MongoNotConnectedError ||
    error instanceof mongoose.Error.MongooseServerSelectionError ||
    SOCKET_ERRORS.has((error as NodeJS.ErrnoException | null)?.code ?? '')
  );
}

/** Resolves as `operation` does; an unreachable database becomes ChatError 503. */
async function reachable<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    debug('database unreachable: %s', (error as Error).message);
    throw new ChatError(503, DATABASE_UNREACHABLE, { code: 'databaseUnreachable' });
  }
}

function roomGone(): ChatError {
  return new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
}

function toStoredRoom(room: RoomDocument): StoredRoom {
  return {
    id: room._id,
    title: room.title,
    max: room.max,
    owner: room.owner,
    ownerId: room.ownerId ?? null,
    passwordHash: room.passwordHash ?? null,
    kicked: [...room.kicked],
    createdAt: room.createdAt.toISOString(),
  };
}

function toMessage(chat: ChatDocument): Message {
  const message: Message = {
    id: chat._id.toHexString(),
    seq: chat.seq,
    room: chat.room,
    user: chat.user,
    kind: chat.kind,
    createdAt: chat.createdAt.toISOString(),
  };
  if (chat.chat != null) message.chat = chat.chat;
  if (chat.userId != null) message.userId = chat.userId;
  if (chat.gif != null) message.gif = chat.gif;
  if (chat.toId != null) message.toId = chat.toId;
  if (chat.to != null) message.to = chat.to;
  return message;
}

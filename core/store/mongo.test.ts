import mongoose from 'mongoose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MongoForTests, mongoForTests } from '../../test/support/mongo-wire.ts';
import { ChatError } from '../errors.ts';
import type { StoredRoom } from '../model.ts';
import { DATABASE_UNREACHABLE, MongoStore, maskMongoUrl } from './mongo.ts';
import { storeContract } from './store.contract.ts';

// Against a real `mongod` when MONGO_URL is set, else the wire-protocol test server.
let mongo: MongoForTests;
beforeAll(async () => {
  mongo = await mongoForTests();
  if (!mongo.wire) console.info(`mongo store tests: against the mongod of MONGO_URL`);
});
afterAll(() => mongo.close());

let databases = 0;
function newDatabase(): string {
  databases += 1;
  return `realtime-lab-test-${process.pid}-${databases}`;
}

storeContract(
  'mongo',
  async () => {
    const name = newDatabase();
    const url = mongo.urlFor(name);
    return {
      store: await MongoStore.open(url),
      reopen: () => MongoStore.open(url),
      cleanup: () => mongo.dropDatabase(name),
    };
  },
  { restarts: true },
);

const OWNER = '#a3c25e';
const OWNER_ID = 'owner-userid-0001';
const GUEST = { owner: '#12ab34', ownerId: 'guest-userid-0002' };

function room(id: string): StoredRoom {
  return {
    id,
    title: `Room ${id}`,
    max: 10,
    owner: OWNER,
    ownerId: OWNER_ID,
    passwordHash: null,
    kicked: [],
    createdAt: new Date().toISOString(),
  };
}

describe('mongo store', () => {
  let name: string;
  let store: MongoStore;
  let raw: mongoose.Connection;

  beforeEach(async () => {
    name = newDatabase();
    store = await MongoStore.open(mongo.urlFor(name));
    raw = await mongoose.createConnection(mongo.urlFor(name)).asPromise();
  });
  afterEach(async () => {
    await mongo.wire?.start();
    await store.close();
    await raw.close();
    await mongo.dropDatabase(name);
  });

  it("keeps the book's collections, rooms and chats, with dates as dates", async () => {
    await store.createRoom({ ...room('r'), passwordHash: 'scrypt$00$11' });
    const message = await store.appendMessage({ room: 'r', user: OWNER, kind: 'chat', chat: 'hi' });

    const storedRoom = await raw.collection('rooms').findOne({ _id: 'r' as never });
    expect(storedRoom).toMatchObject({ title: 'Room r', owner: OWNER, lastSeq: 1 });
    expect(storedRoom?.passwordHash).toBe('scrypt$00$11');
    expect(storedRoom?.createdAt).toBeInstanceOf(Date);
    const chat = await raw.collection('chats').findOne({ room: 'r' });
    expect(chat).toMatchObject({ room: 'r', seq: 1, user: OWNER, kind: 'chat', chat: 'hi' });
    expect(chat?._id.toHexString()).toBe(message.id);
    expect(chat?.createdAt).toBeInstanceOf(Date);
  });

  it('reads a room of v1, owned by a colour, as ownerless', async () => {
    // What v1 wrote: the book's room with an owner colour and no ownerId.
    await raw.collection('rooms').insertOne({
      _id: 'old' as never,
      title: 'Old',
      max: 10,
      owner: OWNER,
      passwordHash: null,
      kicked: ['#12ab34'],
      lastSeq: 0,
      createdAt: new Date(),
    });
    expect(await store.getRoom('old')).toMatchObject({ owner: OWNER, ownerId: null });
  });

  it('has a unique index on (room, seq): the database refuses a second message with a seq', async () => {
    await store.createRoom(room('r'));
    await store.appendMessage({ room: 'r', user: OWNER, kind: 'chat', chat: 'first' });

    const second = raw.collection('chats').insertOne({ room: 'r', seq: 1, user: GUEST.owner });
    await expect(second).rejects.toMatchObject({ code: 11000 });
    const indexes = await raw.collection('chats').listIndexes().toArray();
    expect(indexes).toContainEqual(
      expect.objectContaining({ key: { room: 1, seq: 1 }, unique: true }),
    );
  });

  it('never lets an object where a string belongs act as a query operator', async () => {
    const rooms = [room('a'), room('b')];
    for (const each of rooms) await store.createRoom(each);
    await store.appendMessage({ room: 'a', user: OWNER, kind: 'chat', chat: 'secret' });
    const anyRoom = { $ne: 'nope' } as unknown as string;

    // Each is refused (a cast error) or finds nothing; none reaches room a or b.
    const outcome = <T>(operation: Promise<T>) => operation.catch(() => 'refused');
    expect(await outcome(store.getRoom(anyRoom))).not.toMatchObject({ id: expect.any(String) });
    expect(await outcome(store.messagesAfter(anyRoom, 0, 100))).not.toContainEqual(
      expect.objectContaining({ chat: 'secret' }),
    );
    await outcome(store.setOwner(anyRoom, GUEST));
    await outcome(store.addKicked(anyRoom, GUEST.ownerId));
    await outcome(store.removeRoom(anyRoom));
    await outcome(store.setOwner('a', { owner: { $ne: 'x' }, ownerId: 'x' } as never));
    expect(await store.listRooms()).toEqual(rooms);
    expect((await store.messagesAfter('a', 0, 100)).map((m) => m.chat)).toEqual(['secret']);
  });

  it('while the database is down, fails with ChatError 503 and works again when it returns', async (context) => {
    if (!mongo.wire) {
      console.info('skipped: stopping the database needs the wire-protocol test server');
      context.skip();
    }
    const wire = mongo.wire!;
    await store.createRoom(room('r'));
    await store.appendMessage({ room: 'r', user: OWNER, kind: 'chat', chat: 'before' });

    await wire.stop();
    const started = Date.now();
    const failures = await Promise.all(
      [
        store.appendMessage({ room: 'r', user: OWNER, kind: 'chat', chat: 'during' }),
        store.messagesAfter('r', 0, 10),
        store.listRooms(),
        store.createRoom(room('s')),
      ].map((operation) =>
        operation.then(
          () => 'resolved',
          (error: unknown) => error,
        ),
      ),
    );
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(ChatError);
      expect(failure).toMatchObject({ status: 503, message: DATABASE_UNREACHABLE });
    }
    // The URL's serverSelectionTimeoutMS is 1 s: each waits about that long.
    expect(Date.now() - started).toBeLessThan(3000);

    await wire.start();
    const after = await store.appendMessage({
      room: 'r',
      user: OWNER,
      kind: 'chat',
      chat: 'after',
    });
    expect(after.seq).toBe(2);
    expect((await store.messagesAfter('r', 0, 10)).map((m) => m.chat)).toEqual(['before', 'after']);
  });
});

describe('opening', () => {
  it('fails within its server selection timeout when nothing listens', async () => {
    const started = Date.now();
    const open = MongoStore.open('mongodb://127.0.0.1:1/lab?serverSelectionTimeoutMS=300');
    await expect(open).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('masks the password of a URL', () => {
    expect(maskMongoUrl('mongodb://alice:s3cret@db.example:27017/chat')).toBe(
      'mongodb://alice:****@db.example:27017/chat',
    );
    expect(maskMongoUrl('mongodb+srv://bob:p%40ss@cluster0.example/chat?retryWrites=true')).toBe(
      'mongodb+srv://bob:****@cluster0.example/chat?retryWrites=true',
    );
    expect(maskMongoUrl('mongodb://127.0.0.1:27017/gifchat')).toBe(
      'mongodb://127.0.0.1:27017/gifchat',
    );
    expect(maskMongoUrl('mongodb://carol@db.example/chat')).toBe('mongodb://carol@db.example/chat');
  });
});

import mongoose from 'mongoose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type MongoWireServer, startMongoWireServer } from './mongo-wire.ts';

// The wire-protocol test server, driven by the official driver that mongoose uses.
const { MongoClient, MongoServerError, MongoServerSelectionError } = mongoose.mongo;
type Db = mongoose.mongo.Db;

let wire: MongoWireServer;
let client: mongoose.mongo.MongoClient;
let db: Db;
let databases = 0;

beforeAll(async () => {
  wire = await startMongoWireServer();
  client = await MongoClient.connect(`${wire.url}/?serverSelectionTimeoutMS=500`);
});
afterAll(async () => {
  await client.close();
  await wire.stop();
});
beforeEach(() => {
  databases += 1;
  db = client.db(`wire-${databases}`);
});

describe('the handshake', () => {
  it('answers the legacy isMaster over OP_QUERY, then commands over OP_MSG', async () => {
    expect(wire.database.received[0]).toBe('ismaster');
    expect(await db.command({ ping: 1 })).toEqual({ ok: 1 });
    const hello = await db.command({ hello: 1 });
    expect(hello).toMatchObject({ isWritablePrimary: true, maxWireVersion: 21, ok: 1 });
  });
});

describe('reads and writes', () => {
  const people = [
    { name: 'ann', age: 31, tags: ['a'] },
    { name: 'bob', age: 25, tags: [] },
    { name: 'cid', age: 40, tags: ['b'] },
    { name: 'dee', age: 25, tags: ['a', 'b'] },
    { name: 'eve', age: 19, tags: [] },
  ];

  it('finds with a filter, sort, skip, limit and projection', async () => {
    await db.collection('people').insertMany(people.map((p) => ({ ...p })));
    const found = await db
      .collection('people')
      .find({ age: { $gte: 20 } }, { projection: { _id: 0, name: 1 } })
      .sort({ age: -1, name: 1 })
      .skip(1)
      .limit(2)
      .toArray();
    expect(found).toEqual([{ name: 'ann' }, { name: 'bob' }]);
    expect(await db.collection('people').findOne({ tags: 'b', age: 25 })).toMatchObject({
      name: 'dee',
    });
    expect(await db.collection('nothing').find({}).toArray()).toEqual([]);
  });

  it('pages a cursor with getMore and kills one that is closed early', async () => {
    await db.collection('people').insertMany(people.map((p) => ({ ...p })));
    const all = await db.collection('people').find({}, { batchSize: 2 }).toArray();
    expect(all.map((p) => p.name)).toEqual(people.map((p) => p.name));
    const before = wire.database.received.length;
    const cursor = db.collection('people').find({}, { batchSize: 2 });
    await cursor.next();
    await cursor.close();
    expect(wire.database.received.slice(before)).toEqual(['find', 'killCursors']);
  });

  it('sends batches that each fit in a reply, however big the documents', async () => {
    const big = 'x'.repeat(6 * 1024 * 1024);
    await db.collection('big').insertMany([1, 2, 3].map((n) => ({ n, big })));
    const found = await db.collection('big').find({}).sort({ n: 1 }).toArray();
    expect(found.map((d) => d.n)).toEqual([1, 2, 3]);
  });

  it('updates with operators, one or many, and replaces whole documents', async () => {
    const people = db.collection('people');
    await people.insertMany([
      { name: 'ann', n: 1, tags: [] },
      { name: 'bob', n: 1, tags: [] },
    ]);
    expect(await people.updateOne({ name: 'ann' }, { $inc: { n: 2 } })).toMatchObject({
      matchedCount: 1,
      modifiedCount: 1,
    });
    await people.updateMany({}, { $addToSet: { tags: 'x' } });
    await people.updateMany({}, { $addToSet: { tags: 'x' } });
    expect(await people.updateOne({ name: 'nobody' }, { $set: { n: 0 } })).toMatchObject({
      matchedCount: 0,
    });
    await people.replaceOne({ name: 'bob' }, { name: 'bob', replaced: true });
    const all = await people.find({}, { projection: { _id: 0 } }).toArray();
    expect(all).toEqual([
      { name: 'ann', n: 3, tags: ['x'] },
      { name: 'bob', replaced: true },
    ]);
    await expect(people.updateOne({ name: 'ann' }, { $set: { _id: 'other' } })).rejects.toThrow(
      /_id/,
    );
  });

  it('finds and modifies atomically, returning the document before or after', async () => {
    const counters = db.collection<{ _id: string; n: number }>('counters');
    await counters.insertOne({ _id: 'c', n: 0 });
    const taken = await Promise.all(
      Array.from({ length: 50 }, () =>
        counters.findOneAndUpdate({ _id: 'c' }, { $inc: { n: 1 } }, { returnDocument: 'after' }),
      ),
    );
    expect(taken.map((c) => c?.n).sort((x, y) => x! - y!)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const before = await counters.findOneAndUpdate({ _id: 'c' }, { $inc: { n: 1 } });
    expect(before?.n).toBe(50);
    expect(await counters.findOneAndUpdate({ _id: 'none' }, { $inc: { n: 1 } })).toBeNull();
    expect(await counters.findOneAndDelete({ _id: 'c' })).toEqual({ _id: 'c', n: 51 });
    expect(await counters.find({}).toArray()).toEqual([]);
  });

  it('deletes one or many', async () => {
    const people = db.collection('people');
    await people.insertMany([{ age: 1 }, { age: 1 }, { age: 1 }, { age: 2 }]);
    expect((await people.deleteOne({ age: 1 })).deletedCount).toBe(1);
    expect((await people.deleteMany({ age: 1 })).deletedCount).toBe(2);
    expect(await people.find({}, { projection: { _id: 0 } }).toArray()).toEqual([{ age: 2 }]);
  });
});

describe('indexes', () => {
  it('enforces unique indexes with E11000 and lists them', async () => {
    const chats = db.collection('chats');
    await chats.createIndex({ room: 1, seq: 1 }, { unique: true });
    await chats.insertOne({ room: 'a', seq: 1 });
    await chats.insertOne({ room: 'b', seq: 1 });
    const duplicate = await chats.insertOne({ room: 'a', seq: 1 }).catch((error) => error);
    expect(duplicate).toBeInstanceOf(MongoServerError);
    expect(duplicate).toMatchObject({ code: 11000 });
    const moved = await chats
      .updateOne({ room: 'b' }, { $set: { room: 'a' } })
      .catch((error) => error);
    expect(moved).toMatchObject({ code: 11000 });
    expect(await chats.find({}, { projection: { _id: 0 } }).toArray()).toEqual([
      { room: 'a', seq: 1 },
      { room: 'b', seq: 1 },
    ]);
    const indexes = await chats.listIndexes().toArray();
    expect(indexes.map((index) => [index.name, index.unique ?? false])).toEqual([
      ['_id_', false],
      ['room_1_seq_1', true],
    ]);
    const id = (await chats.findOne({ room: 'a' }))!._id;
    await expect(chats.insertOne({ _id: id, room: 'c', seq: 9 })).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('refuses a unique index over duplicates', async () => {
    const chats = db.collection('chats');
    await chats.insertMany([{ room: 'a' }, { room: 'a' }]);
    await expect(chats.createIndex({ room: 1 }, { unique: true })).rejects.toMatchObject({
      code: 11000,
    });
  });
});

describe('what it does not do', () => {
  it('answers any other command with code 59 and says the test server does not support it', async () => {
    const failure = await db.command({ collStats: 'people' }).catch((error) => error);
    expect(failure).toBeInstanceOf(MongoServerError);
    expect(failure).toMatchObject({ code: 59 });
    expect(failure.message).toMatch(/"collStats" is not supported by the test server/);
    const upsert = db.collection('x').updateOne({ a: 1 }, { $set: { b: 1 } }, { upsert: true });
    await expect(upsert).rejects.toMatchObject({ code: 59 });
    // countDocuments is an aggregate, which the store never sends.
    await expect(db.collection('x').countDocuments({})).rejects.toMatchObject({ code: 59 });
  });
});

describe('an outage', () => {
  it('stop() refuses connections; start() serves the same data on the same port', async () => {
    await db.collection('kept').insertOne({ _id: 'k' as never, v: 1 });
    const port = wire.port;

    await wire.stop();
    const failed = await db
      .collection('kept')
      .findOne({})
      .catch((error) => error);
    expect(failed).toBeInstanceOf(Error);
    const again = await db
      .collection('kept')
      .findOne({})
      .catch((error) => error);
    expect(again).toBeInstanceOf(MongoServerSelectionError);

    await wire.start();
    expect(wire.port).toBe(port);
    // A client of its own: the one above checks the server at most every 500 ms, and its 500 ms
    // of server selection may run out just before its next check sees the server back.
    const fresh = await MongoClient.connect(`${wire.url}/?serverSelectionTimeoutMS=5000`);
    try {
      expect(await fresh.db(db.databaseName).collection('kept').findOne({})).toEqual({
        _id: 'k',
        v: 1,
      });
    } finally {
      await fresh.close();
    }
  });

  it('drops one database and keeps the others', async () => {
    await db.collection('a').insertOne({ v: 1 });
    const other = client.db('wire-other');
    await other.collection('a').insertOne({ v: 2 });
    await db.dropDatabase();
    expect(await db.collection('a').find({}).toArray()).toEqual([]);
    expect(
      await other
        .collection('a')
        .find({}, { projection: { _id: 0 } })
        .toArray(),
    ).toEqual([{ v: 2 }]);
  });
});

/**
 * A MongoDB server for tests: the real wire protocol over TCP, with an in-memory database, so the
 * mongo store and the server run against it exactly as they would against `mongod` (no `mongod`
 * can be installed on the project's machines). It speaks OP_MSG, and OP_QUERY/OP_REPLY for the
 * driver's first `isMaster` handshake; documents are encoded with the official `bson` package;
 * queries, updates and sorts are `mingo`'s. `stop()` and `start()` close and reopen the same port
 * with the data kept, to play a database outage.
 *
 * Limits: it answers exactly the commands the mongo store sends through mongoose (hello/isMaster,
 * ping, buildInfo, createIndexes, listIndexes, insert, find, getMore, killCursors, update, delete,
 * findAndModify, endSessions, dropDatabase); any other command, and upserts, collations, tailable
 * cursors and pipeline updates, get `{ok: 0, code: 59}` saying the test server does not support
 * them. It is one standalone server: no replica set, so no transactions, change streams or
 * retryable writes; no authentication, TLS or compression; write concerns and read preferences are
 * accepted and ignored. Each command runs alone and is atomic, as one document write is on `mongod`.
 * Only `_id` and unique indexes are enforced (other indexes are listed, never used), every query is
 * a scan, and mingo's operator semantics can differ from the server's in corners (type brackets
 * in sorts, for one). Nothing is written to disk. Set `MONGO_URL` to run the tests against a real
 * `mongod` instead.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type Document, deserialize, serialize } from 'bson';
import { MemoryDatabase } from './mongo-database.ts';

/** The wire protocol's opcodes this server speaks, and the OP_MSG flag bits it reads. */
const OP = { reply: 1, query: 2004, msg: 2013 } as const;
const MSG_FLAG = { checksumPresent: 1, moreToCome: 2 } as const;
const MAX_MESSAGE_BYTES = 48_000_000;

export interface MongoWireServer {
  /** `mongodb://127.0.0.1:PORT`: add `/<database>` (and `?options`) to connect. */
  readonly url: string;
  readonly port: number;
  readonly database: MemoryDatabase;
  /** Closes the port and every connection, as a crashed or stopped `mongod` would; keeps the data. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** Starts a test server on a free port of 127.0.0.1. */
export async function startMongoWireServer(): Promise<MongoWireServer> {
  const database = new MemoryDatabase();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;

  const listen = async () => {
    const listening = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      serveSocket(socket, database);
    });
    await new Promise<void>((done, fail) => {
      listening.once('error', fail);
      listening.listen(port, '127.0.0.1', () => {
        listening.off('error', fail);
        done();
      });
    });
    port = (listening.address() as { port: number }).port;
    server = listening;
  };

  await listen();
  return {
    database,
    get port() {
      return port;
    },
    get url() {
      return `mongodb://127.0.0.1:${port}`;
    },
    start: async () => {
      if (!server) await listen();
    },
    stop: async () => {
      const closing = server;
      if (!closing) return;
      server = null;
      const closed = new Promise<void>((done) => closing.close(() => done()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Reads whole messages off the socket and answers each in order. */
function serveSocket(socket: Socket, database: MemoryDatabase): void {
  socket.setNoDelay(true);
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readInt32LE(0);
      if (length < 16 || length > MAX_MESSAGE_BYTES) {
        socket.destroy();
        return;
      }
      if (pending.length < length) return;
      const message = pending.subarray(0, length);
      pending = pending.subarray(length);
      const reply = answer(message, database);
      if (reply === undefined) {
        // An opcode this server does not speak (compressed or pre-3.6 messages): hang up.
        socket.destroy();
        return;
      }
      if (reply) socket.write(reply);
    }
  });
  // The peer went away; nothing to tell anyone.
  socket.on('error', () => socket.destroy());
}

/** The reply to one message; null when the client asked for none, undefined for an unknown opcode. */
function answer(message: Buffer, database: MemoryDatabase): Buffer | null | undefined {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  if (opCode === OP.msg) {
    const flags = message.readUInt32LE(16);
    const command = readOpMsg(message, flags);
    const reply = database.run(command as Document & { $db: string });
    return flags & MSG_FLAG.moreToCome ? null : opMsg(requestId, reply);
  }
  if (opCode === OP.query) {
    const nameEnd = message.indexOf(0, 20);
    const collection = message.toString('utf8', 20, nameEnd);
    const query = deserialize(message.subarray(nameEnd + 9));
    const command = (query.$query as Document | undefined) ?? query;
    const [db, name] = collection.split('.');
    const reply =
      name === '$cmd'
        ? database.run({ ...command, $db: db ?? 'admin' })
        : { ok: 0, errmsg: 'OP_QUERY is only answered for commands', code: 352 };
    return opReply(requestId, reply);
  }
  return undefined;
}

/** The body section of an OP_MSG, with its document sequences (kind 1) as array fields. */
function readOpMsg(message: Buffer, flags: number): Document {
  const end = message.length - (flags & MSG_FLAG.checksumPresent ? 4 : 0);
  let body: Document = {};
  const sequences: Document = {};
  let offset = 20;
  while (offset < end) {
    const kind = message[offset];
    offset += 1;
    const size = message.readInt32LE(offset);
    if (kind === 0) {
      body = deserialize(message.subarray(offset, offset + size));
      offset += size;
      continue;
    }
    const sectionEnd = offset + size;
    const nameEnd = message.indexOf(0, offset + 4);
    const identifier = message.toString('utf8', offset + 4, nameEnd);
    const documents: Document[] = [];
    for (let at = nameEnd + 1; at < sectionEnd; ) {
      const documentSize = message.readInt32LE(at);
      documents.push(deserialize(message.subarray(at, at + documentSize)));
      at += documentSize;
    }
    sequences[identifier] = documents;
    offset = sectionEnd;
  }
  return { ...body, ...sequences };
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const buffer = Buffer.alloc(16);
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(nextRequestId++, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
  return buffer;
}

function encode(reply: Document): Buffer {
  try {
    return Buffer.from(serialize(reply));
  } catch (error) {
    return Buffer.from(serialize({ ok: 0, errmsg: (error as Error).message, code: 10334 }));
  }
}

function opMsg(responseTo: number, reply: Document): Buffer {
  const body = encode(reply);
  const flags = Buffer.alloc(5);
  // flagBits 0, then section kind 0 (the body).
  return Buffer.concat([header(16 + 5 + body.length, responseTo, OP.msg), flags, body]);
}

function opReply(responseTo: number, reply: Document): Buffer {
  const body = encode(reply);
  // responseFlags, cursorID (int64), startingFrom, numberReturned.
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(1, 16);
  return Buffer.concat([header(16 + 20 + body.length, responseTo, OP.reply), fields, body]);
}

/** Where the mongo tests keep their databases: MONGO_URL's `mongod` when set, else a test server. */
export interface MongoForTests {
  /** The test server, or null when the tests run against a real `mongod`. */
  wire: MongoWireServer | null;
  /** A URL of database `name`, failing within 1 s while the database cannot be reached. */
  urlFor(name: string): string;
  dropDatabase(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function mongoForTests(): Promise<MongoForTests> {
  const real = process.env.MONGO_URL;
  const wire = real ? null : await startMongoWireServer();
  // The scheme and hosts of the URL, without its database and options.
  const base = real ? /^(mongodb(?:\+srv)?:\/\/[^/?]+)/.exec(real)?.[1] : wire!.url;
  if (!base) throw new Error(`MONGO_URL is not a mongodb:// URL: ${real}`);
  const query = real?.includes('?') ? `&${real.split('?')[1]}` : '';
  const urlFor = (name: string) => `${base}/${name}?serverSelectionTimeoutMS=1000${query}`;
  return {
    wire,
    urlFor,
    dropDatabase: async (name) => {
      if (wire) return wire.database.dropDatabase(name);
      const { default: mongoose } = await import('mongoose');
      const connection = await mongoose.createConnection(urlFor(name)).asPromise();
      await connection.dropDatabase();
      await connection.close();
    },
    close: async () => {
      await wire?.stop();
    },
  };
}

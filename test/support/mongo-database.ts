import {
  calculateObjectSize,
  type Document,
  deserialize,
  EJSON,
  Long,
  ObjectId,
  serialize,
} from 'bson';
import { find, Query, update } from 'mingo';
import { MemoryCollection } from './mongo-collection.ts';

/**
 * The in-memory database behind the wire-protocol test server (mongo-wire.ts, whose top paragraph
 * lists what it leaves out). Every command runs synchronously, so each one is atomic, as a single
 * document write is on a real `mongod`. Query, update and sort semantics are mingo's.
 */

/** A failed command, as a server answers it (the driver turns it into a MongoServerError). */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;

  constructor(code: number, codeName: string, message: string) {
    super(message);
    this.code = code;
    this.codeName = codeName;
  }
}

function unsupported(what: string): CommandError {
  return new CommandError(
    59,
    'CommandNotFound',
    `${what} is not supported by the test server (test/support/mongo-wire.ts)`,
  );
}

/** Batches stay well under the 16 MiB a reply document may hold. */
const BATCH_BYTES = 8 * 1024 * 1024;
const DEFAULT_BATCH = 101;

type Command = Document & { $db: string };
type Handler = (database: MemoryDatabase, command: Command) => Document;

/** Databases of collections, and the open cursors of `find`. */
export class MemoryDatabase {
  readonly #collections = new Map<string, MemoryCollection>();
  readonly #cursors = new Map<number, { ns: string; documents: Document[] }>();
  #nextCursor = 1;
  /** Every command name received, in order (tests read it). */
  readonly received: string[] = [];

  /** Runs one command and returns the reply document, `{ok: 1, ...}` or `{ok: 0, errmsg, code}`. */
  run(command: Command): Document {
    const name = Object.keys(command)[0] ?? '';
    this.received.push(name);
    const handler = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    try {
      if (!handler) throw unsupported(`the command "${name}"`);
      return { ...handler(this, command), ok: 1 };
    } catch (error) {
      if (error instanceof CommandError) {
        return { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName };
      }
      return { ok: 0, errmsg: (error as Error).message, code: 2, codeName: 'BadValue' };
    }
  }

  collection(command: Command, create: boolean): MemoryCollection | undefined {
    const name = Object.values(command)[0];
    if (typeof name !== 'string' || name === '') {
      throw new CommandError(73, 'InvalidNamespace', 'a collection name is required');
    }
    const ns = `${command.$db}.${name}`;
    let collection = this.#collections.get(ns);
    if (!collection && create) {
      collection = new MemoryCollection();
      this.#collections.set(ns, collection);
    }
    return collection;
  }

  dropDatabase(name: string): void {
    for (const ns of this.#collections.keys()) {
      if (ns.startsWith(`${name}.`)) this.#collections.delete(ns);
    }
  }

  /** The first batch of a cursor over `documents`; the rest waits for `getMore`. */
  cursor(ns: string, documents: Document[], batchSize: number, single = false): Document {
    const firstBatch = takeBatch(documents, batchSize);
    let id = 0;
    if (documents.length > 0 && !single) {
      id = this.#nextCursor++;
      this.#cursors.set(id, { ns, documents });
    }
    return { cursor: { firstBatch, id: Long.fromNumber(id), ns } };
  }

  more(id: number, batchSize: number): Document {
    const cursor = this.#cursors.get(id);
    if (!cursor) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`);
    const nextBatch = takeBatch(cursor.documents, batchSize);
    if (cursor.documents.length === 0) this.#cursors.delete(id);
    const left = cursor.documents.length === 0 ? 0 : id;
    return { cursor: { nextBatch, id: Long.fromNumber(left), ns: cursor.ns } };
  }

  kill(ids: number[]): number[] {
    return ids.filter((id) => this.#cursors.delete(id));
  }
}

/** Takes up to `size` documents (and ~8 MiB) off the front of `documents`. */
function takeBatch(documents: Document[], size: number): Document[] {
  let bytes = 0;
  let count = 0;
  while (count < Math.min(size, documents.length) && (count === 0 || bytes < BATCH_BYTES)) {
    bytes += calculateObjectSize(documents[count]!);
    count += 1;
  }
  return documents.splice(0, count);
}

/** A deep copy that keeps BSON types (ObjectId, Date, Long...). */
function copy(document: Document): Document {
  return deserialize(serialize(document));
}

function matching(collection: MemoryCollection | undefined, filter: unknown): Document[] {
  if (!collection) return [];
  const query = new Query((filter ?? {}) as Document);
  return collection.documents.filter((document) => query.test(document));
}

function sorted(documents: Document[], sort: unknown): Document[] {
  const spec = sort as Record<string, 1 | -1> | undefined;
  if (!spec || Object.keys(spec).length === 0) return documents;
  return find(documents, {}).sort(spec).all() as Document[];
}

function projected(documents: Document[], projection: unknown): Document[] {
  const spec = projection as Document | undefined;
  if (!spec || Object.keys(spec).length === 0) return documents;
  return find(documents, {}, spec).all() as Document[];
}

/** `document` after an update: operators (`$set`, `$inc`...) or a whole replacement. */
function updated(document: Document, change: unknown, arrayFilters?: Document[]): Document {
  if (Array.isArray(change)) throw unsupported('an update with a pipeline');
  const next = copy(document);
  const operators = Object.keys(change as Document);
  if (operators.length > 0 && operators.every((key) => key.startsWith('$'))) {
    update(next, change as Document, arrayFilters);
    if (EJSON.stringify(next._id) !== EJSON.stringify(document._id)) {
      throw new CommandError(66, 'ImmutableField', "the field '_id' cannot be changed");
    }
    return next;
  }
  return { ...copy(change as Document), _id: document._id };
}

function refuseUpsert(upsert: unknown): void {
  if (upsert) throw unsupported('upsert');
}

const hello: Handler = () => ({
  helloOk: true,
  isWritablePrimary: true,
  ismaster: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  localTime: new Date(),
  logicalSessionTimeoutMinutes: 30,
  minWireVersion: 0,
  // MongoDB 7.0.
  maxWireVersion: 21,
  readOnly: false,
});

/** The commands mongoose sends for the mongo store, and a few a test needs. */
const COMMANDS: Record<string, Handler> = {
  hello,
  isMaster: hello,
  ismaster: hello,
  ping: () => ({}),
  buildInfo: () => ({ version: '7.0.0', versionArray: [7, 0, 0, 0], maxBsonObjectSize: 16777216 }),
  endSessions: () => ({}),
  dropDatabase: (database, command) => {
    database.dropDatabase(command.$db);
    return { dropped: command.$db };
  },

  createIndexes: (database, command) => {
    const collection = database.collection(command, true)!;
    const before = collection.indexes.length;
    for (const index of command.indexes as Document[]) {
      const failure = collection.addIndex({
        name: String(index.name),
        key: index.key,
        unique: index.unique === true,
      });
      if (failure) throw new CommandError(11000, 'DuplicateKey', failure.errmsg);
    }
    return { numIndexesBefore: before, numIndexesAfter: collection.indexes.length };
  },
  listIndexes: (database, command) => {
    const collection = database.collection(command, false);
    const ns = `${command.$db}.${command.listIndexes}`;
    if (!collection) throw new CommandError(26, 'NamespaceNotFound', `ns does not exist: ${ns}`);
    const indexes = collection.indexes.map(({ name, key, unique }) => ({
      v: 2,
      key,
      name,
      ...(unique && name !== '_id_' ? { unique } : {}),
    }));
    return database.cursor(ns, indexes, DEFAULT_BATCH);
  },

  insert: (database, command) => {
    const collection = database.collection(command, true)!;
    const writeErrors: Document[] = [];
    let n = 0;
    for (const [index, document] of (command.documents as Document[]).entries()) {
      const failure = collection.insert({ _id: new ObjectId(), ...document });
      if (failure) {
        writeErrors.push({ index, ...failure });
        if (command.ordered !== false) break;
      } else n += 1;
    }
    return writeErrors.length > 0 ? { n, writeErrors } : { n };
  },

  find: (database, command) => {
    for (const option of ['collation', 'tailable', 'awaitData', 'min', 'max']) {
      if (command[option] !== undefined) throw unsupported(`find with ${option}`);
    }
    const found = sorted(
      matching(database.collection(command, false), command.filter),
      command.sort,
    );
    const skip = Number(command.skip ?? 0);
    const limit = Math.abs(Number(command.limit ?? 0));
    const page = found.slice(skip, limit > 0 ? skip + limit : undefined);
    const batchSize = Number(command.batchSize ?? DEFAULT_BATCH);
    const ns = `${command.$db}.${command.find}`;
    return database.cursor(ns, projected(page, command.projection), batchSize, command.singleBatch);
  },
  getMore: (database, command) =>
    database.more(Number(command.getMore), Number(command.batchSize ?? Number.MAX_SAFE_INTEGER)),
  killCursors: (database, command) => {
    const ids = (command.cursors as unknown[]).map(Number);
    const killed = database.kill(ids);
    const notFound = ids.filter((id) => !killed.includes(id));
    return {
      cursorsKilled: killed,
      cursorsNotFound: notFound,
      cursorsAlive: [],
      cursorsUnknown: [],
    };
  },

  update: (database, command) => {
    const collection = database.collection(command, true)!;
    let n = 0;
    let nModified = 0;
    const writeErrors: Document[] = [];
    for (const [index, statement] of (command.updates as Document[]).entries()) {
      refuseUpsert(statement.upsert);
      const targets = matching(collection, statement.q);
      for (const target of statement.multi ? targets : targets.slice(0, 1)) {
        const next = updated(target, statement.u, statement.arrayFilters);
        n += 1;
        if (EJSON.stringify(next) === EJSON.stringify(target)) continue;
        const failure = collection.replace(target, next);
        if (failure) writeErrors.push({ index, ...failure });
        else nModified += 1;
      }
      if (writeErrors.length > 0 && command.ordered !== false) break;
    }
    return writeErrors.length > 0 ? { n, nModified, writeErrors } : { n, nModified };
  },

  delete: (database, command) => {
    const collection = database.collection(command, false);
    let n = 0;
    for (const statement of command.deletes as Document[]) {
      const targets = matching(collection, statement.q);
      const removed = Number(statement.limit) === 1 ? targets.slice(0, 1) : targets;
      collection?.remove(removed);
      n += removed.length;
    }
    return { n };
  },

  findAndModify: (database, command) => {
    refuseUpsert(command.upsert);
    const collection = database.collection(command, true)!;
    const [target] = sorted(matching(collection, command.query), command.sort);
    if (!target) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
    if (command.remove) {
      collection.remove([target]);
      return { lastErrorObject: { n: 1 }, value: projected([target], command.fields)[0] };
    }
    const next = updated(target, command.update, command.arrayFilters);
    const failure = collection.replace(target, next);
    if (failure) throw new CommandError(11000, 'DuplicateKey', failure.errmsg);
    const value = projected([command.new ? next : target], command.fields)[0];
    return { lastErrorObject: { n: 1, updatedExisting: true }, value };
  },
};

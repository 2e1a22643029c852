import { type Document, EJSON } from 'bson';

/** One collection of the wire-protocol test server's in-memory database (mongo-database.ts). */

export interface IndexSpec {
  name: string;
  key: Record<string, number>;
  unique: boolean;
}

/** A collection: its documents in insertion order and its indexes, the unique ones enforced. */
export class MemoryCollection {
  documents: Document[] = [];
  readonly indexes: IndexSpec[] = [{ name: '_id_', key: { _id: 1 }, unique: true }];
  /** Per unique index, the documents by key. */
  readonly #taken = new Map<string, Map<string, Document>>([['_id_', new Map()]]);

  /** Adds an index; a unique one fails (with the duplicate) when two documents share its key. */
  addIndex(spec: IndexSpec): Document | null {
    if (this.indexes.some((index) => index.name === spec.name)) return null;
    if (spec.unique) {
      const taken = new Map<string, Document>();
      for (const document of this.documents) {
        const key = keyOf(spec, document);
        if (taken.has(key)) return duplicate(spec, document);
        taken.set(key, document);
      }
      this.#taken.set(spec.name, taken);
    }
    this.indexes.push(spec);
    return null;
  }

  /** Inserts, or returns the write error of the unique index it breaks. */
  insert(document: Document): Document | null {
    return this.replace(null, document);
  }

  /** Puts `next` in the place of `previous` (null: at the end), unless a unique index refuses. */
  replace(previous: Document | null, next: Document): Document | null {
    for (const index of this.indexes) {
      const owner = this.#taken.get(index.name)?.get(keyOf(index, next));
      if (owner !== undefined && owner !== previous) return duplicate(index, next);
    }
    if (previous) this.#forget(previous);
    for (const index of this.indexes) this.#taken.get(index.name)?.set(keyOf(index, next), next);
    const at = previous ? this.documents.indexOf(previous) : -1;
    if (at === -1) this.documents.push(next);
    else this.documents[at] = next;
    return null;
  }

  remove(removed: readonly Document[]): void {
    const gone = new Set(removed);
    for (const document of removed) this.#forget(document);
    this.documents = this.documents.filter((document) => !gone.has(document));
  }

  #forget(document: Document): void {
    for (const index of this.indexes) this.#taken.get(index.name)?.delete(keyOf(index, document));
  }
}

function keyOf(index: IndexSpec, document: Document): string {
  const values = Object.keys(index.key).map((path) => valueAt(document, path) ?? null);
  return EJSON.stringify(values, { relaxed: true });
}

function valueAt(document: Document, path: string): unknown {
  let value: unknown = document;
  for (const part of path.split('.')) {
    value = value !== null && typeof value === 'object' ? (value as Document)[part] : undefined;
  }
  return value;
}

function duplicate(index: IndexSpec, document: Document): Document {
  const keyValue = Object.fromEntries(Object.keys(index.key).map((p) => [p, valueAt(document, p)]));
  return {
    code: 11000,
    errmsg: `E11000 duplicate key error index: ${index.name} dup key: ${EJSON.stringify(keyValue)}`,
    keyPattern: index.key,
    keyValue,
  };
}

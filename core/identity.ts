import { randomBytes } from 'node:crypto';
import ColorHashModule from 'color-hash';
import type { User } from './model.ts';

// color-hash is CommonJS with `exports.default`; under Node's ESM interop the class sits one level
// down, while bundlers and type definitions hand it over directly.
const ColorHash: typeof ColorHashModule =
  (ColorHashModule as unknown as { default?: typeof ColorHashModule }).default ?? ColorHashModule;
const colorHash = new ColorHash();

/** A fresh random session id. */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** The anonymous identity of a session, as in the book: `new ColorHash().hex(id)`. */
export function userOf(sessionId: string): User {
  return colorHash.hex(sessionId);
}

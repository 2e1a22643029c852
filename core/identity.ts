import { randomBytes } from 'node:crypto';
import ColorHashModule from 'color-hash';
import type { User, UserId } from './model.ts';

// color-hash is CommonJS with `exports.default`; under Node's ESM interop the class sits one level
// down, while bundlers and type definitions hand it over directly.
const ColorHash: typeof ColorHashModule =
  (ColorHashModule as unknown as { default?: typeof ColorHashModule }).default ?? ColorHashModule;
const colorHash = new ColorHash();

/**
 * A fresh `userId` (PROTOCOL.md, Identity): 128 random bits, base64url, public. It is who a
 * session is; knowing it gives nothing, since the session cookie that carries it is signed.
 */
export function newUserId(): string {
  return randomBytes(16).toString('base64url');
}

/** How a user is shown, as in the book: `new ColorHash().hex(userId)`. */
export function userOf(userId: UserId): User {
  return colorHash.hex(userId);
}

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

/**
 * Who is asking: the session's public `userId`, its colour and the password rooms this session
 * entered. Built by the edges from the session; the core never sees a cookie.
 */
export interface Visitor {
  /**
   * Who the visitor is (PROTOCOL.md, Identity): random, public, at least 96 bits. About 3,240
   * colours exist, so two visitors often share one; everything per user is keyed by this.
   */
  userId: UserId;
  /** How the visitor is shown: `new ColorHash().hex(userId)`. */
  user: User;
  granted: readonly string[];
}

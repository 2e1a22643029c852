import { randomFillSync } from 'node:crypto';

/** Random bytes are drawn this many at a time: one call into the system's generator per 4 KiB. */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `bytes` random bytes from the system's cryptographic generator as base64url text (16
 * characters for 12 bytes), as `randomBytes(bytes).toString('base64url')` gives, but drawn from a
 * pool refilled 4 KiB at a time: a message id is made per message, and a call into the generator
 * per id was 7 % of the CPU of a post (as `crypto.randomUUID` keeps a cache for the same reason).
 * Each byte is used once.
 */
export function randomId(bytes = 12): string {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} bytes`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return id;
}

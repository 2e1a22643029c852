import type { UnitKind } from '../views/wire-report.ts';

/**
 * What a traced connection carried, one direction at a time, cut into the units its wire is made
 * of as the bytes come: an HTTP head, then the body's chunks (chunked), the body (Content-Length)
 * or, after a 101, WebSocket frames. Cutting as it comes keeps a bounded capture readable: when
 * the oldest units go, the ones left still start at a unit's first byte.
 */

export interface Unit {
  kind: UnitKind;
  /** The unit's bytes, its first `CAPTURE.unitBytes` at most. */
  bytes: Buffer;
  /** Its whole length on the wire (more than `bytes.length` when it was cut). */
  length: number;
  /** When its last byte was seen (ms since the epoch). */
  at: number;
}

export const CAPTURE = {
  /** Bytes kept per direction of one exchange: the oldest units go first, the head stays. */
  directionBytes: 32 * 1024,
  /** Bytes kept of one unit; a longer one is counted whole but kept cut. */
  unitBytes: 16 * 1024,
  /** A head longer than this is no HTTP head the lab writes: what follows is kept as bytes. */
  headBytes: 16 * 1024,
} as const;

type Mode = 'head' | 'chunked' | 'length' | 'frames' | 'bytes';

/** One direction of an exchange: bytes in, units out, bounded. */
export class Direction {
  readonly units: Unit[] = [];
  /** Every byte seen, kept or not. */
  total = 0;
  /** Units dropped to stay in bounds. */
  dropped = 0;
  #mode: Mode;
  #pending: Buffer = Buffer.alloc(0);
  /** A unit longer than `unitBytes`, being counted: its kept start and the bytes still to come. */
  #long: { unit: Unit; rest: number } | undefined;
  #bodyLeft = 0;
  /** Bytes held in `units`. */
  #kept = 0;

  /** `head` for an HTTP message; `frames` for what follows an upgrade request's head. */
  constructor(mode: 'head' | 'frames' | 'bytes' = 'head') {
    this.#mode = mode;
  }

  /** Bytes as they crossed the socket. */
  feed(bytes: Buffer): void {
    this.total += bytes.length;
    let rest = bytes;
    if (this.#long) rest = this.#continueLong(rest);
    if (rest.length === 0) return;
    this.#pending = this.#pending.length === 0 ? rest : Buffer.concat([this.#pending, rest]);
    for (;;) {
      const next = this.#next();
      if (next === undefined) break;
      const [kind, size] = next;
      if (size > this.#pending.length) {
        if (this.#pending.length < CAPTURE.unitBytes) break;
        // Too long to wait for: keep its start, count the rest as it comes.
        const unit = this.#cut(kind, CAPTURE.unitBytes, size);
        this.#long = { unit, rest: size - this.#pending.length };
        this.#pending = Buffer.alloc(0);
        break;
      }
      this.#cut(kind, size, size);
      this.#pending = this.#pending.subarray(size);
    }
  }

  /** A unit given whole (a request head rebuilt from what the parser read). */
  add(kind: UnitKind, bytes: Buffer): void {
    this.total += bytes.length;
    this.#push({ kind, bytes: Buffer.from(bytes), length: bytes.length, at: Date.now() });
  }

  /** Bytes kept but not yet a whole unit (a frame cut by the end of the capture). */
  get pending(): number {
    return this.#pending.length;
  }

  #continueLong(bytes: Buffer): Buffer {
    const long = this.#long!;
    const taken = Math.min(long.rest, bytes.length);
    long.rest -= taken;
    long.unit.at = Date.now();
    if (long.rest === 0) this.#long = undefined;
    return bytes.subarray(taken);
  }

  /** The kind and length of the unit that starts the pending bytes, once known; moves the mode on. */
  #next(): [UnitKind, number] | undefined {
    const pending = this.#pending;
    if (pending.length === 0) return undefined;
    switch (this.#mode) {
      case 'head': {
        const end = pending.indexOf('\r\n\r\n');
        if (end !== -1) {
          const head = pending.subarray(0, end).toString('latin1');
          this.#mode = bodyMode(head);
          this.#bodyLeft = this.#mode === 'length' ? contentLength(head) : 0;
          return ['head', end + 4];
        }
        if (pending.length <= CAPTURE.headBytes) return undefined;
        this.#mode = 'bytes';
        return ['bytes', pending.length];
      }
      case 'chunked': {
        const size = chunkSize(pending);
        return size === undefined ? undefined : ['chunk', size];
      }
      case 'length':
        // The mode moves on once the body is cut (`#cut`).
        if (this.#bodyLeft > 0) return ['body', this.#bodyLeft];
        this.#mode = 'bytes';
        return ['bytes', pending.length];
      case 'frames': {
        const size = frameSize(pending);
        return size === undefined ? undefined : ['frame', size];
      }
      default:
        return ['bytes', pending.length];
    }
  }

  #cut(kind: UnitKind, kept: number, length: number): Unit {
    const bytes = Buffer.from(this.#pending.subarray(0, kept));
    const unit: Unit = { kind, bytes, length, at: Date.now() };
    if (kind === 'body') [this.#mode, this.#bodyLeft] = ['bytes', 0];
    this.#push(unit);
    return unit;
  }

  #push(unit: Unit): void {
    this.units.push(unit);
    this.#kept += unit.bytes.length;
    while (this.#kept > CAPTURE.directionBytes && this.units.length > 1) {
      // The first unit is the head: it says how to read the others.
      const [gone] = this.units.splice(this.units[0]!.kind === 'head' ? 1 : 0, 1);
      this.#kept -= gone!.bytes.length;
      this.dropped += 1;
    }
  }
}

/** How the body after this head is framed (RFC 9112, section 6.3, the cases the lab meets). */
function bodyMode(head: string): Mode {
  if (/^HTTP\/1\.[01] 101 /.test(head)) return 'frames';
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return 'chunked';
  if (/\r\ncontent-length:/i.test(head)) return 'length';
  return 'bytes';
}

function contentLength(head: string): number {
  return Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
}

/** `size-in-hex[;ext]\r\n data \r\n`; the last chunk is `0\r\n\r\n` (no trailers here). */
export function chunkSize(bytes: Buffer): number | undefined {
  const lineEnd = bytes.indexOf('\r\n');
  if (lineEnd === -1) return bytes.length > 32 ? bytes.length : undefined;
  const size = Number.parseInt(bytes.subarray(0, lineEnd).toString('latin1'), 16);
  if (!Number.isFinite(size)) return bytes.length;
  return lineEnd + 2 + size + 2;
}

/** RFC 6455, section 5.2: 2 bytes, then 2 or 8 of extended length, then 4 of mask, then payload. */
export function frameSize(bytes: Buffer): number | undefined {
  if (bytes.length < 2) return undefined;
  const masked = (bytes[1]! & 0x80) !== 0;
  const short = bytes[1]! & 0x7f;
  const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
  const header = 2 + extended + (masked ? 4 : 0);
  if (bytes.length < 2 + extended) return undefined;
  const length =
    short === 126
      ? bytes.readUInt16BE(2)
      : short === 127
        ? Number(bytes.readBigUInt64BE(2))
        : short;
  return header + length;
}

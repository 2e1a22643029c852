import { PART_KINDS, type PartKind } from '../views/wire-report.ts';

/**
 * The inspector's readers: one small parser per wire, each cutting a unit's bytes into marked
 * parts that add up to the unit exactly (the parts' lengths are its length). What is not one of
 * the lab's wires stays `bytes`. Client WebSocket payloads are masked on the wire: their part
 * keeps the wire's bytes and `shown`, the unmasked ones, for the eye.
 */

export { PART_KINDS, type PartKind };

export interface Part {
  kind: PartKind;
  /** What the part says, in the protocol's own terms (`FIN 1 · opcode 1 (text) · len 83`). */
  label: string;
  bytes: Buffer;
  /** The bytes as read (unmasked), when they differ from the wire's. */
  shown?: Buffer;
}

/** How a body or payload is read: which wire it is. */
export type Payload = 'json' | 'sse' | 'engine.io' | 'engine.io-polling' | 'text';

const part = (kind: PartKind, bytes: Buffer, label = ''): Part => ({ kind, label, bytes });

/** An HTTP/1.1 head: the request or status line, each header line, the blank line. */
export function headParts(bytes: Buffer): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n', at);
    const next = end === -1 ? bytes.length : end + 2;
    const line = bytes.subarray(at, next);
    if (at === 0) parts.push(part('start-line', line, line.toString('latin1').trim()));
    else if (next - at === 2) parts.push(part('head-end', line, 'CRLF'));
    else parts.push(part('header', line, line.toString('latin1').split(':', 1)[0]!));
    at = next;
  }
  return parts;
}

/** One chunk of a chunked body: its size line, its data (read as `payload`), its CRLF. */
export function chunkParts(bytes: Buffer, payload: Payload): Part[] {
  const lineEnd = bytes.indexOf('\r\n');
  if (lineEnd === -1) return [part('bytes', bytes)];
  const size = Number.parseInt(bytes.subarray(0, lineEnd).toString('latin1'), 16);
  const dataEnd = Math.min(bytes.length, lineEnd + 2 + (Number.isFinite(size) ? size : 0));
  const parts = [
    part('chunk-size', bytes.subarray(0, lineEnd + 2), `size 0x${size.toString(16)} = ${size}`),
  ];
  if (dataEnd > lineEnd + 2)
    parts.push(...payloadParts(bytes.subarray(lineEnd + 2, dataEnd), payload));
  if (dataEnd < bytes.length) parts.push(part('chunk-end', bytes.subarray(dataEnd), 'CRLF'));
  return parts;
}

/** Server-Sent Events (WHATWG HTML, 9.2.6): `field: value` lines, a blank line ends an event. */
export function sseParts(bytes: Buffer): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\n', at);
    const next = end === -1 ? bytes.length : end + 1;
    const line = bytes.subarray(at, end === -1 ? next : end);
    if (line.length === 0) {
      parts.push(part('sse-end', bytes.subarray(at, next), 'end of event'));
    } else {
      const colon = line.indexOf(':');
      const nameEnd = colon === -1 ? line.length : colon + (line[colon + 1] === 0x20 ? 2 : 1);
      const name = line.subarray(0, colon === -1 ? line.length : colon).toString('utf8');
      const value = line.subarray(nameEnd);
      parts.push(part('sse-field', line.subarray(0, nameEnd), name === '' ? 'comment' : name));
      if (value.length > 0) {
        parts.push(part(name === 'data' && looksJson(value) ? 'json' : 'sse-value', value, name));
      }
      if (end !== -1) parts.push(part('sse-end', bytes.subarray(end, next), 'LF'));
    }
    at = next;
  }
  return parts;
}

const OPCODES: Record<number, string> = {
  0: 'continuation',
  1: 'text',
  2: 'binary',
  8: 'close',
  9: 'ping',
  10: 'pong',
};

/** A WebSocket frame (RFC 6455, 5.2): FIN and opcode, MASK and length, mask key, payload. */
export function frameParts(bytes: Buffer, payload: Payload): Part[] {
  if (bytes.length < 2) return [part('bytes', bytes)];
  const fin = bytes[0]! >> 7;
  const opcode = bytes[0]! & 0x0f;
  const masked = bytes[1]! >> 7;
  const short = bytes[1]! & 0x7f;
  const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
  const length =
    short === 126 && bytes.length >= 4
      ? bytes.readUInt16BE(2)
      : short === 127 && bytes.length >= 10
        ? Number(bytes.readBigUInt64BE(2))
        : short;
  const name = OPCODES[opcode] ?? 'reserved';
  const lengthSaid = extended ? `${short} (extended)` : `${length}`;
  const label = `FIN ${fin} · opcode ${opcode} (${name}) · MASK ${masked} · length ${lengthSaid}`;
  const parts = [part('ws-header', bytes.subarray(0, 2), label)];
  let at = 2;
  if (extended) {
    parts.push(part('ws-length', bytes.subarray(at, at + extended), `length ${length}`));
    at += extended;
  }
  let key: Buffer | undefined;
  if (masked) {
    key = bytes.subarray(at, at + 4);
    parts.push(part('ws-mask', key, `masking key ${key.toString('hex')}`));
    at += 4;
  }
  const wire = bytes.subarray(at);
  if (wire.length === 0) return parts;
  const shown = key ? unmask(wire, key) : wire;
  const read = opcode === 1 ? payloadParts(shown, payload) : [part('bytes', shown, name)];
  if (!key) return [...parts, ...read];
  // Masked: every part keeps its bytes as they crossed the wire, and shows them unmasked.
  let offset = 0;
  for (const piece of read) {
    const end = offset + piece.bytes.length;
    parts.push({ ...piece, bytes: wire.subarray(offset, end), shown: piece.bytes });
    offset = end;
  }
  return parts;
}

/** A frame's payload, unmasked: what its sender meant. */
export function framePayload(bytes: Buffer): Buffer {
  if (bytes.length < 2) return Buffer.alloc(0);
  const short = bytes[1]! & 0x7f;
  const masked = (bytes[1]! & 0x80) !== 0;
  const start = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0);
  if (!masked) return bytes.subarray(start);
  return unmask(bytes.subarray(start + 4), bytes.subarray(start, start + 4));
}

export function unmask(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i += 1) out[i] = payload[i]! ^ key[i % 4]!;
  return out;
}

/** A body or payload read as the wire `payload` says. */
export function payloadParts(bytes: Buffer, payload: Payload): Part[] {
  switch (payload) {
    case 'sse':
      return sseParts(bytes);
    case 'engine.io':
      return engineParts(bytes);
    case 'engine.io-polling':
      return enginePollingParts(bytes);
    case 'json':
      return [part(looksJson(bytes) ? 'json' : 'text', bytes)];
    default:
      return [part('text', bytes)];
  }
}

const ENGINE_TYPES: Record<string, string> = {
  '0': 'open',
  '1': 'close',
  '2': 'ping',
  '3': 'pong',
  '4': 'message',
  '5': 'upgrade',
  '6': 'noop',
};

const SOCKET_TYPES: Record<string, string> = {
  '0': 'CONNECT',
  '1': 'DISCONNECT',
  '2': 'EVENT',
  '3': 'ACK',
  '4': 'CONNECT_ERROR',
  '5': 'BINARY_EVENT',
  '6': 'BINARY_ACK',
};

/**
 * One Engine.IO packet (its type digit), and inside a `message` a Socket.IO packet: its type
 * digit, the namespace up to `,` (absent for `/`), the acknowledgement id, then the JSON.
 */
export function engineParts(bytes: Buffer): Part[] {
  if (bytes.length === 0) return [];
  const type = String.fromCharCode(bytes[0]!);
  const parts = [
    part('eio-type', bytes.subarray(0, 1), `Engine.IO ${type} ${ENGINE_TYPES[type] ?? '?'}`),
  ];
  let at = 1;
  if (type === '4' && at < bytes.length) {
    const socketType = String.fromCharCode(bytes[at]!);
    parts.push(
      part(
        'sio-type',
        bytes.subarray(at, at + 1),
        `Socket.IO ${socketType} ${SOCKET_TYPES[socketType] ?? '?'}`,
      ),
    );
    at += 1;
    if (bytes[at] === 0x2f) {
      const comma = bytes.indexOf(',', at);
      const end = comma === -1 ? bytes.length : comma + 1;
      parts.push(
        part(
          'sio-namespace',
          bytes.subarray(at, end),
          bytes.subarray(at, comma === -1 ? end : comma).toString('utf8'),
        ),
      );
      at = end;
    }
    let digits = at;
    while (digits < bytes.length && bytes[digits]! >= 0x30 && bytes[digits]! <= 0x39) digits += 1;
    if (digits > at) {
      parts.push(
        part(
          'sio-ack',
          bytes.subarray(at, digits),
          `ack id ${bytes.subarray(at, digits).toString('latin1')}`,
        ),
      );
      at = digits;
    }
  }
  const rest = bytes.subarray(at);
  if (rest.length > 0) parts.push(part(looksJson(rest) ? 'json' : 'text', rest));
  return parts;
}

/** An Engine.IO polling body: packets separated by the record separator, `\x1e`. */
export function enginePollingParts(bytes: Buffer): Part[] {
  const parts: Part[] = [];
  let at = 0;
  while (at <= bytes.length) {
    const end = bytes.indexOf(0x1e, at);
    const stop = end === -1 ? bytes.length : end;
    parts.push(...engineParts(bytes.subarray(at, stop)));
    if (end === -1) break;
    parts.push(part('eio-separator', bytes.subarray(end, end + 1), 'record separator 0x1e'));
    at = end + 1;
  }
  return parts;
}

function looksJson(bytes: Buffer): boolean {
  const first = bytes[0];
  return first === 0x7b || first === 0x5b || first === 0x22;
}

import { describe, expect, it } from 'vitest';
import { CAPTURE, Direction } from './capture.ts';
import {
  chunkParts,
  enginePollingParts,
  frameParts,
  headParts,
  type Part,
  sseParts,
  unmask,
} from './wire.ts';

const total = (parts: Part[]) => parts.reduce((sum, part) => sum + part.bytes.length, 0);
const kinds = (parts: Part[]) => parts.map((part) => part.kind);
const texts = (parts: Part[]) => parts.map((part) => (part.shown ?? part.bytes).toString('utf8'));

/** A WebSocket frame as RFC 6455 writes it, masked when `key` is given. */
function frame(payload: Buffer, opcode = 1, key?: Buffer): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  if (!key) return Buffer.concat([head, payload]);
  head[1]! |= 0x80;
  return Buffer.concat([head, key, unmask(payload, key)]);
}

function bigLength(length: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(length));
  return bytes;
}

describe('the wire readers', () => {
  it('mark an HTTP head line by line, adding up to it', () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-A: b\r\n\r\n');
    const parts = headParts(head);
    expect(kinds(parts)).toEqual(['start-line', 'header', 'header', 'head-end']);
    expect(parts[0]!.label).toBe('HTTP/1.1 200 OK');
    expect(parts[1]!.label).toBe('Content-Type');
    expect(total(parts)).toBe(head.length);
  });

  it('mark a chunk of an SSE stream: size line, fields, the JSON, the blank line, CRLF', () => {
    const event = 'id: 7\nevent: chat\ndata: {"id":"m1","chat":"héllo"}\n\n';
    const size = Buffer.byteLength(event);
    const chunk = Buffer.from(`${size.toString(16)}\r\n${event}\r\n`);
    const parts = chunkParts(chunk, 'sse');
    expect(total(parts)).toBe(chunk.length);
    expect(parts[0]).toMatchObject({
      kind: 'chunk-size',
      label: `size 0x${size.toString(16)} = ${size}`,
    });
    expect(kinds(parts)).toEqual([
      'chunk-size',
      ...['sse-field', 'sse-value', 'sse-end'],
      ...['sse-field', 'sse-value', 'sse-end'],
      ...['sse-field', 'json', 'sse-end'],
      'sse-end',
      'chunk-end',
    ]);
    expect(texts(parts)[8]).toBe('{"id":"m1","chat":"héllo"}');
    // A comment (the heartbeat) is a field without a name.
    expect(sseParts(Buffer.from(': ping\n\n'))[0]).toMatchObject({
      kind: 'sse-field',
      label: 'comment',
    });
  });

  it('read a server frame, with the 126 and 127 extended lengths', () => {
    for (const length of [5, 125, 126, 300, 65535, 65536]) {
      const payload = Buffer.from(`"${'x'.repeat(length - 2)}"`);
      const bytes = frame(payload);
      const parts = frameParts(bytes, 'json');
      expect(total(parts), `length ${length}`).toBe(bytes.length);
      expect(parts[0]!.label).toMatch(/^FIN 1 · opcode 1 \(text\) · MASK 0 · length /);
      expect(parts.at(-1)!.kind).toBe('json');
      if (length >= 126)
        expect(parts[1]).toMatchObject({ kind: 'ws-length', label: `length ${length}` });
      else expect(parts[1]!.kind).toBe('json');
    }
  });

  it('unmask a client frame for the eye and keep its wire bytes', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from('42/chat,1["chat",{"chat":"hi"}]');
    const bytes = frame(payload, 1, key);
    const parts = frameParts(bytes, 'engine.io');
    expect(total(parts)).toBe(bytes.length);
    expect(kinds(parts)).toEqual([
      'ws-header',
      'ws-mask',
      'eio-type',
      'sio-type',
      'sio-namespace',
      'sio-ack',
      'json',
    ]);
    expect(parts[0]!.label).toContain('MASK 1');
    expect(parts[1]!.label).toBe('masking key 01020304');
    expect(texts(parts).slice(2).join('')).toBe(payload.toString());
    expect(Buffer.concat(parts.map((part) => part.bytes))).toEqual(bytes);
    expect(parts[5]!.label).toBe('ack id 1');
  });

  it('read an Engine.IO polling body: packets and their separators', () => {
    const body = Buffer.from('42/chat,["chat",{"id":"a"}]\x1e2\x1e43/chat,5[{"ok":true}]');
    const parts = enginePollingParts(body);
    expect(total(parts)).toBe(body.length);
    expect(kinds(parts)).toEqual([
      ...['eio-type', 'sio-type', 'sio-namespace', 'json'],
      'eio-separator',
      'eio-type',
      'eio-separator',
      ...['eio-type', 'sio-type', 'sio-namespace', 'sio-ack', 'json'],
    ]);
    expect(parts[5]!.label).toBe('Engine.IO 2 ping');
  });

  it('take a close frame or a ping as bytes, never as text', () => {
    const parts = frameParts(frame(Buffer.from([0x03, 0xe8]), 8), 'json');
    expect(kinds(parts)).toEqual(['ws-header', 'bytes']);
    expect(parts[0]!.label).toContain('opcode 8 (close)');
  });
});

describe('a captured direction', () => {
  it('cuts an HTTP response into its head and its body, however its bytes come', () => {
    const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    const direction = new Direction();
    for (const byte of response) direction.feed(Buffer.from([byte]));
    expect(direction.units.map((unit) => [unit.kind, unit.bytes.toString()])).toEqual([
      ['head', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'],
      ['body', 'hello'],
    ]);
    expect(direction.total).toBe(response.length);
  });

  it('cuts a chunked stream into chunks and an upgraded socket into frames', () => {
    const stream = new Direction();
    stream.feed(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    stream.feed(Buffer.from('5\r\nhel'));
    stream.feed(Buffer.from('lo\r\n3\r\nabc\r\n'));
    expect(stream.units.map((unit) => unit.kind)).toEqual(['head', 'chunk', 'chunk']);
    expect(stream.units[1]!.bytes.toString()).toBe('5\r\nhello\r\n');

    const socket = new Direction();
    const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    socket.feed(head);
    const [a, b] = [frame(Buffer.from('{"a":1}')), frame(Buffer.alloc(300, 0x61))];
    socket.feed(Buffer.concat([a, b.subarray(0, 3)]));
    socket.feed(b.subarray(3));
    expect(socket.units.map((unit) => [unit.kind, unit.length])).toEqual([
      ['head', head.length],
      ['frame', a.length],
      ['frame', b.length],
    ]);
  });

  it('stays in bounds: keeps the head, drops the oldest units, keeps a long one cut', () => {
    const socket = new Direction('frames');
    const big = frame(Buffer.alloc(100_000, 0x61));
    socket.feed(big.subarray(0, 50_000));
    socket.feed(big.subarray(50_000));
    expect(socket.units).toHaveLength(1);
    expect(socket.units[0]).toMatchObject({ kind: 'frame', length: big.length });
    expect(socket.units[0]!.bytes.length).toBe(CAPTURE.unitBytes);
    const small = frame(Buffer.from('"x"'));
    socket.feed(small);
    expect(socket.units.at(-1)!.bytes).toEqual(small);
    for (let i = 0; i < 5000; i += 1) socket.feed(small);
    const kept = socket.units.reduce((sum, unit) => sum + unit.bytes.length, 0);
    expect(kept).toBeLessThanOrEqual(CAPTURE.directionBytes);
    expect(socket.dropped).toBeGreaterThan(0);
    expect(socket.total).toBe(big.length + 5001 * small.length);
  });
});

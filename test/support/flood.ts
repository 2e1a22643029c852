/**
 * A WebSocket client written by hand over `net`, below every library: it upgrades, sends masked
 * frames as fast as the socket takes them, and reads only when told to. What a hostile client
 * does to a server's queues, and what the server must survive.
 */
import { connect, type Socket } from 'node:net';

export interface RawWebSocket {
  socket: Socket;
  /** The status of the upgrade's answer (101 when it worked). */
  status: number;
  /** Text frames from the server, when reading (see `read`); control frames (pings) are skipped. */
  frames: string[];
  /** Start (or keep) reading and parsing the server's frames into `frames`. */
  read(): void;
  /** Stop reading: the server's frames pile up in its own queue. */
  pause(): void;
  /** Whether the socket has closed (or failed). */
  readonly closed: boolean;
}

/** Upgrades `path` on `port` by hand; resolves once the answer's headers are in. */
export function rawWebSocket(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawWebSocket> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    let closed = false;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
    });
    const all: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
      ...headers,
    };
    const lines = [
      `GET ${path} HTTP/1.1`,
      ...Object.entries(all).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let pending = Buffer.alloc(0);
    let status = 0;
    const frames: string[] = [];
    const parse = () => {
      for (;;) {
        const frame = nextFrame(pending);
        if (!frame) return;
        if (frame.opcode === 0x1) frames.push(frame.text);
        pending = pending.subarray(frame.length);
      }
    };
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (status === 0) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        status = Number(pending.subarray(9, 12).toString());
        pending = pending.subarray(end + 4);
        done(client);
      }
      parse();
    };
    const client: RawWebSocket = {
      socket,
      get status() {
        return status;
      },
      frames,
      read: () => socket.resume(),
      pause: () => socket.pause(),
      get closed() {
        return closed;
      },
    };
    socket.on('data', onData);
    socket.once('close', () => {
      if (status === 0) fail(new Error('the server closed the socket before answering'));
    });
  });
}

/** A masked client text frame (RFC 6455 5.2), as a browser would send it. */
export function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const length =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i += 1) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([length, mask, masked]);
}

/**
 * Writes `frame` again and again, as fast as the socket takes it (waiting for `drain`, so the
 * client's own memory stays flat), until `stop()` says so, the socket closes, or `ms` pass.
 * Resolves with the number of frames written.
 */
export async function flood(
  client: RawWebSocket,
  frame: Buffer,
  options: { stop?: () => boolean; ms?: number; count?: number } = {},
): Promise<number> {
  const { stop = () => false, ms = 10_000, count = Number.POSITIVE_INFINITY } = options;
  const batch = Buffer.concat(Array.from({ length: 256 }, () => frame));
  const deadline = Date.now() + ms;
  let written = 0;
  while (!client.closed && !stop() && Date.now() < deadline && written < count) {
    written += 256;
    if (!client.socket.write(batch)) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, 100);
        client.socket.once('drain', () => {
          clearTimeout(timer);
          done();
        });
        client.socket.once('close', () => done());
      });
    } else {
      await new Promise((done) => setImmediate(done));
    }
  }
  return written;
}

/** One unmasked server frame at the start of `buffer`, or null when it is not all there yet. */
function nextFrame(buffer: Buffer): { opcode: number; text: string; length: number } | null {
  if (buffer.length < 2) return null;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer.length < offset + length) return null;
  return {
    opcode: buffer[0]! & 0x0f,
    text: buffer.subarray(offset, offset + length).toString(),
    length: offset + length,
  };
}

import type { Server, Socket } from 'socket.io';
import { logger } from '../../core/log.ts';
import { type QueueSizes, queueSizes, SendBound } from '../transport.ts';

const debug = logger('socketio');

export type EngineSocket = Socket['conn'];
type Engine = Server['engine'];

/** A packet in engine.io's buffer. */
interface Packet {
  data?: unknown;
}

/**
 * What waits unsent on one engine.io connection, and its bound (one object, not two): the packets
 * engine.io buffers until it flushes them to the transport (every packet: events,
 * acknowledgements, pings), plus what the websocket transport has handed to its socket and the
 * peer has not read. A connection has one only while it differs from a fresh one.
 */
class Outbox extends SendBound {
  /** The bytes of the first `counted` packets of `buffer`, engine.io's buffer when last read. */
  buffered = 0;
  counted = 0;
  buffer: readonly Packet[] | undefined = undefined;
  /** A replay the client asked for is being written: it is checked once it is all out. */
  burst = false;
  /** The bound has cut the connection off (it closes on the next tick). */
  cut = false;

  /** Nothing buffered and the bound as it starts: a new Outbox would be the same. */
  get atRest(): boolean {
    return this.buffered === 0 && !this.burst && !this.cut && !this.raised;
  }
}

/**
 * The bound on every engine.io connection's unsent output (DESIGN.md, Bounded queues): a client
 * that stops reading, or a poller that stops polling, is cut off past `maxQueueBytes` and resumes
 * by seq when it reconnects. The transport says when it wrote to a connection (`wrote`), and the
 * packets engine.io has buffered since are counted then: a `packetCreate` listener would be a
 * fourth event name on every connection, which grows its listeners' dictionary from 160 to 256 B.
 * An Outbox is made when a packet has to wait (or a replay is written) and dropped once it is
 * flushed: an idle connection holds none, nor a Map entry, nor a `close` listener.
 */
export class Outboxes {
  readonly #maxQueueBytes: number;
  /** The connections whose output differs from a fresh one's (weak: a closed one needs no cleanup). */
  readonly #outboxes = new WeakMap<EngineSocket, Outbox>();
  /** Counts a connection cut off, once each. */
  readonly #cutOff: () => void;
  /** Every open connection, for `queues()`. */
  #clients: Record<string, EngineSocket> = {};

  constructor(maxQueueBytes: number, cutOff: () => void = () => undefined) {
    this.#maxQueueBytes = maxQueueBytes;
    this.#cutOff = cutOff;
  }

  /** The bound applies to every connection of `engine`. */
  watch(engine: Engine): void {
    // engine.io's types call it protected; it is the engine's table of open connections.
    this.#clients = (engine as unknown as { clients: Record<string, EngineSocket> }).clients;
    // The buffer went to the transport: the websocket's socket holds it now (see `unsent`). The
    // engine's `flush` names the connection: one listener for all of them.
    engine.on('flush', (conn: EngineSocket) => {
      const outbox = this.#outboxes.get(conn);
      if (!outbox) return;
      outbox.buffered = 0;
      outbox.counted = 0;
      outbox.buffer = undefined;
      this.#forgetAtRest(conn, outbox);
    });
  }

  /** The transport wrote a packet to `conn` (an event, an acknowledgement): checks its bound. */
  wrote(conn: EngineSocket): void {
    let outbox = this.#outboxes.get(conn);
    if (!outbox) {
      // Most packets go to the transport as they are written: nothing waits in engine.io's
      // buffer, and unless the websocket's socket holds too much, nothing needs an Outbox.
      if (bufferOf(conn).length === 0 && unsent(conn) <= this.#maxQueueBytes) return;
      outbox = this.#open(conn);
    }
    if (!outbox.burst) this.#check(conn, outbox);
  }

  /** Writes a replay the client asked for, then allows it on top of the bound. */
  burst(conn: EngineSocket, write: () => void): void {
    const outbox = this.#outboxes.get(conn) ?? this.#open(conn);
    const queued = unsent(conn, outbox);
    if (!outbox.mayBurst(queued)) {
      debug('closing a connection that asks for a replay with %d bytes unread', queued);
      this.#cut(conn, outbox);
      return;
    }
    outbox.burst = true;
    try {
      write();
    } finally {
      outbox.burst = false;
    }
    outbox.allowBurst(unsent(conn, outbox));
    this.#forgetAtRest(conn, outbox);
  }

  /** What waits unsent for each open connection now, for `stats()`. */
  queues(): QueueSizes {
    return queueSizes(Object.values(this.#clients), (conn) =>
      unsent(conn, this.#outboxes.get(conn)),
    );
  }

  #open(conn: EngineSocket): Outbox {
    const outbox = new Outbox(this.#maxQueueBytes);
    this.#outboxes.set(conn, outbox);
    return outbox;
  }

  /** Drops an Outbox that a fresh one would equal. */
  #forgetAtRest(conn: EngineSocket, outbox: Outbox): void {
    if (outbox.atRest && this.#outboxes.get(conn) === outbox) this.#outboxes.delete(conn);
  }

  /** A connection whose unsent packets pass the bound is cut off; it resumes by seq. */
  #check(conn: EngineSocket, outbox: Outbox): void {
    const queued = unsent(conn, outbox);
    if (!outbox.exceeded(queued) || conn.readyState !== 'open') return;
    debug('closing a connection with %d bytes unsent', queued);
    this.#cut(conn, outbox);
  }

  #cut(conn: EngineSocket, outbox: Outbox): void {
    if (outbox.cut) return;
    outbox.cut = true;
    this.#cutOff();
    cut(conn);
  }
}

/** Closes a connection at once, its websocket too (it reconnects and resumes by seq). */
function cut(conn: EngineSocket): void {
  // Not now: engine.io may be in the middle of creating a packet for this connection.
  process.nextTick(() => {
    const transport = conn.transport as { socket?: { terminate?(): void } };
    conn.close(true);
    transport.socket?.terminate?.();
  });
}

/**
 * Bytes waiting for `conn`: engine.io's buffer (its packets not counted yet are counted now, into
 * `outbox` if it has one), and the websocket's unsent frames.
 */
function unsent(conn: EngineSocket, outbox?: Outbox): number {
  const transport = conn.transport as { name: string; socket?: { bufferedAmount?: number } };
  const socket = transport.name === 'websocket' ? (transport.socket?.bufferedAmount ?? 0) : 0;
  return buffered(conn, outbox) + socket;
}

function buffered(conn: EngineSocket, outbox: Outbox | undefined): number {
  const buffer = bufferOf(conn);
  if (!outbox) return buffer.reduce((bytes, packet) => bytes + packetBytes(packet.data), 0);
  // A flush gave engine.io a new buffer: what the old one held went to the transport.
  if (outbox.buffer !== buffer) {
    outbox.buffer = buffer;
    outbox.buffered = 0;
    outbox.counted = 0;
  }
  for (; outbox.counted < buffer.length; outbox.counted += 1) {
    outbox.buffered += packetBytes(buffer[outbox.counted]!.data);
  }
  return outbox.buffered;
}

/** engine.io's packets not flushed yet (its Socket's `writeBuffer`, private in its types). */
function bufferOf(conn: EngineSocket): readonly Packet[] {
  return (conn as unknown as { writeBuffer: readonly Packet[] }).writeBuffer;
}

/** A packet's size: socket.io-parser's string, or a binary attachment. */
function packetBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

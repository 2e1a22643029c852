import type { Socket } from 'socket.io';
import { logger } from '../../core/log.ts';
import { type QueueSizes, queueSizes, SendBound } from '../transport.ts';

const debug = logger('socketio');

export type EngineSocket = Socket['conn'];

/**
 * What waits unsent on one engine.io connection, and its bound (one object, not two): the packets
 * engine.io buffers (counted as it creates them, every packet: events, acknowledgements, pings)
 * until it flushes them to the transport, plus what the websocket transport has handed to its
 * socket and the peer has not read.
 */
class Outbox extends SendBound {
  buffered = 0;
  /** A replay the client asked for is being written: it is checked once it is all out. */
  burst = false;
  /** The bound has cut the connection off (it closes on the next tick). */
  cut = false;
}

/**
 * The bound on every engine.io connection's unsent output (DESIGN.md, Bounded queues): a client
 * that stops reading, or a poller that stops polling, is cut off past `maxQueueBytes` and resumes
 * by seq when it reconnects.
 */
export class Outboxes {
  readonly #maxQueueBytes: number;
  /** Every open connection's, until it closes. */
  readonly #outboxes = new Map<EngineSocket, Outbox>();
  /** Counts a connection cut off, once each. */
  readonly #cutOff: () => void;
  /**
   * One listener of each for every connection (engine.io calls them with the connection as
   * `this`): closures per connection would cost a Context and two closures each.
   */
  readonly #connOnClose: (this: EngineSocket) => void;
  readonly #connOnPacketCreate: (this: EngineSocket, packet: { data?: unknown }) => void;
  readonly #connOnFlush: (this: EngineSocket) => void;

  constructor(maxQueueBytes: number, cutOff: () => void = () => undefined) {
    this.#maxQueueBytes = maxQueueBytes;
    this.#cutOff = cutOff;
    const outboxes = this.#outboxes;
    const watcher = this;
    this.#connOnClose = function connOnClose(this: EngineSocket) {
      outboxes.delete(this);
    };
    this.#connOnPacketCreate = function connOnPacketCreate(this: EngineSocket, packet) {
      const outbox = outboxes.get(this);
      if (!outbox) return;
      outbox.buffered += packetBytes(packet.data);
      if (!outbox.burst) watcher.#check(this, outbox);
    };
    // The buffer went to the transport: the websocket's socket holds it now (see `unsent`).
    this.#connOnFlush = function connOnFlush(this: EngineSocket) {
      const outbox = outboxes.get(this);
      if (outbox) outbox.buffered = 0;
    };
  }

  /** Every packet engine.io creates for `conn` from now on counts against its bound. */
  watch(conn: EngineSocket): void {
    this.#outboxes.set(conn, new Outbox(this.#maxQueueBytes));
    // `on`, not `once`: `once` would wrap it in a function per connection; it closes once.
    conn.on('close', this.#connOnClose);
    conn.on('packetCreate', this.#connOnPacketCreate);
    conn.on('flush', this.#connOnFlush);
  }

  /** Writes a replay the client asked for, then allows it on top of the bound. */
  burst(conn: EngineSocket, write: () => void): void {
    const outbox = this.#outboxes.get(conn);
    if (!outbox) {
      write();
      return;
    }
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
  }

  /** What waits unsent for each open connection now, for `stats()`. */
  queues(): QueueSizes {
    return queueSizes(this.#outboxes, ([conn, outbox]) => unsent(conn, outbox));
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

/** Bytes waiting for `conn`: engine.io's buffer, and the websocket's unsent frames. */
function unsent(conn: EngineSocket, outbox: Outbox): number {
  const transport = conn.transport as { name: string; socket?: { bufferedAmount?: number } };
  const socket = transport.name === 'websocket' ? (transport.socket?.bufferedAmount ?? 0) : 0;
  return outbox.buffered + socket;
}

/** A packet's size: socket.io-parser's string, or a binary attachment. */
function packetBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Counts requests and bytes on the wire (headers and framing included) for one group of
 * endpoints, for /api/stats. Bytes are read off the TCP socket, so they are what really crossed
 * the wire. A keep-alive socket can carry requests of several transports in turn: each request is
 * charged with what its socket read and wrote since the previous request on it ended, so every
 * request must be tracked by some meter (the shared routes have their own).
 */
export class WireMeter {
  requests = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  /** Sockets with a request of this meter in flight (streams included), and their marks. */
  readonly #open = new Map<Socket, Mark>();

  /** Charges this request, from now until its response ends, to this meter. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    this.requests += 1;
    const mark = takeMark(socket);
    this.#open.set(socket, mark);
    // A response emits `close` once it has been sent or its client went away, whichever first.
    // One listener shared by every response and the request's state in one object, rather than
    // a closure and a `once` wrapper per request (one a long poll, one a post).
    (res as TrackedResponse)[TRACKED] = new Tracked(this, socket, mark);
    res.on('close', responseClosed);
  }

  /** A tracked response has closed: its request's bytes are charged, unless a newer one took its socket. */
  settle(socket: Socket, mark: Mark): void {
    if (this.#open.get(socket) !== mark) return;
    this.#open.delete(socket);
    this.#charge(socket, mark);
  }

  /**
   * Charges a socket taken over for good (a WebSocket upgrade), from the end of its previous
   * request (so the upgrade request's own headers count) until it closes.
   */
  trackSocket(socket: Socket): void {
    this.requests += 1;
    const mark = takeMark(socket);
    this.#open.set(socket, mark);
    socket.once('close', () => {
      this.#open.delete(socket);
      this.#charge(socket, mark);
    });
  }

  /** Bytes in so far, open requests included. */
  get bytesIn(): number {
    let total = this.#bytesIn;
    for (const [socket, mark] of this.#open) total += socket.bytesRead - mark.read;
    return total;
  }

  get bytesOut(): number {
    let total = this.#bytesOut;
    for (const [socket, mark] of this.#open) total += socket.bytesWritten - mark.written;
    return total;
  }

  #charge(socket: Socket, mark: Mark): void {
    this.#bytesIn += socket.bytesRead - mark.read;
    this.#bytesOut += socket.bytesWritten - mark.written;
    marks.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
  }
}

interface Mark {
  read: number;
  written: number;
}

/** A request being tracked: its meter, its socket and where the socket's bytes stood. */
class Tracked {
  readonly meter: WireMeter;
  readonly socket: Socket;
  readonly mark: Mark;

  constructor(meter: WireMeter, socket: Socket, mark: Mark) {
    this.meter = meter;
    this.socket = socket;
    this.mark = mark;
  }
}

const TRACKED = Symbol('tracked');

interface TrackedResponse extends ServerResponse {
  [TRACKED]?: Tracked;
}

function responseClosed(this: TrackedResponse): void {
  const request = this[TRACKED];
  if (!request) return;
  this[TRACKED] = undefined;
  request.meter.settle(request.socket, request.mark);
}

/** Where each socket's previous request ended (a new socket starts at 0). */
const marks = new WeakMap<Socket, Mark>();

function takeMark(socket: Socket): Mark {
  return marks.get(socket) ?? { read: 0, written: 0 };
}

/**
 * `--workers N` (PROTOCOL.md, Many processes): one port, N worker processes (node:cluster), each
 * the whole app of server.ts without a listen of its own (worker.ts). They share rooms and events
 * through Redis (`--redis-url`); this module is only the plumbing.
 *
 * The primary listens and hands every connection to a worker with @socket.io/sticky: round robin,
 * except that a request naming a Socket.IO session (`sid=`) goes to the worker holding it, since
 * engine.io keeps a session in one process (a Transport's `localSessions`). Every response says
 * `Connection: close` (sticky's doing), so a client's next request is a new connection, balanced
 * again: long polling, SSE and ws need no stickiness, they resume by `seq` on any worker.
 *
 * A worker tells the primary `ready` once it serves, or `failed` with its exit status and line.
 * The primary prints the one ready line once all N are ready, restarts a worker that dies after
 * that, exits with a worker's failure to start (no restart loop), and on SIGTERM or SIGINT stops
 * every worker and exits 0.
 */
import type { SendHandle } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { exit, pid } from 'node:process';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setupPrimary, setupWorker } from '@socket.io/sticky';

declare module '@socket.io/sticky' {
  /** 2.0.1 exports it (`setupMaster` is its old name); its types name only the old one. */
  export function setupPrimary(
    httpServer: Server,
    options?: { loadBalancingMethod?: 'random' | 'round-robin' | 'least-connection' },
  ): void;
}

const WORKER_ENTRY = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** A worker that does not stop within this after SIGTERM is killed (its own limit is 5 s). */
const STOP_MS = 8000;

type WorkerReport =
  | { type: 'realtime-lab:ready'; port?: number }
  | { type: 'realtime-lab:failed'; status: number; message?: string };

export interface PrimaryPlan {
  workers: number;
  /** Off: the workers listen themselves, and node:cluster deals connections round robin. */
  sticky: boolean;
  port: number;
  host: string;
  /** Prints the ready line, once every worker serves. */
  announce(port: number): void;
  /** The exit status and line when the primary cannot listen. */
  failure(error: unknown): { status: number; message?: string };
}

/** The primary: listens, starts the workers, keeps them running, stops them. */
export async function runPrimary(plan: PrimaryPlan): Promise<void> {
  const server = createServer();
  let port = plan.port;
  const relayed = new RelayedConnections();
  if (plan.sticky) {
    setupPrimary(server, { loadBalancingMethod: 'round-robin' });
    relayed.watch(server);
    try {
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(plan.port, plan.host, () => {
          server.off('error', fail);
          done();
        });
      });
    } catch (error) {
      const { status, message } = plan.failure(error);
      if (message) console.error(message);
      exit(status);
    }
    port = (server.address() as AddressInfo).port;
  }

  const live = new Set<Worker>();
  const serving = new Set<Worker>();
  let announced = false;
  /** Set once: the status the primary exits with when the last worker has stopped. */
  let stopping: number | undefined;

  /** Stops every worker (SIGTERM, then SIGKILL past STOP_MS) and exits with `status`. */
  const shutdown = (status: number) => {
    if (stopping !== undefined) return;
    stopping = status;
    if (server.listening) server.close();
    setTimeout(() => {
      for (const worker of live) worker.process.kill('SIGKILL');
      exit(status || 1);
    }, STOP_MS).unref();
    for (const worker of live) worker.process.kill('SIGTERM');
    if (live.size === 0) exit(status);
  };

  const failToStart = (worker: Worker, status: number, message: string | undefined) => {
    if (stopping !== undefined) return;
    console.error(message ?? `worker ${worker.process.pid} could not start (status ${status})`);
    shutdown(status || 1);
  };

  const workerOnMessage = (worker: Worker, report: WorkerReport) => {
    if (report?.type === 'realtime-lab:failed') {
      failToStart(worker, report.status, report.message);
    } else if (report?.type === 'realtime-lab:ready') {
      if (report.port !== undefined) port = report.port;
      serving.add(worker);
      cluster.workers![worker.id] = worker;
      if (!announced && serving.size === plan.workers) {
        announced = true;
        plan.announce(port);
      }
    }
  };

  const workerOnExit = (worker: Worker, code: number | null, signal: string | null) => {
    live.delete(worker);
    relayed.endAll(worker);
    if (stopping !== undefined) {
      if (live.size === 0) exit(stopping);
      return;
    }
    const how = signal ? `signal ${signal}` : `status ${code}`;
    if (!serving.delete(worker)) {
      failToStart(
        worker,
        code || 1,
        `worker ${worker.process.pid} exited before it was ready (${how})`,
      );
      return;
    }
    console.error(`worker ${worker.process.pid} exited (${how}): starting another`);
    start();
  };

  const start = () => {
    const worker = cluster.fork();
    // Sticky balances over cluster.workers: a worker joins them once it serves, since a
    // connection handed to a process that is still loading the app would be lost.
    delete cluster.workers![worker.id];
    live.add(worker);
    relayed.track(worker);
    worker.on('message', (report: WorkerReport) => workerOnMessage(worker, report));
    worker.on('exit', (code: number | null, signal: string | null) => {
      // Its last report (`failed`, say) may still be on the way: the channel closes after it.
      if (worker.isConnected()) worker.once('disconnect', () => workerOnExit(worker, code, signal));
      else workerOnExit(worker, code, signal);
    });
  };

  // `advanced`: the structured clone keeps the Buffers sticky passes (request bytes) Buffers.
  cluster.setupPrimary({ exec: WORKER_ENTRY, serialization: 'advanced' });
  for (let i = 0; i < plan.workers; i += 1) start();
  process.once('SIGINT', () => shutdown(0));
  process.once('SIGTERM', () => shutdown(0));
}

/**
 * The connections sticky keeps in the primary: a request with a body (a POST) is relayed to its
 * worker chunk by chunk over IPC, the socket staying here. When that worker dies, sticky leaves the
 * socket open, and the client would wait for an answer that cannot come (seen: a post hung until
 * its client gave up): they are ended here instead, so the client sees the failure at once and
 * tries again. Which worker a connection went to is read off sticky's own message to it
 * (`sticky:http-chunk-start`), sent while it handles the connection's first chunk.
 */
class RelayedConnections {
  readonly #byWorker = new Map<Worker, Set<Duplex>>();
  #lastStart: Worker | undefined;

  /** After sticky's own listeners: sees each connection's first chunk once sticky has routed it. */
  watch(server: Server): void {
    server.on('connection', (socket: Duplex) => {
      socket.once('data', () => {
        const worker = this.#lastStart;
        this.#lastStart = undefined;
        if (!worker) return;
        const sockets = this.#byWorker.get(worker);
        if (!sockets) return;
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
    });
  }

  track(worker: Worker): void {
    this.#byWorker.set(worker, new Set());
    const send = worker.send.bind(worker) as (...args: unknown[]) => boolean;
    worker.send = ((...args: unknown[]) => {
      const message = args[0] as { type?: string } | undefined;
      if (message?.type === 'sticky:http-chunk-start') this.#lastStart = worker;
      return send(...args);
    }) as Worker['send'];
  }

  endAll(worker: Worker): void {
    for (const socket of this.#byWorker.get(worker) ?? []) socket.destroy();
    this.#byWorker.delete(worker);
  }
}

/**
 * Every response of a worker says which process it is: `X-Worker` for programs, and the same as
 * `Server-Timing`, the one response header a page can read (resource timing) of a request it did
 * not make with fetch: an EventSource's, or socket.io-client's polls.
 */
export function workerHeaders(): Record<string, string> {
  return { 'X-Worker': String(pid), 'Server-Timing': `worker;desc="${pid}"` };
}

/** What a worker serves: the app server.ts built without listening. */
export interface WorkerApp {
  server: Server;
  localSessions: EventEmitter | undefined;
}

/**
 * In a worker of `--sticky off`: listening itself, on the port every worker shares through
 * node:cluster (the primary accepts and deals connections round robin), and saying so.
 */
export function serveShared(port: number): void {
  report({ type: 'realtime-lab:ready', port });
}

/** In a worker: serves the connections the primary hands over, and tells it so. */
export function serveHandovers(app: WorkerApp): void {
  // Sticky's worker side needs two things of a Socket.IO server: the HTTP server to inject
  // connections into, and an engine whose sessions it reports to the primary. Without Socket.IO,
  // an engine that has none.
  const target = { httpServer: app.server, engine: app.localSessions ?? new EventEmitter() };
  setupWorker(target as unknown as Parameters<typeof setupWorker>[0]);
  meterHandovers(app.server);
  report({ type: 'realtime-lab:ready' });
}

/**
 * The meters (transports/meter.ts) read the bytes off each socket. A handed-over connection's
 * first chunk was read by the primary, and a connection the primary keeps (a request with a body:
 * sticky relays it) reaches the worker as sticky's stand-in, a Duplex with no counters: both are
 * counted here, so /api/stats says what crossed the wire.
 */
function meterHandovers(server: Server): void {
  const bytesReadOfHandle = Object.getOwnPropertyDescriptor(Socket.prototype, 'bytesRead')!.get!;
  // Before sticky's own listener: that one may serve the whole request before it returns.
  process.prependListener('message', (message: unknown, handle: SendHandle) => {
    const { type, data } = (message ?? {}) as { type?: string; data?: Uint8Array };
    if (type !== 'sticky:connection' || !(handle instanceof Socket)) return;
    const first = data?.length ?? 0;
    Object.defineProperty(handle, 'bytesRead', {
      get: () => (bytesReadOfHandle.call(handle) as number) + first,
    });
  });
  server.prependListener('connection', (socket: Duplex) => {
    if (socket instanceof Socket) return;
    let read = 0;
    let written = 0;
    socket.on('data', (chunk: Uint8Array) => {
      read += chunk.length;
    });
    const write = socket._write;
    socket._write = (chunk: Uint8Array, encoding, callback) => {
      written += chunk.length;
      write.call(socket, chunk, encoding, callback);
    };
    Object.defineProperties(socket, {
      bytesRead: { get: () => read },
      bytesWritten: { get: () => written },
    });
  });
}

/** In a worker that could not start: tells the primary (which prints `message`), then exits. */
export function reportStartFailure(status: number, message: string | undefined): void {
  report({ type: 'realtime-lab:failed', status, message }, () => exit(status));
}

function report(message: WorkerReport, then?: () => void): void {
  if (process.send) process.send(message, undefined, undefined, () => then?.());
  else then?.();
}

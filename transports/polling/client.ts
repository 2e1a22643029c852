import { ClientError, type ClientOptions, errorFrom, readJson } from '../client.ts';
import { Backoff, ClientBase, type ClientStream } from '../client-base.ts';

/**
 * In a page, `fetch` defaults to the browser's. In Node, `cookie` adds the session to every
 * request (unless you pass a `fetch` of your own).
 */
export interface PollingClientOptions extends ClientOptions {
  fetch?: typeof fetch;
  /** Seconds the server may hold each poll (PROTOCOL: default 25, at most 55); 0 is short polling. */
  wait?: number;
  /** Pause between an answer and the next poll, in ms (short polling in the lab); default 0. */
  interval?: number;
}

/** An answer that comes back empty long before `wait`: another poll of the session took its place. */
const DISPLACED_PAUSE_MS = 1000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];
/**
 * A poll unanswered this long past its `wait` is given up and sent again: a request the network
 * swallowed (a NAT that dropped it, a connection handed to a process that died at that instant)
 * must not hold the room for ever.
 */
const ANSWER_MARGIN_MS = 10_000;
/** Refusals that polling again will not cure. */
const FATAL = new Set([400, 401, 403, 404, 409]);

interface Answer {
  events: { type: string; id?: number; data: unknown }[];
  cursor: number;
}

/** One polling loop (the room's or the lobby's); a new connect or close() stops it. */
interface Loop {
  stopped: boolean;
  /** drop() aborted the poll in flight: poll again at once. */
  dropped: boolean;
  controller: AbortController | undefined;
  /** Ends a pause early. */
  wake: (() => void) | undefined;
  backoff: Backoff;
}

/**
 * HTTP long polling down (`/poll/room/:id`, `/poll/lobby`), POST up. Each answer's `cursor` is
 * where the next poll starts, so a lost or aborted poll loses nothing: the server replays from
 * the cursor. The first room poll asks with `wait=0`, so `connectRoom` resolves at once.
 */
export class PollingClient extends ClientBase {
  override readonly transport = 'polling' as const;
  readonly #wait: number;
  readonly #interval: number;
  readonly #loops: Partial<Record<ClientStream, Loop>> = {};

  constructor(options: PollingClientOptions = {}) {
    super(options);
    this.#wait = options.wait ?? 25;
    this.#interval = options.interval ?? 0;
  }

  protected override openRoom(room: string): void {
    void this.#runRoom(this.#start('room'), room);
  }

  protected override stopRoom(): void {
    this.#stop('room');
  }

  protected override openLobby(): void {
    void this.#runLobby(this.#start('lobby'));
  }

  protected override stopLobby(): void {
    this.#stop('lobby');
  }

  protected override dropConnections(): void {
    for (const loop of Object.values(this.#loops)) {
      if (!loop) continue;
      loop.dropped = true;
      loop.controller?.abort();
      loop.wake?.();
    }
  }

  /** A new loop for the room or the lobby, in place of the one before. */
  #start(which: ClientStream): Loop {
    this.#stop(which);
    const loop: Loop = {
      stopped: false,
      dropped: false,
      controller: undefined,
      wake: undefined,
      backoff: new Backoff(BACKOFF_MS, { jitter: true }),
    };
    this.#loops[which] = loop;
    return loop;
  }

  #stop(which: ClientStream): void {
    const loop = this.#loops[which];
    if (!loop) return;
    loop.stopped = true;
    loop.controller?.abort();
    loop.wake?.();
    this.#loops[which] = undefined;
  }

  async #runRoom(loop: Loop, room: string): Promise<void> {
    let wait = 0;
    while (!loop.stopped) {
      const query = new URLSearchParams({ wait: String(wait) });
      if (this.cursor !== undefined) query.set('after', String(this.cursor));
      const started = Date.now();
      const result = await this.#poll(
        loop,
        `/poll/room/${encodeURIComponent(room)}?${query}`,
        wait * 1000 + ANSWER_MARGIN_MS,
      );
      if (loop.stopped) return;
      if (result instanceof ClientError) {
        this.refused(result, 'room');
        return;
      }
      if (result === null) {
        // Back after a drop or a failure: the first poll answers at once, so the client is
        // open (and caught up) without waiting for the next event.
        wait = 0;
        if (loop.dropped) continue;
        this.roomLost();
        await pause(loop, loop.backoff.next());
        continue;
      }
      loop.backoff.reset();
      this.roomOpened();
      for (const event of result.events) {
        this.roomEvent(event.type, event.data, event.id);
        // `kicked` and `removeRoom` stopped the loop: polling again would be refused.
        if (loop.stopped) return;
      }
      this.cursor = result.cursor;
      const early = wait > 0 && result.events.length === 0 && Date.now() - started < wait * 500;
      await pause(loop, early ? DISPLACED_PAUSE_MS : this.#interval);
      wait = this.#wait;
    }
  }

  async #runLobby(loop: Loop): Promise<void> {
    let cursor: number | undefined;
    while (!loop.stopped) {
      const wait = cursor === undefined ? 0 : this.#wait;
      const query = new URLSearchParams({ wait: String(wait) });
      if (cursor !== undefined) query.set('cursor', String(cursor));
      const result = await this.#poll(loop, `/poll/lobby?${query}`, wait * 1000 + ANSWER_MARGIN_MS);
      if (loop.stopped) return;
      if (result instanceof ClientError) {
        this.refused(result, 'lobby');
        return;
      }
      if (result === null) {
        if (!loop.dropped) await pause(loop, loop.backoff.next());
        continue;
      }
      loop.backoff.reset();
      const sent = cursor;
      cursor = result.cursor;
      // The first answer only places the cursor; a cursor that moved by more than the events
      // it brought means events were missed (fell off the server's log, or a restart).
      if (sent === undefined || sent + result.events.length !== result.cursor) {
        await this.lobbyOpened(() => !loop.stopped);
        if (loop.stopped) return;
        if (sent !== undefined) continue;
      }
      for (const event of result.events) this.lobbyEvent(event.type, event.data);
      await pause(loop, this.#interval);
    }
  }

  /**
   * One poll: the answer, a refusal that polling again will not cure, or null: poll again after
   * a network failure, a drop, a stop, or a server failing or shutting down (503), an answer of
   * no known shape (none of them this client's fault).
   */
  async #poll(loop: Loop, path: string, limitMs: number): Promise<Answer | ClientError | null> {
    loop.dropped = false;
    const controller = new AbortController();
    loop.controller = controller;
    const timer = setTimeout(() => controller.abort(), limitMs);
    try {
      const response = await this.fetch(this.url(path), {
        headers: { accept: 'application/json' },
        cache: 'no-store',
        signal: controller.signal,
      });
      const body = await readJson(response);
      if (!response.ok) return FATAL.has(response.status) ? errorFrom(response.status, body) : null;
      return isAnswer(body) ? body : null;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
      if (loop.controller === controller) loop.controller = undefined;
    }
  }
}

/** Waits `ms`, or less if the loop is stopped or dropped meanwhile. */
function pause(loop: Loop, ms: number): Promise<void> {
  if (ms <= 0 || loop.stopped) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(wake, ms);
    function wake() {
      clearTimeout(timer);
      loop.wake = undefined;
      done();
    }
    loop.wake = wake;
  });
}

function isAnswer(body: unknown): body is Answer {
  if (typeof body !== 'object' || body === null) return false;
  const { events, cursor } = body as Record<string, unknown>;
  return Array.isArray(events) && typeof cursor === 'number';
}

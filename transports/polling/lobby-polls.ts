import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import type { LobbyEvent } from '../../core/model.ts';
import { encodeAnswer, encodeEvent, encodeFragments, onAbort, responseClosed } from './wire.ts';

interface LobbyPoll {
  readonly cursor: number;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  respond(body: string): void;
  readonly res: ServerResponse;
}

/**
 * `GET /poll/lobby?cursor=C&wait=S`. Lobby events carry no cursor of the core, so this log numbers
 * them. The count starts at the clock: a cursor from before a restart is then older than the log.
 * A cursor the log does not cover (fallen off, or from before a restart) gets no events and the
 * current cursor: the client sees that the cursor moved by more than the events it got, and
 * reloads GET /api/rooms (PROTOCOL: Events).
 */
export class LobbyPolls {
  /** Recent lobby events, oldest first, numbered 1 by 1 by `#cursor`. */
  #log: { n: number; fragment: string }[] = [];
  #cursor = Date.now();
  readonly #polls = new Set<LobbyPoll>();
  readonly #logSize: number;
  readonly #maxEvents: number;
  #flushing = false;
  readonly #countEvents: (count: number) => void;

  constructor(options: {
    logSize: number;
    maxEvents: number;
    countEvents: (count: number) => void;
  }) {
    this.#logSize = options.logSize;
    this.#maxEvents = options.maxEvents;
    this.#countEvents = options.countEvents;
  }

  /** Pending lobby polls now. */
  get pending(): number {
    return this.#polls.size;
  }

  poll(ctx: Context, cursor: number | undefined, wait: number): Promise<string> | string {
    // The first poll only learns where the log is; the client reads GET /api/rooms after it.
    if (cursor === undefined) return encodeAnswer([], this.#cursor);
    const ready = this.#after(cursor);
    if (ready === null || ready.length > 0 || wait === 0) return this.#answer(cursor);
    return new Promise((respond) => {
      const poll: LobbyPoll = {
        cursor,
        done: false,
        timer: undefined,
        respond,
        res: ctx.res,
      };
      onAbort(ctx.res, () => this.#finish(poll, false));
      poll.timer = setTimeout(() => this.#finish(poll, true), wait * 1000);
      this.#polls.add(poll);
    });
  }

  onEvent(event: LobbyEvent): void {
    this.#cursor += 1;
    this.#log.push({ n: this.#cursor, fragment: encodeEvent(event) });
    if (this.#log.length > 2 * this.#logSize) this.#log = this.#log.slice(-this.#logSize);
    if (this.#flushing || this.#polls.size === 0) return;
    // Events of one turn (a room and its update) go out in one answer.
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      for (const poll of [...this.#polls]) this.#finish(poll, true);
    });
  }

  /** Answers every pending poll; resolves to when each answer has left. */
  close(): Promise<void>[] {
    const ended = [...this.#polls].map((poll) => responseClosed(poll.res));
    for (const poll of [...this.#polls]) this.#finish(poll, true);
    return ended;
  }

  #finish(poll: LobbyPoll, send: boolean): void {
    if (poll.done) return;
    poll.done = true;
    clearTimeout(poll.timer);
    this.#polls.delete(poll);
    poll.respond(send ? this.#answer(poll.cursor) : '');
  }

  #answer(cursor: number): string {
    const ready = this.#after(cursor);
    if (ready === null) return encodeAnswer([], this.#cursor);
    const sent = ready.slice(0, this.#maxEvents);
    this.#countEvents(sent.length);
    return encodeFragments(
      sent.map((entry) => entry.fragment),
      cursor + sent.length,
    );
  }

  #after(cursor: number): { n: number; fragment: string }[] | null {
    const oldest = this.#log[0]?.n ?? this.#cursor + 1;
    if (cursor > this.#cursor || cursor < oldest - 1) return null;
    return this.#log.slice(cursor - oldest + 1);
  }
}

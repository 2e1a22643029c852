import { ChatError } from './errors.ts';
import type { Hub, RoomListener } from './hub.ts';
import { logError } from './log.ts';
import type { Message, MessageDraft, RoomEvent, SystemEventType, UserId } from './model.ts';
import type { Store } from './store/store.ts';

/** Stored messages read per store page on a replay. */
const HISTORY_PAGE = 500;
/**
 * Stored events kept per room for replays that start among them: at least this many, at most
 * twice (trimmed by half at a time, so an append does not shift the whole list every time).
 */
const RECENT_EVENTS = 256;
/** Events held per room while a gap before them is read from the store; past it they go on. */
const HELD_WHILE_FILLING = 10_000;
/** How long a gap's read waits before it tries the store again. */
const FILL_RETRY_MS = 500;

type Held = [event: RoomEvent, only: UserId | undefined];

/**
 * The ordered log of every room: what makes `seq` order publish order, and what every resume
 * reads. One task at a time per room (the append queue): a message is stored and published before
 * the next task of its room starts, and seq-less events (`members`, `kicked`) queue behind the
 * messages they follow. Published events come back through the hub to `#receive`, which fans them
 * out to this process's listeners in `seq` order: a seq already delivered is dropped, and a gap
 * (a message published after a later one, or missed while Redis was away) is read from the store
 * before what follows it goes on. A replay reads the room's recent events, or the store when it
 * starts further back.
 *
 * The same code serves one process (LocalHub: every publish is delivered at once, in order) and
 * many (RedisHub: with the Redis store, one script per message increments the room's counter,
 * appends to its stream and publishes, so order, storage and fan-out cannot disagree).
 */
export class RoomLog {
  readonly #store: Store;
  readonly #hub: Hub;
  /** Each room's highest seq delivered here: where a subscription without `after` starts. */
  readonly #lastSeqs = new Map<string, number>();
  /**
   * Each room's newest stored events since this process started, oldest first, without a gap up
   * to its last seq: the very objects live subscribers got. A replay that starts among them (a
   * long poll, a reconnect) reads no store and hands transports events they have already encoded.
   */
  readonly #recent = new Map<string, RoomEvent[]>();
  /** The tail of each room's queue. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** This process's listeners, by room. */
  readonly #listeners = new Map<string, Set<RoomListener>>();
  /** Rooms whose gap is being read from the store, and the events that came meanwhile. */
  readonly #filling = new Map<string, Held[]>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(
    store: Store,
    hub: Hub,
    onListenerError: (error: unknown) => void = (error) => logError('subscriber failed', error),
  ) {
    this.#store = store;
    this.#hub = hub;
    this.#onListenerError = onListenerError;
    hub.receiveRooms((room, event, only) => this.#receive(room, event, only));
    hub.onResync(() => this.#resync());
  }

  /** Starts logging a room whose newest stored seq is `lastSeq` (0 for a new room). */
  track(room: string, lastSeq: number): void {
    this.#lastSeqs.set(room, lastSeq);
  }

  /** Stops logging a removed room: later appends to it are refused (404). */
  forget(room: string): void {
    this.#lastSeqs.delete(room);
    this.#recent.delete(room);
    this.#filling.delete(room);
  }

  lastSeq(room: string): number {
    return this.#lastSeqs.get(room) ?? 0;
  }

  /** Runs `task` after every earlier task of the room: one order per room. */
  enqueue<T>(room: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(room) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.#queues.set(room, tail);
    tail.then(() => {
      if (this.#queues.get(room) === tail) this.#queues.delete(room);
    });
    return result;
  }

  /** Stores a message and publishes its event, in the room's order (404 once the room is gone). */
  append(type: 'chat' | SystemEventType, draft: MessageDraft): Promise<Message> {
    return this.enqueue(draft.room, async () => {
      if (!this.#lastSeqs.has(draft.room)) {
        throw new ChatError(404, 'This room does not exist (any more).', { code: 'roomGone' });
      }
      const message = await this.#store.appendMessage(draft);
      this.#hub.publishStored(draft.room, { type, id: message.seq, data: message });
      return message;
    });
  }

  /** A seq-less event, after every earlier task of the room; `only` narrows it to one user. */
  publish(room: string, event: RoomEvent, only?: UserId): Promise<void> {
    return this.enqueue(room, async () => this.#hub.publishRoom(room, event, only));
  }

  /** A seq-less event now, outside the queue (`removeRoom`, once the room is gone). */
  publishNow(room: string, event: RoomEvent): void {
    this.#hub.publishRoom(room, event);
  }

  /** Live events of a room, in seq order (see RoomListener), until `unlisten`. */
  listen(room: string, listener: RoomListener): void {
    let listeners = this.#listeners.get(room);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(room, listeners);
    }
    listeners.add(listener);
  }

  unlisten(room: string, listener: RoomListener): void {
    const listeners = this.#listeners.get(room);
    if (!listeners?.delete(listener)) return;
    if (listeners.size === 0) this.#listeners.delete(room);
  }

  /**
   * The stored events with `seq > after`, oldest first, at most `limit` of them: the recent ones
   * when they reach back that far (no store read), else pages of the store.
   */
  async replay(
    room: string,
    after: number,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<readonly RoomEvent[]> {
    const recent = this.#recentAfter(room, after);
    if (recent) return recent.length > limit ? recent.slice(0, limit) : recent;
    const events: RoomEvent[] = [];
    let cursor = after;
    let page: Message[];
    do {
      const size = Math.min(HISTORY_PAGE, limit - events.length);
      page = await this.#store.messagesAfter(room, cursor, size);
      for (const message of page) events.push(storedEvent(message));
      cursor = page.at(-1)?.seq ?? cursor;
      if (page.length < size) break;
    } while (events.length < limit);
    return events;
  }

  /** Resolves once every queued task has run (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()]);
  }

  /** An event published by any process, in the order the hub hands them. */
  #receive(room: string, event: RoomEvent, only: UserId | undefined): void {
    const held = this.#filling.get(room);
    if (held && held.length < HELD_WHILE_FILLING) {
      held.push([event, only]);
      return;
    }
    const last = this.#lastSeqs.get(room);
    if ('id' in event && last !== undefined && !held) {
      if (event.id <= last) return;
      if (event.id > last + 1) {
        void this.#fill(room, [[event, only]]);
        return;
      }
      this.#remember(room, event);
      this.#lastSeqs.set(room, event.id);
    }
    const listeners = this.#listeners.get(room);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener.receive(event, only);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  /**
   * Reads what the room's stored log has after the last seq delivered here (a page), hands it on
   * in order, then what was held meanwhile: a gap is closed before anything after it goes out.
   */
  async #fill(room: string, held: Held[]): Promise<void> {
    this.#filling.set(room, held);
    let missing: Message[] | undefined;
    while (missing === undefined && this.#filling.get(room) === held) {
      try {
        missing = await this.#store.messagesAfter(room, this.lastSeq(room), HISTORY_PAGE);
      } catch {
        await new Promise((done) => setTimeout(done, FILL_RETRY_MS));
      }
    }
    if (this.#filling.get(room) !== held) return;
    this.#filling.delete(room);
    for (const message of missing ?? []) this.#receive(room, storedEvent(message), undefined);
    for (const [event, only] of held) this.#receive(room, event, only);
  }

  /** After a lost connection came back: each room's log is read from the last seq seen here. */
  #resync(): void {
    for (const room of this.#lastSeqs.keys()) {
      if (!this.#filling.has(room)) void this.#fill(room, []);
    }
  }

  /** Keeps a stored event among the room's recent ones (see `#recent`). */
  #remember(room: string, event: RoomEvent & { id: number }): void {
    let recent = this.#recent.get(room);
    const last = recent?.at(-1) as { id: number } | undefined;
    // Only a gapless run is of use: start again if one was missed (it cannot, but never trust it).
    if (!recent || (last && last.id !== event.id - 1)) {
      recent = [];
      this.#recent.set(room, recent);
    }
    recent.push(event);
    if (recent.length >= 2 * RECENT_EVENTS) recent.splice(0, recent.length - RECENT_EVENTS);
  }

  /** The stored events with `seq > after`, when the recent ones reach back that far; else null. */
  #recentAfter(room: string, after: number): readonly RoomEvent[] | null {
    if (after >= this.lastSeq(room)) return [];
    const recent = this.#recent.get(room);
    const first = (recent?.[0] as { id: number } | undefined)?.id;
    if (!recent || first === undefined || first > after + 1) return null;
    return recent.slice(after + 1 - first);
  }
}

/** The text of each system message after the user it names; its event is read back from it. */
export const SYSTEM_TEXT = {
  join: ' joined',
  exit: ' left',
  owner: ' is now the owner',
} as const satisfies Record<SystemEventType, string>;

/** The event a stored message is sent as, on replay, and when another process stored it. */
export function storedEvent(message: Message): RoomEvent {
  let type: 'chat' | SystemEventType = 'chat';
  if (message.kind === 'system') {
    const text = message.chat ?? '';
    for (const [name, suffix] of Object.entries(SYSTEM_TEXT)) {
      if (text.endsWith(suffix)) type = name as SystemEventType;
    }
  }
  return { type, id: message.seq, data: message };
}

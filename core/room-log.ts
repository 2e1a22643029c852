import { ChatError } from './errors.ts';
import type { Hub, RoomListener } from './hub.ts';
import type { Message, MessageDraft, RoomEvent, SystemEventType, UserId } from './model.ts';
import type { Store } from './store/store.ts';

/** Stored messages read per store page on a replay. */
const HISTORY_PAGE = 500;
/** Stored events kept per room for replays that start among them. */
const RECENT_EVENTS = 256;

/**
 * The ordered log of every room: what makes `seq` order publish order, and what every resume
 * reads. One task at a time per room (the append queue): a message is stored, remembered and
 * published before the next task of its room starts, and seq-less events (`members`, `kicked`)
 * queue behind the messages they follow. Live events fan out through the hub; a replay reads the
 * room's recent events, or the store when it starts further back.
 *
 * In-process; the next step (PROTOCOL.md, Many processes) gives this interface a Redis
 * implementation in which one script per message increments the room's counter, appends to its
 * stream and publishes, so that order, storage and fan-out cannot disagree across processes.
 */
export class RoomLog {
  readonly #store: Store;
  readonly #hub: Hub;
  /** Each room's highest seq, as appended: where a subscription without `after` starts. */
  readonly #lastSeqs = new Map<string, number>();
  /**
   * Each room's newest stored events since this process started, oldest first, without a gap up
   * to its last seq: the very objects live subscribers got. A replay that starts among them (a
   * long poll, a reconnect) reads no store and hands transports events they have already encoded.
   */
  readonly #recent = new Map<string, RoomEvent[]>();
  /** The tail of each room's queue. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(store: Store, hub: Hub) {
    this.#store = store;
    this.#hub = hub;
  }

  /** Starts logging a room whose newest stored seq is `lastSeq` (0 for a new room). */
  track(room: string, lastSeq: number): void {
    this.#lastSeqs.set(room, lastSeq);
  }

  /** Stops logging a removed room: later appends to it are refused (404). */
  forget(room: string): void {
    this.#lastSeqs.delete(room);
    this.#recent.delete(room);
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
        throw new ChatError(404, 'This room does not exist (any more).');
      }
      const message = await this.#store.appendMessage(draft);
      const event: RoomEvent = { type, id: message.seq, data: message };
      this.#remember(draft.room, event);
      this.#lastSeqs.set(draft.room, message.seq);
      this.#hub.publishRoom(draft.room, event);
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

  /** Live events of a room, as the hub hands them (see RoomListener); returns the unsubscribe. */
  listen(room: string, listener: RoomListener): () => void {
    return this.#hub.subscribeRoom(room, listener);
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
    if (recent.length > RECENT_EVENTS) recent.splice(0, recent.length - RECENT_EVENTS);
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

/** The event a stored message is sent as, on replay. */
function storedEvent(message: Message): RoomEvent {
  let type: 'chat' | SystemEventType = 'chat';
  if (message.kind === 'system') {
    const text = message.chat ?? '';
    for (const [name, suffix] of Object.entries(SYSTEM_TEXT)) {
      if (text.endsWith(suffix)) type = name as SystemEventType;
    }
  }
  return { type, id: message.seq, data: message };
}

import type { LobbyEvent, RoomEvent, StoredRoom, UserId } from './model.ts';

/**
 * How events travel between the parts of the chat, and between processes: room events to the one
 * receiver that fans them out here (the RoomLog), lobby events to the lobby's listeners, and
 * changes to the room list to the one receiver that keeps this process's directory (the
 * ChatService). In one process (LocalHub) each is a function call. With `--redis-url` (RedisHub)
 * each goes through a Redis channel, to every process, this one included: every event is a plain
 * JSON-able object, and resume is by `seq`.
 *
 * `only` narrows an event to one user (`kicked`, by `userId`); whispers are narrowed by the
 * subscriber, from the message's `userId` and `toId`.
 */
export type RoomReceiver = (room: string, event: RoomEvent, only: UserId | undefined) => void;
/** A live subscriber of one room in this process (an object, not a closure: one per connection). */
export interface RoomListener {
  receive(event: RoomEvent, only: UserId | undefined): void;
}
export type LobbyListener = (event: LobbyEvent) => void;

/** A change to the room list that every process applies to its own copy. */
export type DirectoryChange = { op: 'put'; room: StoredRoom } | { op: 'delete'; id: string };
export type DirectoryReceiver = (change: DirectoryChange) => void;

export interface Hub {
  /** A room event, to every process's room log. */
  publishRoom(room: string, event: RoomEvent, only?: UserId): void;
  /**
   * A message the store has just stored, as its event: published like any room event, unless
   * the store published it itself, in the step that stored it (the Redis store).
   */
  publishStored(room: string, event: RoomEvent): void;
  /** The one receiver of room events in this process. */
  receiveRooms(receiver: RoomReceiver): void;
  publishLobby(event: LobbyEvent): void;
  subscribeLobby(listener: LobbyListener): () => void;
  publishDirectory(change: DirectoryChange): void;
  receiveDirectory(receiver: DirectoryReceiver): void;
  /** Runs `listener` when events may have been missed: a lost connection came back. */
  onResync(listener: () => void): void;
  /** Stops listening (shutdown). */
  close(): Promise<void>;
}

export class LocalHub implements Hub {
  #rooms: RoomReceiver = () => undefined;
  readonly #lobby = new Set<LobbyListener>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  publishRoom(room: string, event: RoomEvent, only?: UserId): void {
    this.#rooms(room, event, only);
  }

  publishStored(room: string, event: RoomEvent): void {
    this.#rooms(room, event, undefined);
  }

  receiveRooms(receiver: RoomReceiver): void {
    this.#rooms = receiver;
  }

  publishLobby(event: LobbyEvent): void {
    deliver(this.#lobby, event, this.#onListenerError);
  }

  subscribeLobby(listener: LobbyListener): () => void {
    this.#lobby.add(listener);
    return () => {
      this.#lobby.delete(listener);
    };
  }

  /** One process has one directory: nothing to tell. */
  publishDirectory(): void {}
  receiveDirectory(): void {}
  /** Nothing can be missed in one process. */
  onResync(): void {}
  async close(): Promise<void> {}
}

/**
 * Calls every listener with the event; one that throws is reported and does not stop the rest. A
 * copy, so a listener that unsubscribes (kicked, removeRoom) does not disturb the loop.
 */
export function deliver<T>(
  listeners: Set<(event: T) => void>,
  event: T,
  onError: (error: unknown) => void,
): void {
  for (const listener of [...listeners]) {
    try {
      listener(event);
    } catch (error) {
      onError(error);
    }
  }
}

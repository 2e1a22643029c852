import type { LobbyEvent, RoomEvent, UserId } from './model.ts';

/**
 * Fan-out of published events to subscribers, by room and for the lobby. In-process now; a
 * Redis-backed hub (pub/sub on the same two channels) can replace it without the ChatService or
 * any transport changing, because every event is a plain JSON-able object and resume is by `seq`.
 *
 * `only` narrows an event to one user (`kicked`, by `userId`); whispers are narrowed by the subscriber, from the
 * message's `userId` and `toId`. The same event object reaches every listener, so a transport can
 * encode it once and write the same bytes to every connection.
 */
export type RoomListener = (event: RoomEvent, only: UserId | undefined) => void;
export type LobbyListener = (event: LobbyEvent) => void;

export interface Hub {
  publishRoom(room: string, event: RoomEvent, only?: UserId): void;
  subscribeRoom(room: string, listener: RoomListener): () => void;
  publishLobby(event: LobbyEvent): void;
  subscribeLobby(listener: LobbyListener): () => void;
}

export class LocalHub implements Hub {
  readonly #rooms = new Map<string, Set<RoomListener>>();
  readonly #lobby = new Set<LobbyListener>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  publishRoom(room: string, event: RoomEvent, only?: UserId): void {
    const listeners = this.#rooms.get(room);
    if (!listeners) return;
    // A copy, so a listener that unsubscribes (kicked, removeRoom) does not disturb the loop.
    for (const listener of [...listeners]) {
      try {
        listener(event, only);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  subscribeRoom(room: string, listener: RoomListener): () => void {
    let listeners = this.#rooms.get(room);
    if (!listeners) {
      listeners = new Set();
      this.#rooms.set(room, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#rooms.get(room) === listeners) this.#rooms.delete(room);
    };
  }

  publishLobby(event: LobbyEvent): void {
    for (const listener of [...this.#lobby]) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  subscribeLobby(listener: LobbyListener): () => void {
    this.#lobby.add(listener);
    return () => {
      this.#lobby.delete(listener);
    };
  }
}

import type { LobbyEventType, Room } from '../core/model.ts';
import { readJson } from './client.ts';

/** What a LobbyMirror reports: the lobby events of PROTOCOL.md. */
export type LobbyEmit = (type: LobbyEventType, data: Room | { id: string }) => void;

/** Rooms asked for per page of `GET /api/rooms` (the most the server gives). */
const PAGE = 200;

/**
 * The lobby as a client knows it, the same for every transport. Lobby events carry no cursor
 * (PROTOCOL.md): after every (re)connect a client reads `GET /api/rooms` (every page, following
 * `next`) and reports what changed
 * since it last knew, as the events a live client would have seen. The first read only learns the
 * list (`quiet`), so that a later one can tell which rooms went away. A room a live event touched
 * while the list was loading keeps what the event said (the list may be older).
 */
export class LobbyMirror {
  readonly #rooms = new Map<string, Room>();
  readonly #emit: LobbyEmit;
  #touched: Set<string> | undefined;

  constructor(emit: LobbyEmit) {
    this.#emit = emit;
  }

  /** A live lobby event: remember it and pass it on. */
  event(type: LobbyEventType, data: Room | { id: string }): void {
    this.#touched?.add(data.id);
    if (type === 'removeRoom') this.#rooms.delete(data.id);
    else this.#rooms.set(data.id, data as Room);
    this.#emit(type, data);
  }

  /**
   * Reads the room list and reports the differences; `load(query)` fetches `/api/rooms` plus
   * `query` (a page). `current()` says whether the connection that asked is still the one in use
   * when the answer comes. Failures are quiet: the next reconnect tries again.
   */
  async resync(
    load: (query: string) => Promise<Response>,
    options: { quiet: boolean; current: () => boolean },
  ): Promise<void> {
    const touched = new Set<string>();
    this.#touched = touched;
    const rooms: Room[] = [];
    try {
      let query = `?limit=${PAGE}`;
      for (;;) {
        const response = await load(query);
        if (!response.ok) return;
        const page = (await readJson(response)) as { rooms: Room[]; next?: string };
        rooms.push(...page.rooms);
        if (page.next === undefined) break;
        query = `?limit=${PAGE}&before=${encodeURIComponent(page.next)}`;
      }
    } catch {
      return;
    } finally {
      if (this.#touched === touched) this.#touched = undefined;
    }
    if (!options.current()) return;
    const listed = new Set(rooms.map((room) => room.id));
    for (const id of [...this.#rooms.keys()]) {
      if (listed.has(id) || touched.has(id)) continue;
      this.#rooms.delete(id);
      if (!options.quiet) this.#emit('removeRoom', { id });
    }
    for (const room of rooms) {
      if (touched.has(room.id)) continue;
      const known = this.#rooms.get(room.id);
      this.#rooms.set(room.id, room);
      if (options.quiet || (known && JSON.stringify(known) === JSON.stringify(room))) continue;
      this.#emit(known ? 'roomUpdate' : 'newRoom', room);
    }
  }

  clear(): void {
    this.#rooms.clear();
  }
}

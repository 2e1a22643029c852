import {
  type ClientError,
  type ClientOptions,
  errorFrom,
  LOBBY_EVENT_TYPES,
  ROOM_EVENT_TYPES,
  readJson,
} from '../client.ts';
import { ClientBase, type ClientStream } from '../client-base.ts';

/**
 * In a page, `EventSource` and `fetch` default to the browser's. In Node, pass the `eventsource`
 * package's EventSource; with `cookie` (and no `fetch` of your own) every request, the streams'
 * included, carries the session cookie.
 */
export interface SseClientOptions extends ClientOptions {
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
}

/** How long to wait before replacing a stream that its EventSource gave up on. */
const REOPEN_MS = 2000;

/**
 * Server-Sent Events down (`/sse/room/:id`, `/sse/lobby`), POST up. The EventSource reconnects
 * by itself and resumes with `Last-Event-ID`; this client adds what EventSource cannot do: read
 * the status and sentence of a refusal (EventSource reports none, so it asks again with fetch),
 * drop and resume from `lastSeq` on demand, and refetch the room list when the lobby reconnects.
 */
export class SseClient extends ClientBase {
  override readonly transport = 'sse' as const;
  readonly #EventSource: typeof EventSource;
  /** EventSource init: the `eventsource` package takes a `fetch`; the browser ignores it. */
  readonly #init: EventSourceInit | undefined;
  readonly #streams: Partial<Record<ClientStream, EventSource>> = {};

  constructor(options: SseClientOptions = {}) {
    const EventSourceClass = options.EventSource ?? globalThis.EventSource;
    if (!EventSourceClass) {
      throw new Error('SseClient needs an EventSource: in Node, pass the eventsource package one');
    }
    super(options);
    this.#EventSource = EventSourceClass;
    const customFetch = options.fetch !== undefined || options.cookie !== undefined;
    this.#init = customFetch ? ({ fetch: this.fetch } as EventSourceInit) : undefined;
  }

  protected override openRoom(room: string): void {
    const query = this.cursor === undefined ? '' : `?after=${this.cursor}`;
    const path = `/sse/room/${encodeURIComponent(room)}${query}`;
    this.#open('room', path, () => this.openRoom(room));
  }

  protected override stopRoom(): void {
    this.#stop('room');
  }

  protected override openLobby(): void {
    this.#open('lobby', '/sse/lobby', () => this.openLobby());
  }

  protected override stopLobby(): void {
    this.#stop('lobby');
  }

  protected override dropConnections(): void {
    if (this.#streams.room && this.room !== undefined) this.openRoom(this.room);
    if (this.#streams.lobby) this.openLobby();
  }

  /**
   * A new EventSource for the room or the lobby, in place of the one before; `reopen` replaces it
   * when its EventSource gives up.
   */
  #open(which: ClientStream, path: string, reopen: () => void): void {
    this.#stop(which);
    const url = this.url(path);
    const stream = new this.#EventSource(url, this.#init);
    this.#streams[which] = stream;
    const current = () => stream === this.#streams[which];
    const lost = () => (which === 'room' ? this.roomLost() : this.lobbyLost());
    let opened = false;

    stream.addEventListener('open', () => {
      if (!current()) return;
      opened = true;
      if (which === 'room') this.roomOpened();
      else void this.lobbyOpened(current);
    });
    for (const type of which === 'room' ? ROOM_EVENT_TYPES : LOBBY_EVENT_TYPES) {
      stream.addEventListener(type, (event) => {
        if (!current()) return;
        const data = parse(event);
        if (which === 'lobby') this.lobbyEvent(type, data);
        else this.roomEvent(type, data, Number(event.lastEventId));
      });
    }
    stream.addEventListener('error', () => {
      if (!current()) return;
      if (opened && stream.readyState !== stream.CLOSED) {
        // A network drop: EventSource reconnects by itself (the room's with Last-Event-ID).
        lost();
        return;
      }
      void this.#probe(url).then((error) => {
        if (!current()) return;
        if (error) {
          this.refused(error, which);
        } else if (stream.readyState === stream.CLOSED) {
          lost();
          setTimeout(() => {
            if (current()) reopen();
          }, REOPEN_MS);
        }
      });
    });
  }

  #stop(which: ClientStream): void {
    this.#streams[which]?.close();
    this.#streams[which] = undefined;
  }

  /**
   * EventSource reports a refusal as a bare `error`: ask the same URL with fetch for the status
   * and sentence. Null when the server would accept the stream now (or cannot be reached).
   */
  async #probe(url: string): Promise<ClientError | null> {
    const controller = new AbortController();
    try {
      const response = await this.fetch(url, {
        headers: { accept: 'text/event-stream' },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (response.ok) {
        controller.abort();
        return null;
      }
      return errorFrom(response.status, await readJson(response));
    } catch {
      return null;
    }
  }
}

function parse(event: MessageEvent<string>): unknown {
  try {
    return JSON.parse(event.data);
  } catch {
    return undefined;
  }
}

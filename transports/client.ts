import type { MembersPayload, Message, Room, RoomEventType, TransportName } from '../core/model.ts';

/**
 * The client side of every transport: `transports/<name>/client.ts` each export a class that
 * implements ChatClient, usable in the browser (bundled for the pages) and in Node (tests, bench).
 * They extend ClientBase (`client-base.ts`), which holds all they share; each adds its wire.
 * The chat page, the compare page, the tests and the bench swap transports by name.
 *
 * A client follows one room and/or the lobby. It keeps `lastSeq`, the highest `seq` it has seen
 * in the room, and every reconnect (its own after a drop, or the transport's native one) resumes
 * from it: nothing lost, nothing twice.
 */
export interface ChatClient {
  readonly transport: TransportName;
  /** The room stream's state. */
  readonly state: ClientState;
  /** The highest `seq` received in the room (0 before any). */
  readonly lastSeq: number;
  /**
   * Opens the room stream; resolves once it is live (PROTOCOL.md: every later event will come).
   * With `after`, stored messages with `seq > after` come first. Rejects with a ClientError
   * carrying the server's status and sentence (401, 403, 404, 409) when refused.
   */
  connectRoom(room: string, options?: { after?: number }): Promise<void>;
  /** Opens the lobby stream; resolves once it is live. */
  connectLobby(): Promise<void>;
  /** Sends a chat message (or a whisper to the user `toId`) the transport's way up; resolves with it. */
  send(chat: string, options?: { toId?: string }): Promise<Message>;
  on<K extends keyof ClientEvents>(type: K, listener: ClientListener<K>): () => void;
  /**
   * Ends the underlying connection as a network failure would; the client reconnects by itself
   * and resumes from `lastSeq`. For labs, the compare page and tests.
   */
  drop(): void;
  /** Closes every stream for good. */
  close(): void;
}

export type ClientState = 'connecting' | 'open' | 'closed';

/** What a client reports: the room and lobby events of PROTOCOL.md, plus its own state. */
export interface ClientEvents {
  chat: Message;
  join: Message;
  exit: Message;
  owner: Message;
  members: MembersPayload;
  /** From the room stream (then the client closes it) or the lobby stream; `id` says which. */
  removeRoom: { id: string };
  kicked: { id: string };
  newRoom: Room;
  roomUpdate: Room;
  state: ClientState;
  /** A refusal or failure the client cannot recover from by itself. */
  error: ClientError;
}

export type ClientListener<K extends keyof ClientEvents> = (data: ClientEvents[K]) => void;

export const ROOM_EVENT_TYPES = [
  'chat',
  'join',
  'exit',
  'owner',
  'members',
  'removeRoom',
  'kicked',
] as const satisfies readonly RoomEventType[];

export const LOBBY_EVENT_TYPES = ['newRoom', 'roomUpdate', 'removeRoom'] as const;

/**
 * What a client says by itself, when no server sentence came (a page says it in its own language,
 * `client.<code>` in its catalogue): the server did not confirm a message in time (it may have been
 * sent), the connection was lost or the client closed before it did.
 */
export type ClientErrorCode = 'unconfirmed' | 'lost' | 'closed';

/** A refusal: the server's status and sentence, or the client's own with a `code`. */
export class ClientError extends Error {
  readonly status: number;
  readonly code: ClientErrorCode | undefined;

  constructor(status: number, message: string, code?: ClientErrorCode) {
    super(message);
    this.name = 'ClientError';
    this.status = status;
    this.code = code;
  }
}

/** Options every client takes. In a page all are optional; in Node `baseUrl` and `cookie` matter. */
export interface ClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:8005`; in a page, `location.origin`. */
  baseUrl?: string;
  /** Node only: the `Cookie` header value of a session (browsers send their own). */
  cookie?: string;
  /**
   * The language the server's refusals should be said in (`en` or `ko`; a page passes its own).
   * Sent as `Accept-Language` on requests, and as `?lang=` where a browser sets no headers: the
   * WebSocket upgrade and the Socket.IO handshake. Without it the server follows the request's own
   * Accept-Language.
   */
  language?: string;
  /**
   * A trace token of the inspector (`POST /api/traces`): sent as `trace=` on every request,
   * stream, upgrade and handshake, so the server captures this client's bytes for its own
   * session. None in normal use.
   */
  trace?: string;
}

/** `path` with `trace=` added when `options` carry a token. */
export function tracedPath(options: ClientOptions, path: string): string {
  if (options.trace === undefined) return path;
  return `${path}${path.includes('?') ? '&' : '?'}trace=${encodeURIComponent(options.trace)}`;
}

/** A tiny typed event emitter, the same in the browser and in Node. */
export class Listeners {
  readonly #listeners = new Map<string, Set<(data: never) => void>>();

  on<K extends keyof ClientEvents>(type: K, listener: ClientListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as (data: never) => void);
    return () => set.delete(listener as (data: never) => void);
  }

  emit<K extends keyof ClientEvents>(type: K, data: ClientEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      (listener as ClientListener<K>)(data);
    }
  }
}

/**
 * POST /room/:id/chat with fetch: the way up of polling and SSE (and available to every client).
 * Throws a ClientError with the server's sentence on refusal.
 */
export async function postChat(
  options: ClientOptions,
  room: string,
  chat: string,
  toId?: string,
): Promise<Message> {
  const path = tracedPath(options, `/room/${encodeURIComponent(room)}/chat`);
  const response = await fetch(`${options.baseUrl ?? ''}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.language ? { 'accept-language': options.language } : {}),
    },
    body: JSON.stringify(toId === undefined ? { chat } : { chat, toId }),
    credentials: 'same-origin',
  });
  const body = await readJson(response);
  if (!response.ok) throw errorFrom(response.status, body);
  return (body as { message: Message }).message;
}

export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

export function errorFrom(status: number, body: unknown): ClientError {
  const sentence =
    typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string'
      ? body.error
      : `The server answered ${status}.`;
  return new ClientError(status, sentence);
}

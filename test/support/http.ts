import { gifForm } from './files.ts';

/** A visitor as a program is one: a cookie jar of one session, and fetch with it. */
export interface Session {
  /** The session's colour. */
  user: string;
  /** Who the session is (PROTOCOL.md, Identity). */
  userId: string;
  cookie: string;
  /** fetch against the server with this session's cookie (and JSON by default). */
  fetch(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** POST /room as JSON; returns the room. */
  createRoom(body?: Record<string, unknown>): Promise<{ id: string; [key: string]: unknown }>;
  /** POST /room/:id/chat (a whisper to the user `toId`); returns the message. */
  say(room: string, chat: string, toId?: string): Promise<{ seq: number; [key: string]: unknown }>;
  /** POST /room/:id/kick with `{userId}` (whatever it is); returns the status. */
  kick(room: string, userId: unknown): Promise<number>;
  /** POSTs an HTML form (urlencoded `body`), as a page does. */
  postForm(path: string, body: string): Promise<Response>;
  /** POST /room/:id/gif with the file `name` holding `bytes`, as the chat page uploads it. */
  uploadGif(room: string, bytes: Buffer, name: string, type?: string): Promise<Response>;
}

/** GET /api/me: a new session, as PROTOCOL.md tells programs to start. */
export async function newSession(baseUrl: string): Promise<Session> {
  const response = await fetch(`${baseUrl}/api/me`);
  if (response.status !== 200) throw new Error(`/api/me answered ${response.status}`);
  const { user, userId } = (await response.json()) as { user: string; userId: string };
  return sessionOf(baseUrl, { user, userId }, cookieHeader(response));
}

/**
 * New sessions until one has `colour` (another user of that colour, as an attacker would grind
 * them out of /api/me): about 3,240 colours exist, so this takes a few thousand calls, and needs
 * a server with `limits: false`. Gives up after `tries`.
 */
export async function sessionOfColour(
  baseUrl: string,
  colour: string,
  tries = 40_000,
): Promise<Session> {
  for (let i = 0; i < tries; i += 1) {
    const session = await newSession(baseUrl);
    if (session.user === colour) return session;
  }
  throw new Error(`no session of ${colour} in ${tries} tries`);
}

export function sessionOf(
  baseUrl: string,
  { user, userId }: { user: string; userId: string },
  cookie: string,
): Session {
  const session: Session = {
    user,
    userId,
    cookie,
    fetch: (path, init = {}) => {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
      if (!headers.has('accept')) headers.set('accept', 'application/json');
      if (json !== undefined) {
        headers.set('content-type', 'application/json');
        rest.body = JSON.stringify(json);
      }
      return fetch(`${baseUrl}${path}`, { redirect: 'manual', ...rest, headers });
    },
    createRoom: async (body = {}) => {
      const response = await session.fetch('/room', {
        method: 'POST',
        json: { title: 'test room', ...body },
      });
      if (response.status !== 201) {
        throw new Error(`POST /room answered ${response.status}: ${await response.text()}`);
      }
      return ((await response.json()) as { room: { id: string } }).room;
    },
    say: async (room, chat, toId) => {
      const response = await session.fetch(`/room/${room}/chat`, {
        method: 'POST',
        json: toId === undefined ? { chat } : { chat, toId },
      });
      if (response.status !== 201) {
        throw new Error(`POST chat answered ${response.status}: ${await response.text()}`);
      }
      return ((await response.json()) as { message: { seq: number } }).message;
    },
    kick: async (room, userId) => {
      const response = await session.fetch(`/room/${room}/kick`, {
        method: 'POST',
        json: { userId },
      });
      await response.body?.cancel();
      return response.status;
    },
    postForm: (path, body) =>
      session.fetch(path, {
        method: 'POST',
        headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
        body,
      }),
    uploadGif: (room, bytes, name, type) =>
      session.fetch(`/room/${room}/gif`, { method: 'POST', body: gifForm(bytes, name, type) }),
  };
  return session;
}

/** The `Cookie` header that sends back what a response set. */
export function cookieHeader(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
}

/** Waits until `check` is true (polling every 10 ms), or fails after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 10));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** The member list entries (`{userId, user}`) of these sessions, in this order. */
export function memberList(...sessions: { userId: string; user: string }[]) {
  return sessions.map(({ userId, user }) => ({ userId, user }));
}

/** PROTOCOL.md, Stats: one transport's counters. */
export interface TransportCounters {
  connections: number;
  requests: number;
  eventsOut: number;
  bytesOut: number;
  bytesIn: number;
  queuedBytes: number;
  largestQueueBytes: number;
  cutOffs: number;
}

/** `GET /api/stats`: one transport's counters. */
export async function transportStats(
  baseUrl: string,
  transport: string,
): Promise<TransportCounters> {
  const response = await fetch(`${baseUrl}/api/stats`);
  const body = (await response.json()) as { transports: Record<string, TransportCounters> };
  return body.transports[transport]!;
}

/**
 * About 1.6 MB of history in `room`: 1000 messages of 1500 characters, posted 50 at a time. Each
 * replay of it is past the 1 MiB bound on its own.
 */
export async function postBigHistory(session: Session, room: string): Promise<void> {
  const text = 'x'.repeat(1500);
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(Array.from({ length: 50 }, () => session.say(room, text)));
  }
}

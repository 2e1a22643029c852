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
  /** POST /room/:id/chat; returns the message. */
  say(room: string, chat: string, to?: string): Promise<{ seq: number; [key: string]: unknown }>;
}

/**
 * The colours of the sessions this test process drew. Only about 3,240 colours exist, and two
 * sessions of one colour are one user (PROTOCOL.md, Identity): a test of two users that drew one
 * colour twice would see one member, one join and no exit, a failure once in a few hundred runs.
 */
const drawn = new Set<string>();
/** Draws past this many taken colours are given up on (the colour is then shared). */
const MAX_REDRAWS = 100;

/**
 * GET /api/me: a new session, as PROTOCOL.md tells programs to start, of a colour no other
 * session of this test process has; `anyColour` takes whatever colour comes (to find twins).
 */
export async function newSession(
  baseUrl: string,
  options: { anyColour?: boolean } = {},
): Promise<Session> {
  for (let redraws = 0; ; redraws += 1) {
    const response = await fetch(`${baseUrl}/api/me`);
    if (response.status !== 200) throw new Error(`/api/me answered ${response.status}`);
    const { user, userId } = (await response.json()) as { user: string; userId: string };
    if (options.anyColour || !drawn.has(user) || redraws >= MAX_REDRAWS) {
      drawn.add(user);
      return sessionOf(baseUrl, { user, userId }, cookieHeader(response));
    }
  }
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
    say: async (room, chat, to) => {
      const response = await session.fetch(`/room/${room}/chat`, {
        method: 'POST',
        json: to === undefined ? { chat } : { chat, to },
      });
      if (response.status !== 201) {
        throw new Error(`POST chat answered ${response.status}: ${await response.text()}`);
      }
      return ((await response.json()) as { message: { seq: number } }).message;
    },
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

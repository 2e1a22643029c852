import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Context } from 'koa';
import session from 'koa-session';
import type { Visitor } from '../core/chat.ts';
import { ChatError } from '../core/errors.ts';
import { newUserId, userOf } from '../core/identity.ts';
import type { Limits } from '../core/limits.ts';
import { NO_SESSION } from '../transports/errors.ts';

/** What the signed session cookie holds: the userId (the colour comes from it) and grants. */
interface LabSession {
  /** The userId; named `sid` since v1, whose session id it was, so old cookies keep their user. */
  sid?: string;
  granted?: string[];
}

export const SESSION_COOKIE = 'lab.sid';
/** Grants kept per session: the newest password rooms entered. */
const MAX_GRANTS = 100;
const MAX_AGE = 30 * 24 * 60 * 60 * 1000;
/** Requests whose session this module changed: they are not remembered as read. */
const changed = new WeakSet<Context>();
/** Each app's limits: new sessions are counted per address where they are made. */
const limitsByApp = new WeakMap<Koa, Limits>();

/**
 * koa-session with a signed, HttpOnly, SameSite=Lax cookie. The session lives in the cookie
 * itself, so any server process with the same secret reads it (no sticky sessions).
 */
export function sessionMiddleware(app: Koa, secret: string, limits: Limits): Koa.Middleware {
  app.keys = [secret];
  limitsByApp.set(app, limits);
  return session(
    {
      key: SESSION_COOKIE,
      maxAge: MAX_AGE,
      httpOnly: true,
      signed: true,
      sameSite: 'lax',
      renew: true,
    },
    app,
  );
}

function labSession(ctx: Context): LabSession | null {
  return (ctx.session as LabSession | null) ?? null;
}

function visitorFrom(data: LabSession | null): Visitor | null {
  if (!data || typeof data.sid !== 'string' || data.sid.length === 0) return null;
  const granted = Array.isArray(data.granted)
    ? data.granted.filter((g) => typeof g === 'string')
    : [];
  return { userId: data.sid, user: userOf(data.sid), granted };
}

/**
 * Visitors of session cookies koa-session has already verified, by the exact bytes sent
 * (cookieKey), so that a poll, an SSE reconnect or a POST does not check the signature (three HMACs),
 * decode the JSON and hash the colour again: together a quarter of a poll's CPU. Only what
 * koa-session accepted gets in, so a forged cookie cannot; an entry stays until koa-session would
 * renew it (half its age), and the oldest go first past the limit. One per app: apps with other
 * secrets accept other pairs.
 */
class VerifiedSessions {
  static readonly LIMIT = 10_000;
  readonly #entries = new Map<string, { visitor: Visitor; until: number }>();

  get(key: string | null): Visitor | null {
    if (key === null) return null;
    const entry = this.#entries.get(key);
    if (!entry) return null;
    if (entry.until > Date.now()) return entry.visitor;
    this.#entries.delete(key);
    return null;
  }

  set(key: string, visitor: Visitor, until: number): void {
    if (until <= Date.now()) return;
    if (this.#entries.size >= VerifiedSessions.LIMIT) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    // A flat copy of the key: one read from a long header is two slices of it joined, which would
    // keep that whole header alive for as long as the session stays verified.
    this.#entries.set(Buffer.from(key, 'latin1').toString('latin1'), { visitor, until });
  }
}

const verifiedByApp = new WeakMap<Koa, VerifiedSessions>();

function verifiedSessions(app: Koa): VerifiedSessions {
  let found = verifiedByApp.get(app);
  if (!found) {
    found = new VerifiedSessions();
    verifiedByApp.set(app, found);
  }
  return found;
}

/** Past this length a Cookie header is not a key itself: only its session cookie pair is. */
const WHOLE_HEADER_KEY = 256;

/**
 * What VerifiedSessions knows a request's session by. A short Cookie header is its own key: koa-
 * session read the visitor from exactly those bytes, and a poll then costs one lookup and no
 * search of the header. A longer one (a browser sends every cookie of `localhost`, whatever the
 * port) is known by its session cookie's value and signature, after a newline no header holds,
 * so that thousands of remembered sessions do not keep thousands of long headers alive.
 */
function cookieKey(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  if (header.length <= WHOLE_HEADER_KEY) return header;
  const value = /(?:^|;) *lab\.sid=([^;]*)/.exec(header)?.[1];
  const signature = /(?:^|;) *lab\.sid\.sig=([^;]*)/.exec(header)?.[1];
  return value && signature ? `\n${value} ${signature}` : null;
}

/** Reads the session through koa-session and remembers it when the request did not change it. */
function readVisitor(ctx: Context): Visitor | null {
  const data = labSession(ctx);
  const visitor = visitorFrom(data);
  const key = cookieKey(ctx.req);
  const expires = (data as { _expire?: unknown } | null)?._expire;
  if (visitor && key && !changed.has(ctx) && typeof expires === 'number') {
    verifiedSessions(ctx.app).set(key, visitor, expires - MAX_AGE / 2);
  }
  return visitor;
}

/**
 * The visitor of a request, giving them a session first if they have none: the one place
 * sessions are made, so the limit on new sessions per address (429) is checked here.
 */
export function ensureVisitor(ctx: Context): Visitor {
  const data = labSession(ctx);
  if (data && !data.sid) {
    limitsByApp.get(ctx.app)?.newSession(ctx.req.socket.remoteAddress);
    data.sid = newUserId();
    changed.add(ctx);
  }
  return visitorFrom(data)!;
}

/** The visitor of a request with a session, or 401. */
export function requireVisitor(ctx: Context): Visitor {
  const visitor = verifiedSessions(ctx.app).get(cookieKey(ctx.req)) ?? readVisitor(ctx);
  if (!visitor) {
    throw new ChatError(401, NO_SESSION, { code: 'noSession' });
  }
  return visitor;
}

/** Keeps access to a password room in the session, after its password was checked. */
export function grant(ctx: Context, room: string): void {
  const data = labSession(ctx);
  if (!data) return;
  changed.add(ctx);
  const granted = (data.granted ?? []).filter((g) => g !== room);
  granted.push(room);
  data.granted = granted.slice(-MAX_GRANTS);
}

/**
 * The visitor of a request whose session cookie koa-session verified before and would not renew
 * yet; null otherwise (koa must read it). A request it knows needs nothing of koa's session.
 */
export function knownVisitor(app: Koa, req: IncomingMessage): Visitor | null {
  return verifiedSessions(app).get(cookieKey(req));
}

/** Reads the session of a raw request (a WebSocket upgrade or Socket.IO handshake). */
export function visitorOfRequest(app: Koa, req: IncomingMessage): Visitor | null {
  const known = verifiedSessions(app).get(cookieKey(req));
  if (known) return known;
  return readVisitor(app.createContext(req, new ServerResponse(req)));
}

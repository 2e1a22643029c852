import type { IncomingMessage } from 'node:http';
import { ServerResponse } from 'node:http';
import type Koa from 'koa';
import type { Context } from 'koa';
import session from 'koa-session';
import type { Visitor } from '../../core/chat.ts';
import { ChatError } from '../../core/errors.ts';
import { newSessionId, userOf } from '../../core/identity.ts';

/** What the signed session cookie holds: a random id (the colour comes from it) and grants. */
interface LabSession {
  sid?: string;
  granted?: string[];
}

export const SESSION_COOKIE = 'lab.sid';
/** Grants kept per session: the newest password rooms entered. */
const MAX_GRANTS = 100;

/**
 * koa-session with a signed, HttpOnly, SameSite=Lax cookie. The session lives in the cookie
 * itself, so any server process with the same secret reads it (no sticky sessions).
 */
export function sessionMiddleware(app: Koa, secret: string): Koa.Middleware {
  app.keys = [secret];
  return session(
    {
      key: SESSION_COOKIE,
      maxAge: 30 * 24 * 60 * 60 * 1000,
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
  return { user: userOf(data.sid), granted };
}

/** The visitor of a request, giving them a session first if they have none. */
export function ensureVisitor(ctx: Context): Visitor {
  const data = labSession(ctx);
  if (data && !data.sid) data.sid = newSessionId();
  return visitorFrom(data)!;
}

/** The visitor of a request with a session, or 401. */
export function requireVisitor(ctx: Context): Visitor {
  const visitor = visitorFrom(labSession(ctx));
  if (!visitor) {
    throw new ChatError(401, 'No session: call GET /api/me first and send its cookie back.');
  }
  return visitor;
}

/** Keeps access to a password room in the session, after its password was checked. */
export function grant(ctx: Context, room: string): void {
  const data = labSession(ctx);
  if (!data) return;
  const granted = (data.granted ?? []).filter((g) => g !== room);
  granted.push(room);
  data.granted = granted.slice(-MAX_GRANTS);
}

/** Reads the session of a raw request (a WebSocket upgrade or Socket.IO handshake). */
export function visitorOfRequest(app: Koa, req: IncomingMessage): Visitor | null {
  const ctx = app.createContext(req, new ServerResponse(req));
  return visitorFrom(labSession(ctx));
}

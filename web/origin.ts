import type { IncomingMessage } from 'node:http';

/**
 * PROTOCOL.md: a POST, DELETE, WebSocket upgrade or Socket.IO handshake whose `Origin` header is
 * present and is neither the server's own origin (`http://` plus the request's Host) nor an
 * allowed one is refused. Browsers always send Origin on these, so a foreign page cannot post in
 * a visitor's name even though the cookie would ride along.
 */
export function originChecker(
  allowedOrigins: readonly string[],
): (req: IncomingMessage) => boolean {
  const allowed = new Set(allowedOrigins.map((origin) => origin.replace(/\/+$/, '').toLowerCase()));
  return (req) => {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    const normalised = origin.toLowerCase();
    const host = req.headers.host?.toLowerCase();
    return (host !== undefined && normalised === `http://${host}`) || allowed.has(normalised);
  };
}

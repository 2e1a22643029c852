import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Language, requestLanguage } from '../core/language.ts';
import { refuseUpgrade } from '../transports/errors.ts';
import { t } from './views/i18n/index.ts';

/**
 * PROTOCOL.md, Host: a request, upgrade or handshake whose `Host` names this server by a name it
 * was not told it has is refused with 421. A DNS-rebinding page resolves a name of its own to
 * 127.0.0.1 (or a LAN address) and then reads the lab as same-origin; its requests carry that name
 * in `Host`, while a lab reached by address, as `localhost` or by an `--allowed-host` is answered.
 */
export function hostChecker(
  allowedHosts: readonly string[],
): (host: string | undefined) => boolean {
  const allowed = new Set(['localhost', ...allowedHosts.map(normaliseName)]);
  // The Host headers found allowed, as sent: a classroom sends a handful, on every request.
  const seen = new Set<string>();
  return (host) => {
    if (host !== undefined && seen.has(host)) return true;
    const name = hostName(host);
    const ok = name !== null && (isIP(name) !== 0 || allowed.has(normaliseName(name)));
    if (ok && seen.size < SEEN_HOSTS) seen.add(host!);
    return ok;
  };
}

/** At most this many allowed Host headers are remembered (any others are checked each time). */
const SEEN_HOSTS = 64;

/** A `Host` header without its port, IPv6 without its brackets; null when there is none. */
export function hostName(host: string | undefined): string | null {
  if (!host) return null;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 1 ? host.slice(1, end) : null;
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Names compare without case and without the root's trailing dot (`Classroom.local.`). */
function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

const HOST_NAME =
  /^(?=.{1,253}\.?$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/** Whether `--allowed-host` got a bare host name (no scheme, no port, no path). */
export function isHostName(value: string): boolean {
  return HOST_NAME.test(value);
}

/**
 * The sentence of a 421, in the language the request asks for (`?lang=`, else Accept-Language: an
 * instructor's browser): it names the flag that would make the name work.
 */
export function foreignHostSentence(host: string | undefined, language: Language = 'en'): string {
  const name = hostName(host);
  if (name === null) return t(language, 'host.missing');
  const flag = normaliseName(name);
  const shown = isHostName(name) ? flag : JSON.stringify(flag);
  return t(language, 'host.foreign', { name, flag: shown });
}

/**
 * Puts the Host rule in front of every `request` and `upgrade` listener of `server`, whoever added
 * them. It sits in `emit`, not among the listeners, because engine.io replaces the request
 * listeners with its own and the ws transport counts the upgrade listeners: in front of both, one
 * check covers koa, long polling's `serve`, SSE, ws and all of engine.io's requests.
 */
export function refuseForeignHosts(server: Server, allowedHosts: readonly string[]): void {
  const allowed = hostChecker(allowedHosts);
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  // The server's events carry at most three arguments (`upgrade`: req, socket, head): named, they
  // spare every request a rest array and a spread (web/trace/tap.ts does the same).
  server.emit = ((event: string | symbol, a: unknown, b: unknown, c: unknown) => {
    if (event === 'request' || event === 'upgrade') {
      const req = a as IncomingMessage;
      if (!allowed(req.headers.host)) {
        const sentence = foreignHostSentence(req.headers.host, requestLanguage(req));
        if (event === 'request') refuseRequest(b as ServerResponse, sentence);
        else refuseUpgrade(b as Duplex, 421, sentence);
        return true;
      }
    }
    return emit(event, a, b, c);
  }) as Server['emit'];
}

function refuseRequest(res: ServerResponse, sentence: string): void {
  const body = JSON.stringify({ error: sentence });
  res.writeHead(421, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

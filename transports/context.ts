import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import type { ChatService, Visitor } from '../core/chat.ts';
import type { Language } from '../core/language.ts';
import type { Limits } from '../core/limits.ts';
import type { TransportName } from '../core/model.ts';
import type { WireMeter } from './meter.ts';

/** What the HTTP side hands every transport: the chat, sessions, Origin checks, limits and meters. */
export interface HttpContext {
  chat: ChatService;
  /** The per-address limits are the edges' (they know `req.socket.remoteAddress`). */
  limits: Limits;
  /** The visitor of a request with a session, or a 401 ChatError. */
  visitor(ctx: Context): Visitor;
  /** The visitor of a raw upgrade or handshake request (ws, Socket.IO), or null without a session. */
  visitorOfRequest(req: IncomingMessage): Visitor | null;
  /** Whether a request's `Origin` (when present) is the server's own or an allowed one. */
  originAllowed(req: IncomingMessage): boolean;
  /**
   * A refusal answered outside koa (a ws `error` frame, a Socket.IO acknowledgement, a room poll,
   * a refused upgrade): its status and its sentence in `language` (what the connection asked for,
   * `requestLanguage`), as koa's error mapper would say it. Anything unforeseen is logged with its
   * stack, on the server only, and said as a 500.
   */
  refusal(what: string, error: unknown, language: Language): { error: string; status: number };
  /** The byte and request meter of a transport's endpoints. */
  meter(name: TransportName): WireMeter;
  /** Transports running in this server, in PROTOCOL.md's order. */
  transports: readonly TransportName[];
  /**
   * Headers every response carries, the 101 of an upgrade included, where the transport's library
   * writes it (a worker's `X-Worker`, see cluster.ts; none in a single process).
   */
  responseHeaders: Readonly<Record<string, string>>;
  /** Headers koa puts on every answer it gives (the security headers), for answers given beside it. */
  headers: Readonly<Record<string, string>>;
}

import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { logError, logger } from '../core/log.ts';
import { refusalHeaders, refusalOf } from '../transports/errors.ts';
import { apiLanguage, errorSentence, pageLanguage } from './language.ts';
import { t } from './views/i18n/index.ts';

const debug = logger('http');

/**
 * The one error mapper of the HTTP edge. A ChatError keeps its status and sentence; a client error
 * raised by koa or a body parser (bad JSON, too large) gets a sentence of ours for its status;
 * anything else is a 500 with a generic sentence, its stack logged on the server only.
 *
 * JSON `{"error": sentence}` for programs, in English unless the request asks for Korean
 * (`apiLanguage`); HTML requests (Accept names text/html) get a 303 to `/?error=...` with the
 * sentence in the page's language, or the page a route chose to render with the sentence.
 */
export async function errorMapper(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.body === undefined && !ctx.headerSent) unanswered(ctx);
  } catch (error) {
    if (clientGone(ctx.req)) {
      // A client that went away mid-request (a cut-off upload) is no error: nobody is left to tell.
      debug('%s %s: the client went away (%s)', ctx.method, ctx.path, (error as Error)?.message);
      ctx.respond = false;
      return;
    }
    if (ctx.headerSent || !ctx.writable) {
      logError(`${ctx.method} ${ctx.path} after the response began`, error);
      return;
    }
    // A ChatError (503 during a database outage, say) was foreseen: no stack for it.
    const { status } = refusalOf(`${ctx.method} ${ctx.path}`, error);
    ctx.set(refusalHeaders(error));
    const language = wantsHtml(ctx) ? pageLanguage(ctx) : apiLanguage(ctx);
    respond(ctx, status, errorSentence(error, language));
  }
}

/** The router's own answers, which carry no body: 404, and 405 or 501 for a method. */
function unanswered(ctx: Context): void {
  if (ctx.status === 404) {
    const language = wantsHtml(ctx) ? pageLanguage(ctx) : apiLanguage(ctx);
    respond(ctx, 404, t(language, 'error.notFound'));
  } else if (ctx.status === 405) {
    respond(
      ctx,
      405,
      `This address does not take ${ctx.method}; it takes ${ctx.response.get('Allow')}.`,
    );
  } else if (ctx.status === 501) {
    respond(ctx, 501, `This server does not implement the method ${ctx.method}.`);
  }
}

/** The client closed the connection before its request was all in. */
export function clientGone(req: IncomingMessage): boolean {
  return !req.complete && (req.destroyed || req.socket.destroyed);
}

/** Whether the client asked for a page. */
export function wantsHtml(ctx: Context): boolean {
  if (ctx.method === 'DELETE') return false;
  if (/^\/(api|poll|sse)\//.test(ctx.path)) return false;
  return (ctx.get('accept') ?? '').includes('text/html');
}

function respond(ctx: Context, status: number, sentence: string): void {
  if (wantsHtml(ctx)) {
    ctx.status = 303;
    ctx.redirect(`/?error=${encodeURIComponent(sentence)}`);
    return;
  }
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = { error: sentence };
}

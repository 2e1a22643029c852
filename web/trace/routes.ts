import Router from '@koa/router';
import type { Context } from 'koa';
import { ChatError } from '../../core/errors.ts';
import { ID_PATTERN } from '../../core/model.ts';
import type { HttpContext } from '../../transports/context.ts';
import { reading } from '../language.ts';
import { ensureVisitor, requireVisitor } from '../session.ts';
import { inspectPage } from '../views/inspect.ts';
import { passwordPage } from '../views/pages.ts';
import { reportOf, summaryOf } from './report.ts';
import { TOKEN_PATTERN, TRACES, type TraceBook } from './traces.ts';

const NO_TRACE =
  'There is no such trace of yours: it may have expired. Make one with POST /api/traces.';

/**
 * The protocol inspector: `/inspect?room=ID` (without `room`, a new room, as `/compare` makes),
 * `POST /api/traces` (a token for this session's connections to carry as `trace=`), and
 * `GET /api/traces/:token?message=ID` (what carried that message, marked part by part; without
 * `message`, what the trace holds, exchange by exchange). A token
 * is its maker's: anyone else gets the 404 a missing one gets.
 */
export function traceRoutes(http: HttpContext, book: TraceBook): Router {
  const { chat } = http;
  const router = new Router();

  router.get('/inspect', async (ctx) => {
    const visitor = ensureVisitor(ctx);
    const asked = ctx.query.room;
    if (typeof asked !== 'string') {
      const room = await chat.createRoom(visitor, { title: 'inspect', max: 100 });
      ctx.status = 303;
      ctx.redirect(`/inspect?room=${room.id}`);
      return;
    }
    const room = chat.getRoom(asked);
    const shown =
      chat.pageAccess(visitor, room.id) === 'password'
        ? passwordPage({ room, ...reading(ctx) })
        : inspectPage({ room, ...visitor, transports: http.transports, ...reading(ctx) });
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = shown;
  });

  router.post('/api/traces', (ctx) => {
    const { userId } = requireVisitor(ctx);
    const trace = book.create(userId);
    if (!trace) {
      throw new ChatError(
        429,
        'The server is tracing as many connections as it may: try again in a few minutes.',
        {
          retryAfterS: 60,
        },
      );
    }
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { token: trace.token, idleS: TRACES.idleMs / 1000 };
  });

  router.get('/api/traces/:token', (ctx) => {
    const { userId } = requireVisitor(ctx);
    const trace = book.of(ctx.params.token!, userId);
    if (!TOKEN_PATTERN.test(ctx.params.token!) || !trace) throw new ChatError(404, NO_TRACE);
    ctx.set('Cache-Control', 'no-store');
    const message = messageId(ctx);
    ctx.body = message === undefined ? summaryOf(trace) : reportOf(trace, message, http.transports);
  });

  return router;
}

/** `?message=ID`: the message to find; without it, the trace's summary. */
function messageId(ctx: Context): string | undefined {
  const asked = ctx.query.message;
  if (asked === undefined) return undefined;
  if (typeof asked !== 'string' || !ID_PATTERN.test(asked)) {
    throw new ChatError(400, 'A message id is 1 to 64 characters of A-Z, a-z, 0-9, _ and -.');
  }
  return asked;
}

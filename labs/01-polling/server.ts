/**
 * Lab 01 (12.1 폴링): one clock, asked two ways. The clock ticks every `--interval` ms. The page
 * asks it by short polling (`wait=0`, every second: answer at once, news or not) and by long
 * polling (the server holds the request until the next tick), and counts what each costs.
 */
import { fileURLToPath } from 'node:url';
import { bareFlags, listen, pageServer, stop } from '../shared/bare.ts';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
/** How long a long poll may be held at most, as in the app's /poll (PROTOCOL.md). */
const MAX_WAIT_S = 55;

export async function main(args: string[], log: (line: string) => void = console.info) {
  const { port, interval } = bareFlags(args, 5000);

  let tick = 0;
  let time = new Date().toISOString();
  /** Long polls held until the next tick: each entry answers its request. */
  const waiting = new Set<() => void>();
  let shortPolls = 0;
  let emptyShortPolls = 0;

  const clock = setInterval(() => {
    tick += 1;
    time = new Date().toISOString();
    log(
      `tick ${tick}: answered ${waiting.size} waiting long poll(s); ` +
        `${shortPolls} short poll(s) since the last tick, ${emptyShortPolls} of them found nothing new`,
    );
    shortPolls = 0;
    emptyShortPolls = 0;
    for (const answer of waiting) answer();
  }, interval);

  // GET /clock?after=N&wait=S: the clock, as soon as it is past tick N, or after S seconds anyway.
  const server = pageServer(PUBLIC, async (ctx, next) => {
    if (ctx.method !== 'GET' || ctx.path !== '/clock') return next();
    const after = Number(ctx.query.after ?? -1);
    const wait = Math.min(Math.max(Number(ctx.query.wait ?? 25) || 0, 0), MAX_WAIT_S);
    if (wait === 0) {
      shortPolls += 1;
      if (tick <= after) emptyShortPolls += 1;
    } else if (tick <= after) {
      // Long polling: hold the request until the clock ticks, the wait runs out or the client leaves.
      await new Promise<void>((done) => {
        const answer = () => {
          clearTimeout(timer);
          waiting.delete(answer);
          done();
        };
        const timer = setTimeout(answer, wait * 1000);
        waiting.add(answer);
        ctx.req.once('close', answer);
      });
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { tick, time };
  });

  const url = await listen(server, port);
  log(`open ${url}  (the clock ticks every ${interval} ms)`);

  return {
    url,
    close: async () => {
      clearInterval(clock);
      for (const answer of waiting) answer();
      await stop(server);
    },
  };
}

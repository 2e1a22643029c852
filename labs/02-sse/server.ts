/**
 * Lab 02 (12.1 서버센트 이벤트, SSE): a server clock over EventSource. Every tick is an event with
 * an `id`; a browser that loses the stream reconnects by itself and sends the last id it saw as
 * `Last-Event-ID`, and the server replays the ticks it missed. The stream only goes down: the page
 * sends notes up with a separate POST, which the server then pushes to every stream.
 */
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { wholeNumber } from '../../flags.ts';
import { bareFlags, listen, pageServer, stop } from '../shared/bare.ts';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
/** Ticks kept for streams that come back. */
const KEPT = 100;

interface Tick {
  id: number;
  time: string;
}

export async function main(args: string[], log: (line: string) => void = console.info) {
  const flags = bareFlags(args, 1000, { retry: { type: 'string', default: '2000' } });
  const { port, interval } = flags;
  const retry = wholeNumber('--retry', flags.retry, 10, 600_000, 'ms');

  const streams = new Set<ServerResponse>();
  const ticks: Tick[] = [];
  const frame = (tick: Tick, replayed: boolean) =>
    `id: ${tick.id}\nevent: tick\ndata: ${JSON.stringify({ ...tick, replayed })}\n\n`;
  const broadcast = (text: string) => {
    for (const stream of streams) stream.write(text);
  };

  let last = 0;
  const clock = setInterval(() => {
    const tick = { id: ++last, time: new Date().toISOString() };
    ticks.push(tick);
    if (ticks.length > KEPT) ticks.shift();
    broadcast(frame(tick, false));
  }, interval);

  const server = pageServer(PUBLIC, async (ctx, next) => {
    // GET /clock: the event stream. koa steps aside (respond = false): we write to it for good.
    if (ctx.method === 'GET' && ctx.path === '/clock') {
      ctx.respond = false;
      const stream = ctx.res;
      stream.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
      });
      // How long the browser waits before it reconnects.
      stream.write(`retry: ${retry}\n\n`);
      const lastEventId = ctx.get('Last-Event-ID');
      if (lastEventId !== '') {
        const missed = ticks.filter((tick) => tick.id > Number(lastEventId));
        log(
          `a stream came back with Last-Event-ID: ${lastEventId}; replaying ${missed.length} missed tick(s)`,
        );
        for (const tick of missed) stream.write(frame(tick, true));
      } else {
        log('a new stream (no Last-Event-ID)');
      }
      streams.add(stream);
      ctx.req.once('close', () => {
        streams.delete(stream);
        log('a stream closed');
      });
      return;
    }
    // POST /note: the way up. The stream cannot carry it, so it is a request of its own.
    if (ctx.method === 'POST' && ctx.path === '/note') {
      let text = '';
      for await (const chunk of ctx.req) text += chunk;
      text = text.trim().slice(0, 200);
      if (text === '') ctx.throw(400, 'Write a note first.');
      log(`a note came up by POST: ${JSON.stringify(text)}; pushing it down every stream`);
      broadcast(
        `event: note\ndata: ${JSON.stringify({ text, time: new Date().toISOString() })}\n\n`,
      );
      ctx.status = 204;
      return;
    }
    // POST /break: ends every stream, as a network failure would; each browser reconnects.
    if (ctx.method === 'POST' && ctx.path === '/break') {
      log(`ending ${streams.size} stream(s); each EventSource reconnects in ${retry} ms`);
      for (const stream of streams) stream.end();
      ctx.status = 204;
      return;
    }
    await next();
  });

  const url = await listen(server, port);
  log(`open ${url}  (a tick every ${interval} ms, retry ${retry} ms)`);

  return {
    url,
    close: async () => {
      clearInterval(clock);
      for (const stream of streams) stream.end();
      await stop(server);
    },
  };
}

/**
 * Lab 11: six connections per host. Over HTTP/1.1 a browser opens at most six connections to one
 * host (scheme, name and port), for all its tabs together, and an EventSource holds one for as
 * long as it is open: the seventh stream waits, silently, until one of the six closes. The page
 * opens streams one by one and shows each one's state; two ways past the limit are served here: a
 * second host name for the same server (`localhost` beside `127.0.0.1`, another six), and a
 * WebSocket, which the browser does not count among the six.
 */
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { bareFlags, listen, pageServer, stop } from '../shared/bare.ts';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));

export async function main(args: string[], log: (line: string) => void = console.info) {
  const { port, interval } = bareFlags(args, 1000);

  const streams = new Set<ServerResponse>();
  const sockets = new Set<WebSocket>();
  let tick = 0;
  const clock = setInterval(() => {
    tick += 1;
    const data = JSON.stringify({ tick });
    for (const stream of streams) stream.write(`event: tick\ndata: ${data}\n\n`);
    for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.send(data);
  }, interval);

  const server = pageServer(PUBLIC, async (ctx, next) => {
    // GET /stream: a clock over SSE. Any page may read it (the other host name is another
    // origin): it carries nothing private, and no cookie is asked for.
    if (ctx.method === 'GET' && ctx.path === '/stream') {
      ctx.respond = false;
      const stream = ctx.res;
      stream.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'Access-Control-Allow-Origin': '*',
      });
      stream.write(`retry: 2000\ndata: ${JSON.stringify({ tick })}\n\n`);
      streams.add(stream);
      log(`a stream opened on ${ctx.host} (${streams.size} open)`);
      ctx.req.once('close', () => {
        streams.delete(stream);
        log(`a stream closed (${streams.size} open)`);
      });
      return;
    }
    await next();
  });

  // GET /ws: the same clock over a WebSocket.
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      log(`a WebSocket opened (${sockets.size} open)`);
      ws.send(JSON.stringify({ tick }));
      ws.on('error', () => undefined);
      ws.on('close', () => sockets.delete(ws));
    });
  });

  const url = await listen(server, port);
  log(
    `open ${url}  (a tick every ${interval} ms; the same server is also ${url.replace('127.0.0.1', 'localhost')})`,
  );

  return {
    url,
    close: async () => {
      clearInterval(clock);
      for (const stream of streams) stream.end();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await stop(server);
    },
  };
}

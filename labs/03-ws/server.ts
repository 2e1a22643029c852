/**
 * Lab 03 (12.2 ws 모듈로 웹 소켓 사용하기): the book's example with `ws` beside koa. The server sends
 * every connected client a message every `--interval` ms, the client answers each one, and the
 * server logs who connected, what they said and when they left.
 */
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { bareFlags, listen, pageServer, stop } from '../shared/bare.ts';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));

export async function main(args: string[], log: (line: string) => void = console.info) {
  const { port, interval } = bareFlags(args, 3000);

  // koa serves the page; the WebSocket shares its HTTP server and port.
  const server = pageServer(PUBLIC);

  // noServer: we hand each upgrade request to ws ourselves (the place to check a path or a
  // session before a socket exists; the app's transports/ws/server.ts does both).
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws, req) => {
    // The book also reads req.headers['x-forwarded-for']: trust it only behind your own proxy.
    const ip = req.socket.remoteAddress;
    log(`새로운 클라이언트 접속 (a new client): ${ip}`);
    ws.on('message', (message) => {
      log(`${ip} says: ${message}`);
    });
    ws.on('error', (error) => {
      console.error(error);
    });
    ws.on('close', () => {
      log(`클라이언트 접속 해제 (a client left): ${ip}; its timer is cleared`);
      clearInterval(timer);
    });
    // One timer per client: two browsers, twice the messages.
    const timer = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send('서버에서 클라이언트로 메시지를 보냅니다. (a message from the server)');
      }
    }, interval);
  });

  const url = await listen(server, port);
  log(`open ${url}  (the server sends every ${interval} ms)`);

  return {
    url,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await stop(server);
    },
  };
}

/**
 * Lab 04 (12.3 Socket.IO 사용하기): the book's example. Every `--interval` ms the server emits
 * `news`; the client answers each with `reply`. By default Socket.IO opens with HTTP long polling
 * and then upgrades to a WebSocket; `--transport websocket` is the book's
 * `transports: ['websocket']`, which skips the polling part.
 */
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Koa from 'koa';
import serve from 'koa-static';
import { Server } from 'socket.io';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
const TRANSPORTS = {
  auto: ['polling', 'websocket'],
  polling: ['polling'],
  websocket: ['websocket'],
} as const;

export async function main(args: string[], log: (line: string) => void = console.info) {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8005' },
      interval: { type: 'string', default: '3000' },
      transport: { type: 'string', default: 'auto' },
    },
  });
  const port = Number(values.port);
  const interval = Number(values.interval);
  const transport = values.transport;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port must be a whole number from 0 to 65535, not "${values.port}"`);
  }
  if (!Number.isInteger(interval) || interval < 10) {
    throw new RangeError('--interval must be a whole number of ms, at least 10');
  }
  if (!(transport in TRANSPORTS)) {
    throw new RangeError(`--transport must be one of auto, polling, websocket, not "${transport}"`);
  }

  const app = new Koa();
  app.use(serve(PUBLIC));
  const server = createServer(app.callback());

  // Socket.IO takes over /socket.io/ on the same server, and serves its browser client there too
  // (/socket.io/socket.io.esm.min.js, from node_modules/socket.io-client/dist: no CDN).
  const io = new Server(server, {
    path: '/socket.io',
    transports: [...TRANSPORTS[transport as keyof typeof TRANSPORTS]],
  });

  io.on('connection', (socket) => {
    const ip = socket.handshake.address;
    log(
      `새로운 클라이언트 접속! (a new client) ${ip} ${socket.id}, over ${socket.conn.transport.name}`,
    );
    socket.conn.once('upgrade', () => {
      log(`${socket.id} upgraded to ${socket.conn.transport.name}`);
    });
    socket.on('disconnect', (reason) => {
      log(`클라이언트 접속 해제 (a client left) ${ip} ${socket.id}: ${reason}`);
      clearInterval(timer);
    });
    socket.on('error', (error) => {
      console.error(error);
    });
    socket.on('reply', (data) => {
      log(`reply from ${socket.id}: ${data}`);
    });
    const timer = setInterval(() => {
      socket.emit('news', 'Hello Socket.IO');
    }, interval);
  });

  await new Promise<void>((done, fail) =>
    server.once('error', fail).listen(port, '127.0.0.1', done),
  );
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`;
  const url = transport === 'auto' ? base : `${base}?transport=${transport}`;
  log(
    `open ${url}  (news every ${interval} ms; transports: ${TRANSPORTS[transport as keyof typeof TRANSPORTS].join(', ')})`,
  );

  return {
    url,
    close: async () => {
      await io.close();
      server.closeAllConnections();
    },
  };
}

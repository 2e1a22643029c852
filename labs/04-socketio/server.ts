/**
 * Lab 04 (12.3 Socket.IO 사용하기): the book's example. Every `--interval` ms the server emits
 * `news`; the client answers each with `reply`. By default Socket.IO opens with HTTP long polling
 * and then upgrades to a WebSocket; `--transport websocket` is the book's
 * `transports: ['websocket']`, which skips the polling part.
 */
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { oneOf } from '../../flags.ts';
import { bareFlags, listen, pageServer } from '../shared/bare.ts';

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
const TRANSPORTS = {
  auto: ['polling', 'websocket'],
  polling: ['polling'],
  websocket: ['websocket'],
} as const;
type Choice = keyof typeof TRANSPORTS;

export async function main(args: string[], log: (line: string) => void = console.info) {
  const flags = bareFlags(args, 3000, { transport: { type: 'string', default: 'auto' } });
  const { port, interval } = flags;
  const transport = oneOf('--transport', flags.transport, Object.keys(TRANSPORTS) as Choice[]);

  const server = pageServer(PUBLIC);

  // Socket.IO takes over /socket.io/ on the same server, and serves its browser client there too
  // (/socket.io/socket.io.esm.min.js, from node_modules/socket.io-client/dist: no CDN).
  const io = new Server(server, {
    path: '/socket.io',
    transports: [...TRANSPORTS[transport]],
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

  const base = await listen(server, port);
  const url = transport === 'auto' ? base : `${base}?transport=${transport}`;
  log(`open ${url}  (news every ${interval} ms; transports: ${TRANSPORTS[transport].join(', ')})`);

  return {
    url,
    close: async () => {
      await io.close();
      server.closeAllConnections();
    },
  };
}

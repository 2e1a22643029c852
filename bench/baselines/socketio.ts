/**
 * Bare Socket.IO at `/socket.io`, namespace `/chat`: `join` (a room id or `{room}`) puts the
 * socket in a Socket.IO room and acknowledges `{ok: true}`; `chat` makes a message, broadcasts
 * `chat` to the room with Socket.IO's own broadcast (encoded once by its adapter) and
 * acknowledges `{message}`. Socket.IO's default heartbeat. Run:
 * `node --import tsx bench/baselines/socketio.ts`.
 */
import { Server } from 'socket.io';
import { type BareTransport, bare, serveBare } from './common.ts';

let io: Server | undefined;
let eventsOut = 0;

type Ack = (answer: object) => void;

const socketio: BareTransport = {
  name: 'socketio',
  attach(server) {
    io = new Server(server, { serveClient: false });
    const meter = bare.meter('socketio');
    server.prependListener('request', (req, res) => {
      if (req.url?.startsWith('/socket.io/')) meter.track(req, res);
    });
    server.prependListener('upgrade', (req) => {
      if (req.url?.startsWith('/socket.io/')) meter.trackSocket(req.socket);
    });
    const chat = io.of('/chat');
    chat.on('connection', (socket) => {
      socket.on('join', (payload: string | { room: string }, ack?: Ack) => {
        void socket.join(typeof payload === 'string' ? payload : payload.room);
        ack?.({ ok: true });
      });
      socket.on('chat', (payload: { room: string; chat: string }, ack?: Ack) => {
        const message = bare.message(payload.room, payload.chat);
        eventsOut += chat.adapter.rooms.get(payload.room)?.size ?? 0;
        chat.to(payload.room).emit('chat', message);
        ack?.({ message });
      });
    });
  },
  connections: () => io?.engine.clientsCount ?? 0,
  eventsOut: () => eventsOut,
};

await serveBare(socketio);

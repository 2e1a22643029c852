/**
 * Bare raw WebSocket at `/ws` with the `ws` package: `subscribe` adds the socket to the room's
 * set and answers `subscribed`; `chat` makes a message, answers `sent` when the frame has a
 * `ref`, and writes the event, encoded once, to every socket of the room (the sender included).
 * Pings every 30 s (PROTOCOL.md's binding). Run: `node --import tsx bench/baselines/ws.ts`.
 */
import { type WebSocket, WebSocketServer } from 'ws';
import { type BareTransport, bare, chatEvent, serveBare } from './common.ts';

const rooms = new Map<string, Set<WebSocket>>();
let wss: WebSocketServer | undefined;
let eventsOut = 0;

function socketOnMessage(socket: WebSocket, data: unknown): void {
  const frame = JSON.parse(String(data)) as {
    type: string;
    room: string;
    chat?: string;
    ref?: string;
  };
  if (frame.type === 'subscribe') {
    const set = rooms.get(frame.room) ?? new Set();
    rooms.set(frame.room, set);
    set.add(socket);
    socket.once('close', () => set.delete(socket));
    socket.send(JSON.stringify({ type: 'subscribed', data: { room: frame.room } }));
  } else if (frame.type === 'chat') {
    const message = bare.message(frame.room, frame.chat ?? '');
    if (frame.ref !== undefined) {
      socket.send(JSON.stringify({ type: 'sent', data: { ref: frame.ref, message } }));
    }
    const event = chatEvent(message);
    for (const member of rooms.get(frame.room) ?? []) {
      member.send(event);
      eventsOut += 1;
    }
  }
}

const ws: BareTransport = {
  name: 'ws',
  attach(server) {
    wss = new WebSocketServer({ server, path: '/ws' });
    const meter = bare.meter('ws');
    server.prependListener('upgrade', (req) => {
      if (req.url?.startsWith('/ws')) meter.trackSocket(req.socket);
    });
    wss.on('connection', (socket) => {
      socket.on('error', () => undefined);
      socket.on('message', (data) => socketOnMessage(socket, data));
    });
    setInterval(() => {
      for (const socket of wss!.clients) socket.ping();
    }, 30_000).unref();
  },
  connections: () => wss?.clients.size ?? 0,
  eventsOut: () => eventsOut,
};

await serveBare(ws);

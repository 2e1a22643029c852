/**
 * Bare Server-Sent Events: `GET /sse/room/:id` is a `text/event-stream` that starts with
 * `retry: 2000` and gets `id: <seq>`, `event: chat`, `data: <json>` for every message posted with
 * POST /room/:id/chat, and a `: ping` comment every 15 s (PROTOCOL.md's binding). Each frame is
 * encoded once and written to every stream of the room. Run: `node --import tsx bench/baselines/sse.ts`.
 */
import type { ServerResponse } from 'node:http';
import { type BareTransport, roomOf, serveBare } from './common.ts';

const streams = new Map<string, Set<ServerResponse>>();
let open = 0;
let eventsOut = 0;

const sse: BareTransport = {
  name: 'sse',
  route(req, res, url) {
    const room = roomOf(url.pathname, '/sse/room/');
    if (req.method !== 'GET' || room === undefined) return false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
    });
    res.write('retry: 2000\n\n');
    const set = streams.get(room) ?? new Set();
    streams.set(room, set);
    set.add(res);
    open += 1;
    res.once('close', () => {
      set.delete(res);
      open -= 1;
    });
    return true;
  },
  publish(message) {
    const frame = `id: ${message.seq}\nevent: chat\ndata: ${JSON.stringify(message)}\n\n`;
    for (const res of streams.get(message.room) ?? []) {
      res.write(frame);
      eventsOut += 1;
    }
  },
  connections: () => open,
  eventsOut: () => eventsOut,
};

setInterval(() => {
  for (const set of streams.values()) for (const res of set) res.write(': ping\n\n');
}, 15_000).unref();

await serveBare(sse);

import WebSocket from 'ws';
import { eventually } from './http.ts';

/** A bare engine.io websocket, below Socket.IO, connected to `/chat`; it records text frames. */
export interface EngineSocket {
  ws: WebSocket;
  frames: string[];
}

/**
 * Opens an engine.io websocket by hand and connects it to `/chat`. It answers no ping (engine.io
 * pings are `2` frames): a peer that has gone away, unless the test answers for it.
 */
export async function engineSocket(port: number, cookie: string): Promise<EngineSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
    headers: { cookie },
  });
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  ws.on('error', () => undefined);
  await eventually(() => frames.length > 0, 3000, 'the engine.io open packet');
  ws.send('40/chat,');
  await eventually(() => frames.some((f) => f.startsWith('40/chat,')), 3000, 'the /chat connect');
  return { ws, frames };
}

/** Emits `join` with `room` and waits for its `{ok: true}` acknowledgement. */
export async function engineJoin({ ws, frames }: EngineSocket, room: string): Promise<void> {
  ws.send(`42/chat,0${JSON.stringify(['join', room])}`);
  await eventually(() => frames.includes('43/chat,0[{"ok":true}]'), 3000, 'the join ack');
}

import { WebSocket } from 'ws';
import { eventually } from './http.ts';

/** One JSON frame of PROTOCOL.md's ws wire. */
export interface WsFrame {
  type: string;
  id?: number;
  data: Record<string, unknown>;
}

/** A raw `ws` connection to `/ws` that records every frame the server sends. */
export interface RawWs {
  socket: WebSocket;
  frames: WsFrame[];
  send(frame: unknown): void;
  /** Waits until `count` frames match `type` (or the predicate); returns them. */
  waitFor(
    match: string | ((frame: WsFrame) => boolean),
    count?: number,
    ms?: number,
  ): Promise<WsFrame[]>;
  /** The close code. */
  closed: Promise<number>;
  close(): void;
}

export const wsUrl = (base: string) => `${base.replace(/^http/, 'ws')}/ws`;

/** Opens `/ws` on `base` with a session cookie; `autoPong: false` makes a peer that never pongs. */
export async function openWs(
  base: string,
  cookie: string | undefined,
  options: { autoPong?: boolean } = {},
): Promise<RawWs> {
  const socket = new WebSocket(wsUrl(base), {
    headers: cookie ? { cookie } : {},
    autoPong: options.autoPong ?? true,
  });
  const frames: WsFrame[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as WsFrame));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((done) => socket.once('close', (code) => done(code)));
  await new Promise<void>((done, fail) => {
    socket.once('open', () => done());
    socket.once('unexpected-response', (_req, res) => fail(new Error(`upgrade ${res.statusCode}`)));
  });
  const matching = (match: string | ((frame: WsFrame) => boolean)) =>
    frames.filter(typeof match === 'string' ? (frame) => frame.type === match : match);
  return {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    waitFor: async (match, count = 1, ms = 5000) => {
      await eventually(() => matching(match).length >= count, ms, `${count} ${String(match)}`);
      return matching(match);
    },
    close: () => socket.close(),
  };
}

/** Subscribes a raw socket to a room and waits for its `subscribed`. */
export async function follow(ws: RawWs, room: string, after?: number): Promise<void> {
  const before = ws.frames.filter((f) => f.type === 'subscribed' && f.data.room === room).length;
  ws.send(after === undefined ? { type: 'subscribe', room } : { type: 'subscribe', room, after });
  await ws.waitFor((f) => f.type === 'subscribed' && f.data.room === room, before + 1);
}

/** Sends `frame` and resolves with the data of the `error` frame it gets. */
export async function nextError(ws: RawWs, frame: unknown): Promise<WsFrame['data']> {
  const seen = ws.frames.filter((f) => f.type === 'error').length;
  ws.send(frame);
  const errors = await ws.waitFor('error', seen + 1);
  return errors[seen]!.data;
}

/**
 * The per-transport column of test/transports.test.ts: where a case of the table meets a wire
 * that differs between the four transports (what a dead peer is, what the server writes when it
 * shuts down, what a reader that stopped reading holds on the server), the difference is here,
 * one entry per transport, as PROTOCOL.md describes it. The case itself is written once.
 */
import { connect } from 'node:net';
import { expect } from 'vitest';
import type { TransportName } from '../../core/model.ts';
import { eventually, type Session, transportStats } from './http.ts';
import { type EngineSocket, engineJoin, engineSocket } from './socketio.ts';
import { openSse } from './sse.ts';
import { follow, openWs, type RawWs } from './ws.ts';

export interface WireContext {
  url: string;
  port: number;
  session: Session;
  room: string;
}

/** A reader of a room that has stopped reading: its socket is paused. */
export interface StalledReader {
  /** Reads again; resolves once the server has ended what it held for this reader. */
  resume(): Promise<void>;
}

/** A connection on the transport's own wire, held open across a server's shutdown. */
export interface HeldConnection {
  /** Resolves once the connection has ended the way PROTOCOL.md says a shutdown ends it. */
  ended(): Promise<void>;
}

export interface TransportWire {
  stats: {
    /** HTTP requests (and upgrades) the client makes to join a room and get one chat. */
    requests: [min: number, max: number];
    /** Connections one client holds with the room and the lobby open. */
    withLobby: number;
  };
  /** Subscribes to the room on the raw wire, then stops reading. */
  stall(c: WireContext): Promise<StalledReader>;
  heartbeat: {
    what: string;
    /** A dead peer's exit comes no sooner than this after it went quiet (with the case's figures). */
    notBeforeMs: number;
    /**
     * A peer in the room on the raw wire. With `dies`, the heartbeat is expected to end it (it
     * exits the room); without, the heartbeat is expected to reach it; resolves when it has.
     */
    peer(c: WireContext): Promise<{ dies: boolean; done: Promise<void> }>;
  };
  shutdown: {
    what: string;
    /** Opens it in a room nobody else is in (a poll there is answered by nothing but the end). */
    hold(c: WireContext): Promise<HeldConnection>;
  };
}

/** A raw HTTP/1.1 GET on its own socket; resolves once the answer has begun, then reads no more. */
async function stalledGet(c: WireContext, path: string) {
  const socket = connect(c.port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  await new Promise((done) => socket.once('connect', done));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${c.port}\r\nCookie: ${c.session.cookie}\r\n\r\n`,
  );
  const head = await new Promise<string>((done) =>
    socket.once('data', (chunk) => done(`${chunk}`)),
  );
  socket.pause();
  return { socket, closed, head };
}

/** A room poll; its events and cursor. */
async function pollRoom(c: WireContext, after: number, wait: number) {
  const response = await c.session.fetch(`/poll/room/${c.room}?after=${after}&wait=${wait}`);
  expect(response.status).toBe(200);
  return (await response.json()) as { events: { type: string }[]; cursor: number };
}

/** Polls until the own join's `members` has come and an answer is empty; the cursor. */
async function drainPolls(c: WireContext): Promise<number> {
  let cursor = 0;
  let members = false;
  for (;;) {
    const answer = await pollRoom(c, cursor, members ? 0 : 2);
    cursor = answer.cursor;
    if (members && answer.events.length === 0) return cursor;
    members ||= answer.events.some((event) => event.type === 'members');
  }
}

export const WIRES: Record<TransportName, TransportWire> = {
  polling: {
    stats: { requests: [2, 8], withLobby: 2 },
    // A poll is answered once and then the server holds nothing for it: a client that stops
    // reading holds one answer at most, and the next poll resumes from its cursor.
    stall: async (c) => {
      const { socket, head } = await stalledGet(c, `/poll/room/${c.room}?after=0&wait=20`);
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      return {
        resume: async () => {
          socket.resume();
          socket.destroy();
        },
      };
    },
    heartbeat: {
      what: 'a client that stops polling is ended after the linger and the member grace, and exits',
      // The case's pollLingerMs 300 plus memberGraceMs 100, less a little for the clocks.
      notBeforeMs: 350,
      peer: async (c) => {
        await pollRoom(c, 0, 0);
        return { dies: true, done: Promise.resolve() };
      },
    },
    shutdown: {
      what: 'every pending poll is answered, 200 and empty',
      hold: async (c) => {
        const cursor = await drainPolls(c);
        const before = (await transportStats(c.url, 'polling')).connections;
        const pending = c.session.fetch(`/poll/room/${c.room}?after=${cursor}&wait=20`);
        await eventually(
          async () => (await transportStats(c.url, 'polling')).connections === before + 1,
          5000,
          'the poll pending',
        );
        return {
          ended: async () => {
            const answer = await pending;
            expect(answer.status).toBe(200);
            expect(await answer.json()).toEqual({ events: [], cursor });
          },
        };
      },
    },
  },
  sse: {
    stats: { requests: [1, 1], withLobby: 2 },
    stall: async (c) => {
      const { socket, closed, head } = await stalledGet(c, `/sse/room/${c.room}`);
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      return {
        resume: async () => {
          socket.resume();
          await closed;
        },
      };
    },
    heartbeat: {
      what: 'a ": ping" comment reaches every stream',
      notBeforeMs: 0,
      peer: async (c) => {
        const stream = await openSse(`${c.url}/sse/room/${c.room}`, { cookie: c.session.cookie });
        expect(stream.status).toBe(200);
        const pinged = eventually(
          () => stream.frames.some((frame) => frame.comment === 'ping'),
          5000,
          'a ping',
        ).finally(() => stream.close());
        return { dies: false, done: pinged };
      },
    },
    shutdown: {
      what: 'every stream ends',
      hold: async (c) => {
        const stream = await openSse(`${c.url}/sse/room/${c.room}`, { cookie: c.session.cookie });
        expect(stream.status).toBe(200);
        await stream.waitFor(1, 'members');
        return { ended: () => eventually(() => stream.ended, 5000, 'the stream to end') };
      },
    },
  },
  ws: {
    stats: { requests: [1, 1], withLobby: 1 },
    stall: async (c) => {
      const ws = await wsInRoom(c);
      return stalled(ws.socket, () => closesWith(ws, 1006));
    },
    heartbeat: {
      what: 'a peer that stops answering pings is ended after two intervals, and exits',
      notBeforeMs: 0,
      peer: async (c) => {
        const dead = await wsInRoom(c, { autoPong: false });
        return { dies: true, done: closesWith(dead, 1006) };
      },
    },
    shutdown: {
      what: 'every socket is closed with 1001',
      hold: async (c) => {
        const ws = await wsInRoom(c);
        return { ended: () => closesWith(ws, 1001) };
      },
    },
  },
  socketio: {
    stats: { requests: [2, 12], withLobby: 1 },
    stall: async (c) => {
      const engine = await engineInRoom(c);
      return stalled(engine.ws, () => engineClosed(engine));
    },
    heartbeat: {
      what: 'a peer that stops answering engine.io pings is dropped, and exits',
      notBeforeMs: 0,
      peer: async (c) => {
        const engine = await engineInRoom(c);
        const dropped = engineClosed(engine).then(() => {
          // It was pinged ("2") and never answered.
          expect(engine.frames).toContain('2');
        });
        return { dies: true, done: dropped };
      },
    },
    shutdown: {
      what: 'every connection ends as a network failure would',
      hold: async (c) => {
        const engine = await engineInRoom(c);
        return { ended: () => engineClosed(engine) };
      },
    },
  },
};

/** Stops reading `socket`; `resume` reads again and waits for the server's end of it. */
function stalled(
  socket: { pause(): void; resume(): void },
  ended: () => Promise<void>,
): StalledReader {
  socket.pause();
  return {
    resume: () => {
      socket.resume();
      return ended();
    },
  };
}

/** A raw ws socket of the context's session, subscribed to its room. */
async function wsInRoom(c: WireContext, options: { autoPong?: boolean } = {}): Promise<RawWs> {
  const ws = await openWs(c.url, c.session.cookie, options);
  await follow(ws, c.room);
  return ws;
}

async function closesWith(ws: RawWs, code: number): Promise<void> {
  expect(await ws.closed).toBe(code);
}

/** A bare engine.io socket of the context's session, joined to its room. */
async function engineInRoom(c: WireContext): Promise<EngineSocket> {
  const engine = await engineSocket(c.port, c.session.cookie);
  await engineJoin(engine, c.room);
  return engine;
}

const engineClosed = ({ ws }: EngineSocket) =>
  eventually(() => ws.readyState === ws.CLOSED, 5000, 'the engine.io socket closed');

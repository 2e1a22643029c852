/**
 * Bad input per transport, on the wire, below the clients: what a hostile or broken client can
 * send, and what it must get back. Each case also checks that nothing was stored.
 */
import { io } from 'socket.io-client';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { TransportName } from '../../core/model.ts';
import type { Session } from './http.ts';
import { nextError, openWs } from './ws.ts';

export interface RawContext {
  url: string;
  port: number;
  session: Session;
  room: string;
}

type Case = (context: RawContext) => Promise<void>;

async function storedChats(context: RawContext): Promise<string[]> {
  const response = await context.session.fetch(`/api/rooms/${context.room}/messages`);
  const { messages } = (await response.json()) as { messages: { kind: string; chat?: string }[] };
  return messages.filter((m) => m.kind === 'chat').map((m) => m.chat!);
}

async function expectError(response: Response, status: number): Promise<void> {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error?: string };
  expect(body.error).toEqual(expect.any(String));
}

/** The way up shared by polling and SSE: POST /room/:id/chat. */
const postCases: Record<string, Case> = {
  'a POST that is not JSON, too large, or carries objects for strings is refused; nothing is stored':
    async (c) => {
      const path = `/room/${c.room}/chat`;
      await expectError(
        await c.session.fetch(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"chat":',
        }),
        400,
      );
      await expectError(
        await c.session.fetch(path, { method: 'POST', json: { chat: 'x'.repeat(70_000) } }),
        413,
      );
      await expectError(
        await c.session.fetch(path, { method: 'POST', json: { chat: { $ne: null } } }),
        400,
      );
      await expectError(
        await c.session.fetch(path, { method: 'POST', json: { chat: 'hi', toId: { $gt: '' } } }),
        400,
      );
      expect(await storedChats(c)).toEqual([]);
    },
  'a POST from a foreign Origin is refused (403)': async (c) => {
    const response = await c.session.fetch(`/room/${c.room}/chat`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
      json: { chat: 'csrf' },
    });
    await expectError(response, 403);
    expect(await storedChats(c)).toEqual([]);
  },
};

function queryCases(prefix: '/poll/room' | '/sse/room'): Record<string, Case> {
  const polling = prefix === '/poll/room';
  const waits = polling
    ? ['wait=56', 'wait=-1', 'wait=1.5', 'wait=abc', 'wait=1e1', 'wait=1&wait=2']
    : [];
  const afters = [
    'after=-1',
    'after=-3',
    'after=1.5',
    'after=1e3',
    'after=abc',
    'after=1&after=2',
    `after=${encodeURIComponent('{"$ne":null}')}`,
    `after=${'9'.repeat(20)}`,
  ];
  // A poll that were accepted would wait; wait=0 makes a wrong acceptance show at once.
  const withWait = (query: string) =>
    polling && !query.includes('wait=') ? `${query}&wait=0` : query;
  return {
    'bad cursors (and waits) are a 400 with a sentence, malformed ids a 404': async (c) => {
      for (const query of [...afters, ...waits]) {
        const response = await c.session.fetch(`${prefix}/${c.room}?${withWait(query)}`);
        expect(response.status, query).toBe(400);
        const { error } = (await response.json()) as { error: string };
        if (polling) expect(error, query).toMatch(/^(wait|after) must be a whole number/);
        else expect(error, query).toEqual(expect.any(String));
      }
      if (polling) {
        for (const query of ['cursor=-1', 'cursor=1.5', 'cursor=a&cursor=b', 'wait=99']) {
          await expectError(await c.session.fetch(`/poll/lobby?${query}`), 400);
        }
      }
      await expectError(await c.session.fetch(`${prefix}/${'x'.repeat(65)}?${withWait('')}`), 404);
      await expectError(
        await c.session.fetch(`${prefix}/%7B%22%24ne%22%3Anull%7D?${withWait('')}`),
        404,
      );
    },
  };
}

/** A raw `ws` socket with the session cookie, recording frames (test/support/ws.ts). */
const rawWs = (c: RawContext) => openWs(c.url, c.session.cookie);

function upgradeStatus(c: RawContext, headers: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const socket = new WebSocket(`ws://127.0.0.1:${c.port}/ws`, { headers });
    socket.on('error', () => done(-1));
    socket.once('open', () => {
      socket.close();
      done(101);
    });
    socket.once('unexpected-response', (_, response) => {
      done(response.statusCode ?? 0);
      response.resume();
    });
  });
}

const wsCases: Record<string, Case> = {
  'frames that are not JSON, of unknown type or breaking a rule get an error frame; the socket stays open':
    async (c) => {
      const ws = await rawWs(c);
      const cases: [unknown, number][] = [
        ['not json', 400],
        ['{"type":"subscribe",', 400],
        ['[]', 400],
        ['[1,2]', 400],
        ['"subscribe"', 400],
        ['null', 400],
        [{ type: 'nonsense' }, 400],
        [{ type: { $ne: null } }, 400],
        [{ room: c.room }, 400],
        [{ type: 'subscribe' }, 400],
        [{ type: 'subscribe', lobby: 'yes' }, 400],
        [{ type: 'subscribe', lobby: true, room: c.room }, 400],
        [{ type: 'subscribe', room: c.room, after: -1 }, 400],
        [{ type: 'subscribe', room: c.room, after: 1.5 }, 400],
        [{ type: 'subscribe', room: c.room, after: { $gt: 0 } }, 400],
        [{ type: 'subscribe', room: { $ne: null } }, 404],
        [{ type: 'subscribe', room: '../../etc' }, 404],
        [{ type: 'unsubscribe' }, 400],
        [{ type: 'chat', room: c.room, chat: { $ne: null } }, 400],
        [{ type: 'chat', room: c.room, chat: '' }, 400],
        [{ type: 'chat', room: c.room, chat: 'hi', toId: 'bob' }, 400],
        [{ type: 'chat', room: { $ne: null }, chat: 'hi' }, 404],
        [{ type: 'chat', room: c.room, chat: 'hi', ref: { $ne: null } }, 400],
        [{ type: 'chat', room: c.room, chat: 'hi', ref: 'x'.repeat(65) }, 400],
      ];
      for (const [frame, status] of cases) {
        const error = await nextError(ws, frame);
        expect(error.status, JSON.stringify(frame)).toBe(status);
        expect(error.error).toEqual(expect.any(String));
        expect(error.error).not.toMatch(/at .*\.ts/);
      }
      // A binary frame is no JSON text either.
      ws.socket.send(Buffer.from('{"type":"subscribe","lobby":true}'), { binary: true });
      await ws.waitFor('error', cases.length + 1);
      ws.send({ type: 'chat', room: c.room, chat: 'still here', ref: 'r1' });
      const [sent] = await ws.waitFor('sent');
      expect(sent!.data).toMatchObject({ ref: 'r1', message: { chat: 'still here' } });
      expect(ws.socket.readyState).toBe(WebSocket.OPEN);
      expect(await storedChats(c)).toEqual(['still here']);
      ws.close();
    },
  'a frame over 64 KiB closes the socket with 1009; one under it is an error frame': async (c) => {
    const ws = await rawWs(c);
    const under = await nextError(ws, { type: 'chat', room: c.room, chat: 'x'.repeat(60_000) });
    expect(under.status).toBe(400);
    ws.send(JSON.stringify({ type: 'chat', room: c.room, chat: 'x'.repeat(65 * 1024) }));
    expect(await ws.closed).toBe(1009);
    expect(await storedChats(c)).toEqual([]);
  },
  'an upgrade from a foreign Origin or without a session is refused': async (c) => {
    expect(
      await upgradeStatus(c, { cookie: c.session.cookie, origin: 'http://evil.example' }),
    ).toBe(403);
    expect(await upgradeStatus(c, {})).toBe(401);
    expect(await upgradeStatus(c, { cookie: c.session.cookie, origin: c.url })).toBe(101);
  },
};

function socketIo(
  c: RawContext,
  extraHeaders: Record<string, string> = { cookie: c.session.cookie },
  transports?: string[],
) {
  return io(`${c.url}/chat`, {
    extraHeaders,
    reconnection: false,
    forceNew: true,
    ...(transports ? { transports } : {}),
  });
}

const hostile = JSON.parse('{"__proto__": {"chat": "polluted"}}') as object;

const socketIoCases: Record<string, Case> = {
  'bad payloads get an error acknowledgement (400, or 404 for what is not a room id); without one nothing breaks; the socket stays':
    async (c) => {
      const socket = socketIo(c);
      await new Promise<void>((done, fail) => {
        socket.once('connect', () => done());
        socket.once('connect_error', fail);
      });
      const id = c.room;
      const cases: [string, unknown[], number][] = [
        ['join', [], 400],
        ['join', [null], 400],
        ['join', [42], 400],
        ['join', [[id]], 400],
        ['join', [{ room: { $ne: null } }], 404],
        ['join', [{ room: id, after: -1 }], 400],
        ['join', [{ room: id, after: 1.5 }], 400],
        ['join', [{ room: id, after: '1e3' }], 400],
        ['join', [{ room: id, after: 'x' }], 400],
        ['join', [{ room: id, after: { $gt: 0 } }], 400],
        ['join', ['../etc/passwd'], 404],
        ['join', [{ room: '../etc' }], 404],
        ['join', ['x'.repeat(65)], 404],
        ['join', [{ room: 'no-such-room' }], 404],
        ['chat', [], 400],
        ['chat', ['just text'], 400],
        ['chat', [null], 400],
        ['chat', [[1, 2]], 400],
        ['chat', [{ room: id }], 400],
        ['chat', [{ room: id, chat: { $ne: null } }], 400],
        ['chat', [{ room: id, chat: 42 }], 400],
        ['chat', [{ room: id, chat: '' }], 400],
        ['chat', [{ room: id, chat: '   ' }], 400],
        ['chat', [{ room: id, chat: 'x'.repeat(2001) }], 400],
        ['chat', [{ room: id, chat: 'hi', toId: 'bob' }], 400],
        ['chat', [{ room: id, chat: 'hi', toId: { $gt: '' } }], 400],
        ['chat', [{ room: id, chat: 'hi', to: '#a3c25e' }], 400],
        ['chat', [{ room: id, ...hostile }], 400],
        ['chat', [{ room: { $ne: null }, chat: 'hi' }], 404],
        ['chat', [{ room: 'no-such-room', chat: 'hi' }], 404],
        ['leave', [{ $ne: null }], 404],
        ['no-such-event', [1, 2, 3], 400],
        [' join', [id], 400],
      ];
      for (const [event, args, status] of cases) {
        const answer = await socket.timeout(3000).emitWithAck(event, ...args);
        expect(answer, `${event} ${JSON.stringify(args)}`).toEqual({
          error: expect.any(String),
          status,
        });
      }
      // The same without an acknowledgement function.
      for (const [event, args] of cases) socket.emit(event, ...args);
      socket.emit('chat', { room: id, chat: 'no ack' });
      const ok = await socket.timeout(3000).emitWithAck('chat', { room: id, chat: 'still here' });
      expect(ok).toMatchObject({ message: { chat: 'still here' } });
      expect(socket.connected).toBe(true);
      expect(await storedChats(c)).toEqual(['no ack', 'still here']);
      socket.disconnect();
    },
  ...Object.fromEntries(
    ['websocket', 'polling'].map((transport): [string, Case] => [
      `a packet over 64 KiB closes the connection (${transport}); nothing is stored`,
      async (c) => {
        const socket = socketIo(c, { cookie: c.session.cookie }, [transport]);
        await new Promise<void>((done) => socket.once('connect', () => done()));
        const gone = new Promise<string>((done) => socket.once('disconnect', done));
        socket.emit('chat', { room: c.room, chat: 'x'.repeat(65 * 1024) });
        expect(await gone).toMatch(/^transport (close|error)$/);
        expect(await storedChats(c)).toEqual([]);
      },
    ]),
  ),
  'a handshake from a foreign Origin or without a session is refused': async (c) => {
    const refused = (headers: Record<string, string>, transports?: string[]) =>
      new Promise<string>((done) => {
        const socket = socketIo(c, headers, transports);
        socket.once('connect', () => {
          socket.disconnect();
          done('connected');
        });
        socket.once('connect_error', (error) => {
          socket.disconnect();
          done(error.message);
        });
      });
    expect(await refused({})).toBe('unauthorized');
    expect(await refused({ cookie: c.session.cookie, origin: 'http://evil.example' })).not.toBe(
      'connected',
    );
    expect(
      await refused({ cookie: c.session.cookie, origin: 'http://evil.example' }, ['websocket']),
    ).not.toBe('connected');
    expect(await refused({ cookie: c.session.cookie, origin: c.url })).toBe('connected');
  },
};

export const badInputCases: Record<TransportName, Record<string, Case>> = {
  polling: { ...queryCases('/poll/room'), ...postCases },
  sse: { ...queryCases('/sse/room'), ...postCases },
  ws: wsCases,
  socketio: socketIoCases,
};

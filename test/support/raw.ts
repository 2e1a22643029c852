/**
 * Bad input per transport, on the wire, below the clients: what a hostile or broken client can
 * send, and what it must get back. Each case also checks that nothing was stored.
 */
import { io } from 'socket.io-client';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { TransportName } from '../../core/model.ts';
import { eventually, type Session } from './http.ts';
import { openWs } from './ws.ts';

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
  const waits = polling ? ['wait=-1', 'wait=56', 'wait=abc', 'wait=1&wait=2'] : [];
  // A poll that were accepted would wait; wait=0 makes a wrong acceptance show at once.
  const withWait = (query: string) =>
    polling && !query.includes('wait=') ? `${query}&wait=0` : query;
  return {
    'bad cursors (and waits) are a 400 with a sentence, malformed ids a 404': async (c) => {
      for (const query of ['after=-1', 'after=1.5', 'after=abc', 'after=1&after=2', ...waits]) {
        await expectError(await c.session.fetch(`${prefix}/${c.room}?${withWait(query)}`), 400);
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
      const { socket, frames } = await rawWs(c);
      const errors = () => frames.filter((f) => f.type === 'error');
      const bad = [
        'not json',
        '[]',
        '"a string"',
        JSON.stringify({ type: 'nope' }),
        JSON.stringify({ type: 'chat', room: c.room, chat: { $ne: null } }),
        JSON.stringify({ type: 'chat', room: c.room, chat: '' }),
        JSON.stringify({ type: 'chat', room: c.room, chat: 'hi', toId: 'bob' }),
        JSON.stringify({ type: 'chat', room: { $ne: null }, chat: 'hi' }),
        JSON.stringify({ type: 'subscribe', room: '../../etc' }),
        JSON.stringify({ type: 'subscribe', room: c.room, after: -1 }),
      ];
      for (const frame of bad) socket.send(frame);
      await eventually(() => errors().length === bad.length, 5000, `${bad.length} error frames`);
      for (const error of errors()) {
        expect(error.data).toMatchObject({ error: expect.any(String), status: expect.any(Number) });
        expect([400, 404]).toContain(error.data.status);
      }
      socket.send(JSON.stringify({ type: 'chat', room: c.room, chat: 'still here', ref: 'r1' }));
      await eventually(() => frames.some((f) => f.type === 'sent'), 5000, 'the sent frame');
      expect(frames.find((f) => f.type === 'sent')!.data).toMatchObject({
        ref: 'r1',
        message: { chat: 'still here' },
      });
      expect(socket.readyState).toBe(WebSocket.OPEN);
      expect(await storedChats(c)).toEqual(['still here']);
      socket.close();
    },
  'a frame over 64 KiB closes the socket with 1009': async (c) => {
    const { socket } = await rawWs(c);
    const closed = new Promise<number>((done) => socket.once('close', (code) => done(code)));
    socket.send(JSON.stringify({ type: 'chat', room: c.room, chat: 'x'.repeat(65 * 1024) }));
    expect(await closed).toBe(1009);
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

const socketIoCases: Record<string, Case> = {
  'bad payloads get an error acknowledgement; the socket stays connected': async (c) => {
    const socket = socketIo(c);
    await new Promise<void>((done, fail) => {
      socket.once('connect', () => done());
      socket.once('connect_error', fail);
    });
    const ack = (event: string, payload: unknown) =>
      socket.timeout(3000).emitWithAck(event, payload) as Promise<Record<string, unknown>>;
    expect(await ack('chat', { room: c.room, chat: { $ne: null } })).toMatchObject({
      status: 400,
      error: expect.any(String),
    });
    expect(await ack('chat', { room: c.room, chat: '' })).toMatchObject({ status: 400 });
    expect(await ack('chat', 'not an object')).toMatchObject({ status: 400 });
    expect(await ack('chat', { room: { $ne: null }, chat: 'hi' })).toMatchObject({ status: 404 });
    expect(await ack('join', { room: '../etc' })).toMatchObject({ status: 404 });
    expect(await ack('join', { room: c.room, after: 'x' })).toMatchObject({ status: 400 });
    // Without an acknowledgement function a bad event must not break anything either.
    socket.emit('chat', { room: c.room, chat: { $ne: null } });
    socket.emit('no-such-event', 1, 2, 3);
    const ok = await ack('chat', { room: c.room, chat: 'still here' });
    expect(ok).toMatchObject({ message: { chat: 'still here' } });
    expect(socket.connected).toBe(true);
    expect(await storedChats(c)).toEqual(['still here']);
    socket.disconnect();
  },
  'a packet over 64 KiB disconnects the socket': async (c) => {
    const socket = socketIo(c, { cookie: c.session.cookie }, ['websocket']);
    await new Promise<void>((done) => socket.once('connect', () => done()));
    const gone = new Promise<string>((done) => socket.once('disconnect', (reason) => done(reason)));
    socket.emit('chat', { room: c.room, chat: 'x'.repeat(65 * 1024) });
    expect(await gone).toMatch(/transport (close|error)/);
    expect(await storedChats(c)).toEqual([]);
  },
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

/**
 * What a classroom's worst client does, done for real against the real server (PROTOCOL.md: the
 * Host rule; Limits, the server's own bounds): foreign Host names, clients that flood and never
 * read, half-sent requests, 300 rooms, failed uploads, odd methods and aborted requests.
 */
import { readdir } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { Visitor } from '../core/chat.ts';
import type { Room } from '../core/model.ts';
import { LobbyMirror } from '../transports/lobby-mirror.ts';
import { flood, maskedFrame, type RawWebSocket, rawWebSocket } from './support/flood.ts';
import { eventually, newSession, type Session } from './support/http.ts';
import { serverForSuite, startServer, type TestServer } from './support/server.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with the headers given as they are (Host included), below fetch. */
function send(
  port: number,
  path: string,
  {
    method = 'GET',
    headers = {},
    body,
  }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      // Streams (SSE) would never end: the head and the first chunk are enough.
      const finish = () => {
        done({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        });
        res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (res.headers['content-type']?.startsWith('text/event-stream')) finish();
      });
      res.on('end', finish);
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function expectForeignHost(answer: Answer, name: string): Promise<void> {
  expect(answer.status).toBe(421);
  expect(JSON.parse(answer.body)).toEqual({
    error: `This server does not answer to the name "${name}": start it with --allowed-host ${name}.`,
  });
}

/** The server side of the next upgrade of `path`: its socket and the queue it holds. */
function serverSideOf(server: TestServer, path: string): () => Socket | undefined {
  let socket: Socket | undefined;
  const capture = (req: { url?: string }, upgraded: Socket) => {
    if (!socket && req.url?.startsWith(path)) {
      socket = upgraded;
      server.server.off('upgrade', capture);
    }
  };
  server.server.on('upgrade', capture);
  return () => socket;
}

/**
 * Floods `frame` from a client that never reads, watching the server's queue for it (the
 * `writableLength` of its socket) until the server cuts it off or 20 s pass.
 */
async function floodUnread(client: RawWebSocket, serverSide: Socket, frame: Buffer) {
  client.pause();
  let most = 0;
  const watch = setInterval(() => {
    most = Math.max(most, serverSide.writableLength);
  }, 5);
  const started = Date.now();
  const frames = await flood(client, frame, { stop: () => serverSide.destroyed, ms: 20_000 });
  const ms = Date.now() - started;
  clearInterval(watch);
  return { cut: serverSide.destroyed, ms, most, frames };
}

const MiB = 1024 * 1024;

describe('the Host rule (DNS rebinding)', () => {
  let server: TestServer;
  let session: Session;
  let room: string;
  beforeAll(async () => {
    server = await startServer({ allowedHosts: ['classroom.local'], limits: false });
    session = await newSession(server.url);
    room = (await session.createRoom()).id;
  });
  afterAll(() => server.close());

  it('refuses a foreign name with 421 and the flag to add: a POST, a GET, a long poll, an SSE stream', async () => {
    const host = { host: `rebind.example:${server.port}`, cookie: session.cookie };
    const json = { ...host, 'content-type': 'application/json' };
    const cases: [string, string, string?][] = [
      ['POST', `/room/${room}/chat`, JSON.stringify({ chat: 'from a foreign page' })],
      ['GET', '/api/me'],
      ['GET', '/'],
      ['GET', `/poll/room/${room}?wait=25`],
      ['GET', '/poll/lobby?wait=25'],
      ['GET', `/sse/room/${room}`],
      ['GET', '/sse/lobby'],
      ['GET', '/socket.io/?EIO=4&transport=polling'],
      ['GET', '/socket.io/socket.io.js'],
    ];
    for (const [method, path, body] of cases) {
      const answer = await send(server.port, path, { method, headers: body ? json : host, body });
      await expectForeignHost(answer, 'rebind.example');
    }
    const { messages } = (await (await session.fetch(`/api/rooms/${room}/messages`)).json()) as {
      messages: { kind: string }[];
    };
    expect(messages.filter((message) => message.kind === 'chat')).toEqual([]);
  });

  it('refuses a foreign name on a ws upgrade and on a Socket.IO websocket handshake', async () => {
    for (const path of ['/ws', '/socket.io/?EIO=4&transport=websocket']) {
      const client = await rawWebSocket(server.port, path, {
        Host: 'rebind.example',
        Cookie: session.cookie,
      });
      client.read();
      await eventually(() => client.closed, 2000, `the refused upgrade of ${path} to end`);
      expect(client.status, path).toBe(421);
    }
  });

  it('answers IP literals, localhost and an --allowed-host name, with any case or a trailing dot', async () => {
    const hosts = [
      `localhost:${server.port}`,
      'LocalHost',
      `127.0.0.1:${server.port}`,
      '[::1]',
      `[::1]:${server.port}`,
      '10.0.0.7',
      `classroom.local:${server.port}`,
      'Classroom.Local.',
    ];
    for (const host of hosts) {
      const answer = await send(server.port, '/api/me', { headers: { host } });
      expect(answer.status, host).toBe(200);
    }
    const client = await rawWebSocket(server.port, '/ws', {
      Host: `classroom.local:${server.port}`,
      Cookie: session.cookie,
    });
    expect(client.status).toBe(101);
    client.socket.destroy();
    // A name that only ends like an allowed one is another name.
    await expectForeignHost(
      await send(server.port, '/api/me', { headers: { host: 'evil-classroom.local' } }),
      'evil-classroom.local',
    );
  });
});

describe('every frame queued to a client counts against its bound', () => {
  const suite = serverForSuite({ limits: false });

  it('ws: a raw client that floods malformed frames and never reads is cut off within seconds', async () => {
    const serverSide = serverSideOf(suite.server, '/ws');
    const client = await rawWebSocket(suite.server.port, '/ws', { Cookie: suite.session.cookie });
    expect(client.status).toBe(101);
    const result = await floodUnread(client, serverSide()!, maskedFrame('not json'));
    expect(result.cut, `cut after ${result.ms} ms, ${result.frames} frames`).toBe(true);
    // About 3 to 7 s here (the kernel's socket buffers fill first); 15 s leaves room for a busy machine.
    expect(result.ms).toBeLessThan(15_000);
    // The queue held for it stayed near the 1 MiB bound (one frame past it, at most).
    expect(result.most).toBeLessThan(1.1 * MiB);
    expect(result.most).toBeGreaterThan(0);
  }, 30_000);

  it('ws: the same flood from a client that reads gets every error frame and stays connected', async () => {
    const serverSide = serverSideOf(suite.server, '/ws');
    const client = await rawWebSocket(suite.server.port, '/ws', { Cookie: suite.session.cookie });
    client.read();
    const rounds = 40;
    const perRound = 512;
    for (let round = 1; round <= rounds; round += 1) {
      await flood(client, maskedFrame('not json'), { count: perRound });
      await eventually(() => client.frames.length >= round * perRound, 5000, 'the error frames');
    }
    expect(client.closed).toBe(false);
    expect(serverSide()!.destroyed).toBe(false);
    expect(client.frames).toHaveLength(rounds * perRound);
    const bytes = client.frames.reduce((sum, frame) => sum + frame.length, 0);
    // More than the bound went through: it bounds what waits, not what flows.
    expect(bytes).toBeGreaterThan(MiB);
    expect(JSON.parse(client.frames.at(-1)!)).toMatchObject({
      type: 'error',
      data: { status: 400 },
    });
    client.socket.destroy();
  });

  it('Socket.IO: a client that emits unknown events with acks and never reads is cut off', async () => {
    const serverSide = serverSideOf(suite.server, '/socket.io/');
    const client = await rawWebSocket(suite.server.port, '/socket.io/?EIO=4&transport=websocket', {
      Cookie: suite.session.cookie,
    });
    expect(client.status).toBe(101);
    client.read();
    await eventually(() => client.frames.some((frame) => frame.startsWith('0{')), 2000, 'open');
    client.socket.write(maskedFrame('40/chat,'));
    await eventually(
      () => client.frames.some((frame) => frame.startsWith('40/chat,{')),
      2000,
      'the /chat connect',
    );
    const result = await floodUnread(client, serverSide()!, maskedFrame('42/chat,7["nope",1]'));
    expect(result.cut, `cut after ${result.ms} ms, ${result.frames} frames`).toBe(true);
    // About 3 to 7 s here (the kernel's socket buffers fill first); 15 s leaves room for a busy machine.
    expect(result.ms).toBeLessThan(15_000);
    expect(result.most).toBeLessThan(1.1 * MiB);
  }, 30_000);

  it('Socket.IO: a client that reads gets every acknowledgement and stays connected', async () => {
    const client = await rawWebSocket(suite.server.port, '/socket.io/?EIO=4&transport=websocket', {
      Cookie: suite.session.cookie,
    });
    client.read();
    await eventually(() => client.frames.some((frame) => frame.startsWith('0{')), 2000, 'open');
    client.socket.write(maskedFrame('40/chat,'));
    await eventually(() => client.frames.some((f) => f.startsWith('40/chat,{')), 2000, 'connect');
    const acks = () => client.frames.filter((frame) => frame.startsWith('43/chat,7')).length;
    for (let round = 1; round <= 40; round += 1) {
      await flood(client, maskedFrame('42/chat,7["nope",1]'), { count: 512 });
      await eventually(() => acks() >= round * 512, 5000, 'the acknowledgements');
    }
    expect(acks()).toBe(40 * 512);
    expect(client.closed).toBe(false);
    client.socket.destroy();
  });
});

describe('HTTP timeouts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ limits: false });
  });
  afterAll(() => server.close());

  it('closes a slowloris request (headers a byte a second, never finished) within 20 s', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    await new Promise((done) => socket.once('connect', done));
    const started = Date.now();
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Slow: `);
    const drip = setInterval(() => socket.write('a'), 1000);
    await new Promise((done) => socket.once('close', done));
    clearInterval(drip);
    const ms = Date.now() - started;
    expect(ms).toBeLessThan(20_000);
    // The headers timeout (10 s) did it, not something sooner.
    expect(ms).toBeGreaterThanOrEqual(9_000);
  }, 25_000);

  it('does not cut long polls or SSE streams, which are response time, not request time', async () => {
    const short = await startServer({
      limits: false,
      httpTimeouts: { headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 100 },
    });
    try {
      const session = await newSession(short.url);
      const visitor: Visitor = { userId: session.userId, user: session.user, granted: [] };
      const room = await short.chat.createRoom(visitor, { title: 'slow' });
      // The timeouts are in force: a body that never finishes is cut after about 0.6 s.
      const cut = connect(short.port, '127.0.0.1');
      cut.on('error', () => undefined);
      cut.resume();
      cut.write(
        `POST /room/${room.id}/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          'Content-Length: 100\r\n\r\n{"chat":',
      );
      const cutStarted = Date.now();
      await new Promise((done) => cut.once('close', done));
      expect(Date.now() - cutStarted).toBeLessThan(1500);

      const stream = await session.fetch('/sse/lobby', {
        headers: { accept: 'text/event-stream' },
      });
      expect(stream.status).toBe(200);
      // The first lobby poll learns where the log is; the next one waits out its 2 s.
      const first = await session.fetch('/poll/lobby?wait=0');
      const { cursor } = (await first.json()) as { cursor: string };
      const started = Date.now();
      const poll = await session.fetch(`/poll/lobby?cursor=${cursor}&wait=2`);
      expect(poll.status).toBe(200);
      expect(((await poll.json()) as { events: unknown[] }).events).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      // The stream, open for 2 s past the request timeout, still carries what happens now.
      const later = await short.chat.createRoom(visitor, { title: 'later' });
      const reader = stream.body!.getReader();
      let text = '';
      while (!text.includes(later.id)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain(later.id);
      await reader.cancel();
    } finally {
      await short.close();
    }
  });
});

describe('the room list, a page at a time', () => {
  let server: TestServer;
  let visitor: Visitor;
  /** Ids in creation order, oldest first. */
  const created: string[] = [];
  beforeAll(async () => {
    server = await startServer({ limits: false });
    const session = await newSession(server.url);
    visitor = { userId: session.userId, user: session.user, granted: [] };
    // Through the core: rate limits on room creation are not what this tests.
    for (let i = 0; i < 300; i += 1) {
      created.push((await server.chat.createRoom(visitor, { title: `room ${i}` })).id);
    }
  });
  afterAll(() => server.close());

  const rooms = async (query = '') => {
    const response = await fetch(`${server.url}/api/rooms${query}`);
    expect(response.status, query).toBe(200);
    return (await response.json()) as { rooms: Room[]; total: number; next?: string };
  };

  it('answers 100 by default and at most 200, newest first, with the total', async () => {
    const first = await rooms();
    expect(first.rooms).toHaveLength(100);
    expect(first.total).toBe(300);
    expect(first.rooms[0]!.id).toBe(created.at(-1));
    expect(first.next).toEqual(expect.any(String));
    const most = await rooms('?limit=200');
    expect(most.rooms.map((room) => room.id)).toEqual(created.toReversed().slice(0, 200));
  });

  it('walks all 300 once with next, newest first, whatever the page size', async () => {
    for (const limit of [200, 7]) {
      const seen: string[] = [];
      let page = await rooms(`?limit=${limit}`);
      for (;;) {
        seen.push(...page.rooms.map((room) => room.id));
        expect(page.total).toBe(300);
        if (page.next === undefined) break;
        page = await rooms(`?limit=${limit}&before=${encodeURIComponent(page.next)}`);
      }
      expect(seen).toEqual(created.toReversed());
    }
  });

  it('refuses a bad limit or before with 400 and a sentence', async () => {
    const bad = ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'limit=1&limit=2', 'before=-1'];
    for (const query of [...bad, 'before=x', 'before=1&before=2']) {
      const response = await fetch(`${server.url}/api/rooms?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: string }).error).toEqual(expect.any(String));
    }
  });

  it('the lobby page shows the newest 200 and says how many there are in all', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    const page = await response.text();
    const ids = [...page.matchAll(/<tr data-id="([^"]+)"/g)].map((match) => match[1]);
    expect(ids).toEqual(created.toReversed().slice(0, 200));
    expect(page).toContain('200 of 300 rooms');
  });

  it('the lobby stream still carries every event, and a mirror re-reads every page', async () => {
    const session = await newSession(server.url);
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
      headers: { cookie: session.cookie },
    });
    const frames: { type: string; data: { id: string } }[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((done) => socket.once('open', done));
    socket.send(JSON.stringify({ type: 'subscribe', lobby: true }));
    await eventually(() => frames.some((frame) => frame.type === 'subscribed'), 2000, 'subscribed');

    const mirrored: [string, string][] = [];
    const mirror = new LobbyMirror((type, data) => mirrored.push([type, data.id]));
    const load = (query: string) => fetch(`${server.url}/api/rooms${query}`);
    await mirror.resync(load, { quiet: true, current: () => true });

    const oldest = created.shift()!;
    await server.chat.removeRoom(visitor, oldest);
    await eventually(
      () => frames.some((frame) => frame.type === 'removeRoom' && frame.data.id === oldest),
      2000,
      "the oldest room's removeRoom",
    );
    const newest = await server.chat.createRoom(visitor, { title: 'room 300' });
    created.push(newest.id);
    await eventually(() => frames.some((f) => f.data.id === newest.id), 2000, 'newRoom');
    socket.close();

    // What a reconnecting client learns: exactly what changed, nothing about the other 299.
    await mirror.resync(load, { quiet: false, current: () => true });
    expect(mirrored).toEqual([
      ['removeRoom', oldest],
      ['newRoom', newest.id],
    ]);
  });
});

describe('failed or refused uploads leave no file behind', () => {
  let server: TestServer;
  let session: Session;
  let room: string;
  beforeAll(async () => {
    server = await startServer({ limits: false });
    session = await newSession(server.url);
    const visitor: Visitor = { userId: session.userId, user: session.user, granted: [] };
    room = (await server.chat.createRoom(visitor, { title: 'uploads' })).id;
  });
  afterAll(() => server.close());

  const files = async () => ({
    tmp: await readdir(join(server.dataDir, 'tmp')),
    gifs: await readdir(join(server.dataDir, 'gifs')),
  });
  const upload = (parts: [string, Blob, string?][]) => {
    const form = new FormData();
    for (const [field, blob, name] of parts) form.append(field, blob, name ?? 'a.gif');
    return session.fetch(`/room/${room}/gif`, { method: 'POST', body: form });
  };
  const gif = (bytes: number) => new Blob([Buffer.from('GIF89a'), Buffer.alloc(bytes)]);

  it('413 (over 5 MiB), 415 (not a GIF), 400 (no gif field), extra files: nothing stays', async () => {
    const cases: [number, [string, Blob, string?][]][] = [
      [413, [['gif', gif(6 * MiB)]]],
      [415, [['gif', new Blob(['<script>alert(1)</script>']), 'x.gif']]],
      [400, [['other', gif(100)]]],
      [
        413,
        [
          ['gif', gif(100)],
          ['gif', gif(100)],
          ['more', gif(100)],
        ],
      ],
    ];
    for (const [status, parts] of cases) {
      const response = await upload(parts);
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: string }).error).toEqual(expect.any(String));
      await eventually(
        async () => (await files()).tmp.length === 0,
        2000,
        `tmp empty after ${status}`,
      );
      expect(await files()).toEqual({ tmp: [], gifs: [] });
    }
  });

  it('a client that aborts mid-upload leaves nothing, and no stack in the log', async () => {
    const logged = vi.spyOn(console, 'error');
    try {
      const boundary = 'abortedupload';
      const head =
        `--${boundary}\r\nContent-Disposition: form-data; name="gif"; filename="a.gif"\r\n` +
        'Content-Type: image/gif\r\n\r\nGIF89a';
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        `POST /room/${room}/gif HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${session.cookie}\r\n` +
          `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${2 * MiB}\r\n\r\n${head}`,
      );
      socket.write(Buffer.alloc(256 * 1024));
      await eventually(async () => (await files()).tmp.length === 1, 2000, 'the upload to begin');
      socket.destroy();
      await eventually(async () => (await files()).tmp.length === 0, 2000, 'tmp empty after abort');
      await new Promise((done) => setTimeout(done, 100));
      expect(await files()).toEqual({ tmp: [], gifs: [] });
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
    // And a GIF that is fine still goes in.
    expect((await upload([['gif', gif(10)]])).status).toBe(201);
    expect((await files()).gifs).toHaveLength(1);
    expect((await files()).tmp).toEqual([]);
  });
});

describe('methods and aborted requests', () => {
  const suite = serverForSuite({ limits: false });

  it('an unsupported method is a JSON 405 with Allow; an unknown one a JSON 501', async () => {
    const put = await suite.session.fetch('/api/me', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('GET');
    expect(put.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await put.json()) as { error: string }).error).toMatch(/takes .*GET/);
    const propfind = await send(suite.server.port, '/api/me', { method: 'PROPFIND' });
    expect(propfind.status).toBe(501);
    expect(propfind.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(propfind.body)).toEqual({ error: expect.stringContaining('PROPFIND') });
  });

  it('a POST whose body is cut off is no error: no stack in the log', async () => {
    const visitor: Visitor = {
      userId: suite.session.userId,
      user: suite.session.user,
      granted: [],
    };
    const room = await suite.server.chat.createRoom(visitor, { title: 'aborts' });
    const logged = vi.spyOn(console, 'error');
    try {
      for (const path of [`/room/${room.id}/chat`, '/room']) {
        const socket = connect(suite.server.port, '127.0.0.1');
        socket.on('error', () => undefined);
        const answered: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => answered.push(chunk));
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${suite.session.cookie}\r\n` +
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"chat":"hel',
        );
        await new Promise((done) => setTimeout(done, 100));
        socket.destroy();
        await new Promise((done) => setTimeout(done, 200));
        expect(answered).toEqual([]);
      }
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
  });
});

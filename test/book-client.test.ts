/**
 * Issue 16, the first acceptance line: a Node client written the way the book's final pages are
 * (Node.js 교과서 ch. 12.7, `views/main.html` and `views/chat.html`, Socket.IO), against the real
 * server. The lobby connects to `/room` and reads `newRoom`'s `_id`, `title`, `max`, `owner` and
 * `password`, and removes the row whose `data-id === data` on `removeRoom`; the new-room form posts
 * `title`, `max`, `password`; the 입장 button goes to `/room/<id>`, or `/room/<id>?password=<pw>`
 * for a 비밀방; the chat page connects to `/chat` and emits `join` with the bare room id and no
 * acknowledgement, draws `join` and `exit` from `data.chat`, and `chat` from `data.user`,
 * `data.chat` or `'/gif/' + data.gif`; it posts `{chat}` as JSON and a GIF as the field `gif`.
 */
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GIF_1X1, gifForm } from './support/files.ts';
import { cookieHeader, eventually, newSession, type Session, sessionOf } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

const EMPTY_ROOM_GRACE_MS = 3000;

let server: TestServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startServer({ emptyRoomGraceMs: EMPTY_ROOM_GRACE_MS, memberGraceMs: 300 });
});
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});
afterAll(() => server.close());

/** What the book's `main.html` keeps: one table row per room, by `data-id`. */
interface BookRow {
  id: unknown;
  title: unknown;
  secret: boolean;
  max: unknown;
  owner: unknown;
}

/** `main.html`: `io.connect('/room', { path: '/socket.io' })`, rows added and removed. */
function bookLobby(): { rows: BookRow[]; socket: Socket } {
  const rows: BookRow[] = [];
  const socket = io(`${server.url}/room`, { path: '/socket.io', forceNew: true });
  sockets.push(socket);
  socket.on('newRoom', (data) => {
    rows.push({
      id: data._id,
      title: data.title,
      secret: Boolean(data.password),
      max: data.max,
      owner: data.owner,
    });
  });
  socket.on('removeRoom', (data) => {
    const at = rows.findIndex((row) => row.id === data);
    if (at !== -1) rows.splice(at, 1);
  });
  return { rows, socket };
}

/** One line of `chat.html`'s `#chat-list`, as the book draws it. */
interface BookLine {
  kind: 'system' | 'mine' | 'other';
  /** Which handler drew a system line (the book draws both alike). */
  event?: 'join' | 'exit';
  name?: string;
  text?: string;
  img?: string;
}

/** `chat.html`: connects to `/chat` and emits `join` with the page's last path segment. */
function bookChat(session: Session, room: string): { lines: BookLine[]; socket: Socket } {
  const lines: BookLine[] = [];
  const socket = io(`${server.url}/chat`, {
    path: '/socket.io',
    forceNew: true,
    extraHeaders: { cookie: session.cookie },
  });
  sockets.push(socket);
  socket.on('connect', () => socket.emit('join', room));
  socket.on('join', (data) => lines.push({ kind: 'system', event: 'join', text: data.chat }));
  socket.on('exit', (data) => lines.push({ kind: 'system', event: 'exit', text: data.chat }));
  socket.on('chat', (data) => {
    const line: BookLine = {
      kind: data.user === session.user ? 'mine' : 'other',
      name: data.user,
    };
    if (data.chat) line.text = data.chat;
    else line.img = `/gif/${data.gif}`;
    lines.push(line);
  });
  return { lines, socket };
}

/** axios, as the book's pages use it: JSON, with its default `Accept`. */
function axiosPost(session: Session, path: string, body: unknown): Promise<Response> {
  return session.fetch(path, {
    method: 'POST',
    json: body,
    headers: { accept: 'application/json, text/plain, */*' },
  });
}

/** The new-room form (`room.html`): form-encoded, the browser following the 303. */
async function createBookRoom(session: Session, title: string, password = ''): Promise<string> {
  const body = new URLSearchParams({ title, max: '10', password }).toString();
  const response = await session.postForm('/room', body);
  expect(response.status).toBe(303);
  const location = response.headers.get('location')!;
  expect(location).toMatch(/^\/room\/[A-Za-z0-9_-]+$/);
  return location.slice('/room/'.length);
}

/** A browser's navigation to a page. */
function navigate(session: Session, path: string): Promise<Response> {
  return session.fetch(path, { headers: { accept: 'text/html' } });
}

describe("the book's pages, as a Node client", () => {
  it('a public room: the lobby row, join, text, a GIF, exit, and the row goes', async () => {
    const alice = await newSession(server.url);
    const bob = await newSession(server.url);
    // Both pages load the client from the server.
    const script = await fetch(`${server.url}/socket.io/socket.io.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(await script.text()).toContain('Socket.IO v4');
    const lobby = bookLobby();
    await eventually(() => lobby.socket.connected, 3000, 'the lobby to connect');

    const room = await createBookRoom(alice, '공개방 test');
    await eventually(() => lobby.rows.some((row) => row.id === room), 3000, 'the row');
    expect(lobby.rows.find((row) => row.id === room)).toEqual({
      id: room,
      title: '공개방 test',
      secret: false,
      max: 10,
      owner: alice.user,
    });

    // The 입장 button: the page, then its script joins.
    for (const session of [alice, bob]) {
      const page = await navigate(session, `/room/${room}`);
      expect(page.status).toBe(200);
      await page.body?.cancel();
    }
    const alicePage = bookChat(alice, room);
    await eventually(() => alicePage.lines.length === 1, 3000, "alice's join line");
    const bobPage = bookChat(bob, room);
    const joined = `${bob.user} joined`;
    await eventually(() => alicePage.lines.some((l) => l.text === joined), 3000, "bob's join");
    await eventually(() => bobPage.lines.some((l) => l.text === joined), 3000, 'bob sees it');

    const sent = await axiosPost(bob, `/room/${room}/chat`, { chat: '안녕하세요' });
    expect(sent.status).toBe(201);
    await sent.body?.cancel();
    const upload = await bob.fetch(`/room/${room}/gif`, {
      method: 'POST',
      body: gifForm(GIF_1X1, 'cat.gif'),
    });
    expect(upload.status).toBe(201);
    await upload.body?.cancel();

    // The sender sees its own message only through the `chat` event.
    const posts = (lines: BookLine[]) => lines.filter((line) => line.kind !== 'system');
    await eventually(() => posts(bobPage.lines).length === 2, 3000, "bob's two posts");
    await eventually(() => posts(alicePage.lines).length === 2, 3000, "alice's copy");
    expect(posts(bobPage.lines)).toEqual([
      { kind: 'mine', name: bob.user, text: '안녕하세요' },
      { kind: 'mine', name: bob.user, img: expect.stringMatching(/^\/gif\/[\w-]+\.gif$/) },
    ]);
    expect(posts(alicePage.lines)).toEqual([
      { kind: 'other', name: bob.user, text: '안녕하세요' },
      { kind: 'other', name: bob.user, img: posts(bobPage.lines)[1]!.img },
    ]);
    const image = await fetch(`${server.url}${posts(alicePage.lines)[1]!.img}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/gif');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(GIF_1X1);

    // #exit-btn is a link to `/`: leaving closes the socket.
    bobPage.socket.disconnect();
    const exits = () => alicePage.lines.filter((line) => line.event === 'exit');
    await eventually(() => exits().length === 1, 3000, "bob's exit line");
    expect(exits()[0]!.text).toBe(`${bob.user} left`);

    // The last one out: the room goes after the grace, and its row with it.
    alicePage.socket.disconnect();
    await eventually(
      () => !lobby.rows.some((row) => row.id === room),
      EMPTY_ROOM_GRACE_MS + 3000,
      'the row to go',
    );
  });

  it('a password room: shown as 비밀방, its password never sent; ?password= lets the right one in', async () => {
    const alice = await newSession(server.url);
    const bob = await newSession(server.url);
    const lobby = bookLobby();
    const payloads: unknown[] = [];
    lobby.socket.on('newRoom', (data) => payloads.push(data));
    await eventually(() => lobby.socket.connected, 3000, 'the lobby to connect');

    const room = await createBookRoom(alice, '비밀방 test', 'open sesame');
    await eventually(() => lobby.rows.some((row) => row.id === room), 3000, 'the row');
    expect(lobby.rows.find((row) => row.id === room)).toMatchObject({ secret: true, max: 10 });
    expect(JSON.stringify(payloads)).not.toContain('open sesame');

    // Without the password, the page asks for it and a join gets nothing.
    const form = await navigate(bob, `/room/${room}`);
    expect(form.status).toBe(200);
    expect(await form.text()).toContain(`/room/${room}/enter`);
    const outside = bookChat(bob, room);
    await eventually(() => outside.socket.connected, 3000, 'the refused page to connect');
    expect((await axiosPost(bob, `/room/${room}/chat`, { chat: 'let me in' })).status).toBe(403);

    // The 입장 button's prompt: the password in the address, gone from it after the 303.
    const entered = await navigate(
      bob,
      `/room/${room}?password=${encodeURIComponent('open sesame')}`,
    );
    expect(entered.status).toBe(303);
    expect(entered.headers.get('location')).toBe(`/room/${room}`);
    const inside = sessionOf(server.url, bob, cookieHeader(entered));
    const page = await navigate(inside, `/room/${room}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('id="chat-list"');

    const alicePage = bookChat(alice, room);
    await eventually(() => alicePage.lines.length === 1, 3000, "alice's join line");
    const bobPage = bookChat(inside, room);
    await eventually(
      () => alicePage.lines.some((line) => line.text === `${bob.user} joined`),
      3000,
      "bob's join",
    );
    const sent = await axiosPost(inside, `/room/${room}/chat`, { chat: 'in at last' });
    expect(sent.status).toBe(201);
    await eventually(() => bobPage.lines.some((l) => l.text === 'in at last'), 3000, 'the chat');
    expect(bobPage.lines.find((line) => line.text === 'in at last')?.kind).toBe('mine');
    expect(outside.lines).toEqual([]);
  });
});

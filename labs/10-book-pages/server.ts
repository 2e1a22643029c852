/**
 * Lab 10: the book's own pages (ch. 12.7, views/main.html and views/chat.html) against the lab.
 * The pages in book/ are written the way the book writes them, Socket.IO and axios included;
 * this file only fills in their template variables ({{...}}, the book's nunjucks ones) and serves
 * them at the book's addresses, `/` and `/room/:id`, in front of the app. Everything else (the
 * new-room form, the posts, the uploads, Socket.IO) is the app's, unchanged. The lab's own pages
 * stay one query away: `/?page=lab`, `/room/:id?page=lab`.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ID_PATTERN, type Message, type Room } from '../../core/model.ts';
import { escapeHtml } from '../../web/views/html.ts';
import { type LabApp, startLabApp } from '../shared/app.ts';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const MAIN = readFileSync(here('./book/main.html'), 'utf8');
const CHAT = readFileSync(here('./book/chat.html'), 'utf8');
const ASSETS = new Map([
  [
    '/book/main.css',
    { type: 'text/css; charset=utf-8', body: readFileSync(here('./book/main.css')) },
  ],
  [
    '/book/axios.min.js',
    {
      type: 'application/javascript; charset=utf-8',
      // The book loads it from unpkg; the lab serves the same file from its own axios package.
      body: readFileSync(
        join(
          dirname(createRequire(import.meta.url).resolve('axios/package.json')),
          'dist/axios.min.js',
        ),
      ),
    },
  ],
]);
/**
 * The book's pages run their code inline, as the book writes them: their own policy allows that,
 * and nothing else the app's forbids (every value filled in is escaped, and the scripts put user
 * text in with textContent).
 */
const BOOK_POLICY =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export async function main(
  args: string[],
  log: (line: string) => void = console.info,
): Promise<LabApp> {
  const lab = await startLabApp(
    args,
    { name: '10-book-pages', transport: 'all', store: 'memory', front: serveBookPages },
    log,
  );
  log(`the book's pages are / and /room/:id; the lab's own, ${lab.origin}/?page=lab`);
  return lab;
}

/** Puts the book's two pages in front of the app (see the file's comment). */
function serveBookPages(server: Server, app: LabApp): void {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const next: RequestListener = (req, res) => {
    for (const listener of listeners) listener.call(server, req, res);
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    const asset = ASSETS.get(url.pathname);
    const isPage = req.method === 'GET' && !url.searchParams.has('page');
    const room = /^\/room\/([^/]+)$/.exec(url.pathname)?.[1];
    if (asset && req.method === 'GET') {
      res
        .writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-cache' })
        .end(asset.body);
    } else if (isPage && url.pathname === '/') {
      lobby(app, req, res, url);
    } else if (isPage && room && ID_PATTERN.test(room) && !url.searchParams.has('password')) {
      chat(app, room, req, res).catch(() => res.writeHead(500).end());
    } else {
      next(req, res);
    }
  });
}

/** main.html: the rooms as the book's `{% for room in rooms %}` draws them. */
function lobby(app: LabApp, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const { rooms } = app.running().chat.listRooms({ limit: 200 });
  const rows = rooms.reverse().map(roomRow).join('\n');
  send(
    res,
    fill(
      MAIN,
      { origin: originOf(req), error: url.searchParams.get('error') ?? '' },
      { rooms: rows },
    ),
  );
}

function roomRow(room: Room): string {
  const id = escapeHtml(room.id);
  const secret = room.hasPassword ? 'true' : 'false';
  return `<tr data-id="${id}">
      <td>${escapeHtml(room.title)}</td>
      <td>${room.hasPassword ? '비밀방' : '공개방'}</td>
      <td>${room.max}</td>
      <td style="color: ${escapeHtml(room.owner)}">${escapeHtml(room.owner)}</td>
      <td><button data-password="${secret}" data-id="${id}" class="join-btn">입장</button></td>
    </tr>`;
}

/**
 * chat.html, for this visitor: who they are and the room's stored chats, asked of the app's own
 * API with the visitor's cookie, so every access rule is the app's. A room that needs its password
 * first goes to the lab's password form, which comes back here once it is right.
 */
async function chat(
  app: LabApp,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const origin = `http://127.0.0.1:${(req.socket.localPort ?? 0).toString()}`;
  const cookie = req.headers.cookie ?? '';
  const me = await fetch(`${origin}/api/me`, { headers: { cookie } });
  const { user } = (await me.json()) as { user: string };
  const setCookies = me.headers.getSetCookie();
  const jar = [cookie, ...setCookies.map((line) => line.split(';')[0])].filter(Boolean).join('; ');
  const headers = { cookie: jar, accept: 'application/json' };
  const history = await fetch(`${origin}/api/rooms/${id}/messages?limit=200`, { headers });
  if (history.status === 403 || history.status === 404) {
    await history.body?.cancel();
    const to =
      history.status === 403
        ? `/room/${id}?page=lab`
        : `/?error=${encodeURIComponent('This room does not exist (any more).')}`;
    res.writeHead(303, { Location: to, 'Set-Cookie': setCookies }).end();
    return;
  }
  const { messages } = (await history.json()) as { messages: Message[] };
  const title = app.running().chat.getRoom(id).title;
  const chats = messages.map((message) => chatLine(message, user)).join('\n');
  send(res, fill(CHAT, { title, user, roomId: id, origin: originOf(req) }, { chats }), setCookies);
}

/** One stored message, as the book's `{% for chat in chats %}` draws it. */
function chatLine(message: Message, user: string): string {
  if (message.kind === 'system') {
    return `<div class="system"><div>${escapeHtml(message.chat ?? '')}</div></div>`;
  }
  const side = message.user === user ? 'mine' : 'other';
  const body =
    message.kind === 'gif'
      ? `<img src="/gif/${escapeHtml(message.gif ?? '')}">`
      : `<div>${escapeHtml(message.chat ?? '')}</div>`;
  return `<div class="${side}" style="color: ${escapeHtml(message.user)}"><div>${escapeHtml(message.user)}</div>${body}</div>`;
}

/** `{{name}}` filled with escaped text, or with markup made here from escaped parts. */
function fill(page: string, text: Record<string, string>, markup: Record<string, string>): string {
  return page.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    if (name in markup) return markup[name]!;
    if (name in text) return escapeHtml(text[name]!);
    return whole;
  });
}

/** The address the page was reached at (the app has checked its Host already). */
function originOf(req: IncomingMessage): string {
  return `http://${req.headers.host ?? 'localhost'}`;
}

function send(res: ServerResponse, body: string, cookies: string[] = []): void {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': BOOK_POLICY,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...(cookies.length > 0 ? { 'Set-Cookie': cookies } : {}),
  });
  res.end(body);
}

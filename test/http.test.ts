import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GIF_1X1, gifForm, PNG_1X1 } from './support/files.ts';
import { cookieHeader, newSession, type Session } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

let server: TestServer;
let owner: Session;
let guest: Session;

beforeAll(async () => {
  server = await startServer({ transport: 'sse', limits: false });
  owner = await newSession(server.url);
  guest = await newSession(server.url);
});
afterAll(() => server.close());

async function errorOf(response: Response): Promise<string> {
  const body = (await response.json()) as { error?: unknown };
  expect(typeof body.error).toBe('string');
  expect(body.error).not.toMatch(/at .*\.ts:\d+|Error:/);
  return body.error as string;
}

describe('identity', () => {
  it('GET /api/me gives a colour and a signed, HttpOnly, SameSite=Lax session cookie', async () => {
    const response = await fetch(`${server.url}/api/me`);
    expect(response.status).toBe(200);
    const { user } = (await response.json()) as { user: string };
    expect(user).toMatch(/^#[0-9a-f]{6}$/);
    const cookies = response.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith('lab.sid.sig='))).toBe(true);
    for (const cookie of cookies) {
      expect(cookie.toLowerCase()).toContain('httponly');
      expect(cookie.toLowerCase()).toContain('samesite=lax');
    }
  });

  it('the same cookie keeps the same colour; a forged cookie is no session', async () => {
    const again = await owner.fetch('/api/me');
    expect(((await again.json()) as { user: string }).user).toBe(owner.user);
    const forged = owner.cookie.replace(
      /lab\.sid=([^;]+)/,
      (_, value: string) => `lab.sid=${value.slice(0, -4)}AAAA`,
    );
    const room = await owner.createRoom();
    const response = await fetch(`${server.url}/room/${room.id}/chat`, {
      method: 'POST',
      headers: { cookie: forged, 'content-type': 'application/json' },
      body: JSON.stringify({ chat: 'hi' }),
    });
    expect(response.status).toBe(401);
  });

  // A short Cookie header is remembered whole, a long one (a browser's, with every cookie of
  // localhost) by its session pair: both kinds of key.
  it.each([
    ['alone', ''],
    ['among 300 bytes of other cookies', `pad=${'x'.repeat(300)}; `],
  ])(
    'a cookie the server has read before (%s) is no pass for a forged signature or value',
    async (_, others) => {
      const room = await owner.createRoom();
      const post = (cookie: string) =>
        fetch(`${server.url}/room/${room.id}/chat`, {
          method: 'POST',
          headers: { cookie: others + cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ chat: 'hi' }),
        });
      // Read (and so remembered) twice with the true pair first.
      expect((await post(owner.cookie)).status).toBe(201);
      expect((await post(owner.cookie)).status).toBe(201);
      const otherSignature = owner.cookie.replace(/lab\.sid\.sig=[^;]+/, 'lab.sid.sig=AAAAAAAA');
      expect((await post(otherSignature)).status).toBe(401);
      const guestValue = /lab\.sid=[^;]+/.exec(guest.cookie)![0];
      const swapped = owner.cookie.replace(/lab\.sid=[^;]+/, guestValue);
      expect((await post(swapped)).status).toBe(401);
    },
  );

  it('a password grant lives in the new cookie only, not in the one sent before it', async () => {
    const visitor = await newSession(server.url);
    const room = await owner.createRoom({ password: 'sesame' });
    const read = (cookie: string) =>
      fetch(`${server.url}/api/rooms/${room.id}/messages`, { headers: { cookie } });
    expect((await read(visitor.cookie)).status).toBe(403);
    const entered = await visitor.fetch(`/room/${room.id}/enter`, {
      method: 'POST',
      json: { password: 'sesame' },
    });
    expect(entered.status).toBe(204);
    const granted = cookieHeader(entered);
    expect((await read(granted)).status).toBe(200);
    expect((await read(visitor.cookie)).status).toBe(403);
  });
});

describe('POST /room', () => {
  it('creates a room (JSON: 201) that the list shows, owned by its creator, no password in any form', async () => {
    const response = await owner.fetch('/room', {
      method: 'POST',
      json: { title: '  Book club  ', max: 5, password: 'sesame' },
    });
    expect(response.status).toBe(201);
    const { room } = (await response.json()) as { room: Record<string, unknown> };
    expect(room).toMatchObject({
      title: 'Book club',
      max: 5,
      owner: owner.user,
      ownerId: owner.userId,
      hasPassword: true,
      members: 0,
    });
    expect(Object.keys(room).sort()).toEqual(
      ['createdAt', 'hasPassword', 'id', 'max', 'members', 'owner', 'ownerId', 'title'].sort(),
    );
    const list = await (await fetch(`${server.url}/api/rooms`)).text();
    expect(list).toContain(room.id as string);
    expect(list).not.toContain('sesame');
    expect(list).not.toContain('scrypt');
  });

  it('a form post answers 303 to the new room', async () => {
    const response = await owner.postForm('/room', 'title=Form+room&max=3&password=');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/room\/[A-Za-z0-9_-]+$/);
  });

  it('a form keeps the transport the visitor chose (?transport=) across the redirect', async () => {
    const form = await owner.fetch('/room?transport=sse', { headers: { accept: 'text/html' } });
    expect(await form.text()).toContain('action="/room?transport=sse"');
    const response = await owner.postForm('/room?transport=sse', 'title=Kept&max=3');
    expect(response.headers.get('location')).toMatch(/^\/room\/[A-Za-z0-9_-]+\?transport=sse$/);
    const ignored = await owner.postForm('/room?transport=%3Cscript%3E', 'title=Ignored');
    expect(ignored.headers.get('location')).toMatch(/^\/room\/[A-Za-z0-9_-]+$/);
  });

  it('max defaults to 10', async () => {
    expect((await owner.createRoom({ max: undefined })).max).toBe(10);
  });

  it.each([
    ['no title', {}],
    ['a blank title', { title: '   ' }],
    ['a title of 61 characters', { title: 'x'.repeat(61) }],
    ['a title that is an object', { title: { $ne: null } }],
    ['a title that is an array', { title: ['a'] }],
    ['max 1', { title: 't', max: 1 }],
    ['max 10001', { title: 't', max: 10001 }],
    ['max 2.5', { title: 't', max: 2.5 }],
    ['max as an object', { title: 't', max: { $gt: 1 } }],
    ['max as words', { title: 't', max: 'ten' }],
    ['a password of 65 characters', { title: 't', password: 'p'.repeat(65) }],
    ['a password that is an object', { title: 't', password: { $ne: null } }],
  ])('refuses %s with 400 and a sentence', async (_, body) => {
    const response = await owner.fetch('/room', { method: 'POST', json: body });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).length).toBeGreaterThan(10);
  });

  it('accepts the edges: 60-character title, max 2 and 10000, 64-character password', async () => {
    const room = await owner.createRoom({
      title: 't'.repeat(60),
      max: 2,
      password: 'p'.repeat(64),
    });
    expect(room).toMatchObject({ max: 2, hasPassword: true });
    expect((await owner.createRoom({ max: 10000 })).max).toBe(10000);
  });

  it('a form with a bad title shows the form again with the sentence (HTML)', async () => {
    const response = await owner.postForm('/room', 'title=&max=3');
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('error-message');
    expect(html).toContain('title must be 1 to 60');
  });

  it('malformed JSON is a 400 with a sentence, not a 500', async () => {
    const response = await owner.fetch('/room', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"title": ',
    });
    expect(response.status).toBe(400);
    await errorOf(response);
  });

  it('an oversized JSON body is a 413', async () => {
    const response = await owner.fetch('/room', {
      method: 'POST',
      json: { title: 't', padding: 'x'.repeat(100_000) },
    });
    expect(response.status).toBe(413);
    await errorOf(response);
  });
});

describe('Origin checks', () => {
  it('refuses a POST and a DELETE from a foreign Origin with 403, and accepts our own', async () => {
    const foreign = await owner.fetch('/room', {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
      json: { title: 'x' },
    });
    expect(foreign.status).toBe(403);
    expect(await errorOf(foreign)).toMatch(/Origin/);
    const room = await owner.createRoom();
    const del = await owner.fetch(`/room/${room.id}`, {
      method: 'DELETE',
      headers: { origin: 'http://evil.example' },
    });
    expect(del.status).toBe(403);
    const own = await owner.fetch('/room', {
      method: 'POST',
      headers: { origin: server.url },
      json: { title: 'x' },
    });
    expect(own.status).toBe(201);
  });

  it('accepts an --allowed-origin', async () => {
    const other = await startServer({
      transport: 'sse',
      allowedOrigins: ['http://localhost:3000'],
    });
    try {
      const session = await newSession(other.url);
      const response = await session.fetch('/room', {
        method: 'POST',
        headers: { origin: 'http://localhost:3000' },
        json: { title: 'x' },
      });
      expect(response.status).toBe(201);
    } finally {
      await other.close();
    }
  });
});

describe('rooms, ids and access', () => {
  it.each([
    ['an unknown id', '/room/doesnotexist/chat'],
    ['a malformed id', '/room/..%2F..%2Fetc/chat'],
    ['an overlong id', `/room/${'a'.repeat(65)}/chat`],
    ['an id with odd characters', '/room/%24ne/chat'],
  ])('posting to %s is a 404 with a sentence', async (_, path) => {
    const response = await owner.fetch(path, { method: 'POST', json: { chat: 'hi' } });
    expect(response.status).toBe(404);
    await errorOf(response);
  });

  it('GET /room/:id of an unknown room redirects a browser to the lobby with the sentence', async () => {
    const response = await owner.fetch('/room/nope', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(303);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(/^\/\?error=/);
    const lobby = await owner.fetch(location, { headers: { accept: 'text/html' } });
    const html = await lobby.text();
    expect(html).toContain('error-message');
    expect(html).toContain('This room does not exist');
  });

  it('unknown routes and history of unknown rooms are 404 JSON', async () => {
    expect((await owner.fetch('/nothing/here')).status).toBe(404);
    const history = await owner.fetch('/api/rooms/nope/messages');
    expect(history.status).toBe(404);
    await errorOf(history);
  });

  it('posting without a session is a 401', async () => {
    const room = await owner.createRoom();
    const response = await fetch(`${server.url}/room/${room.id}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat: 'hi' }),
    });
    expect(response.status).toBe(401);
    await errorOf(response);
    const history = await fetch(`${server.url}/api/rooms/${room.id}/messages`);
    expect(history.status).toBe(401);
  });

  it('a password room: 403 until the right password is entered, then the grant stays in the session', async () => {
    const room = await owner.createRoom({ password: 'open sesame' });
    expect(
      (await guest.fetch(`/room/${room.id}/chat`, { method: 'POST', json: { chat: 'hi' } })).status,
    ).toBe(403);
    expect((await guest.fetch(`/api/rooms/${room.id}/messages`)).status).toBe(403);
    const page = await guest.fetch(`/room/${room.id}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`/room/${room.id}/enter`);

    const wrong = await guest.fetch(`/room/${room.id}/enter`, {
      method: 'POST',
      json: { password: 'nope' },
    });
    expect(wrong.status).toBe(403);
    expect(await errorOf(wrong)).toMatch(/password/i);
    const injected = await guest.fetch(`/room/${room.id}/enter`, {
      method: 'POST',
      json: { password: { $ne: null } },
    });
    expect(injected.status).toBe(400);

    const right = await guest.fetch(`/room/${room.id}/enter`, {
      method: 'POST',
      json: { password: 'open sesame' },
    });
    expect(right.status).toBe(204);
    const cookie = right.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const granted = await fetch(`${server.url}/room/${room.id}/chat`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ chat: 'let me in' }),
    });
    expect(granted.status).toBe(201);
    // The owner never needs the password.
    expect(
      (await owner.fetch(`/room/${room.id}/chat`, { method: 'POST', json: { chat: 'mine' } }))
        .status,
    ).toBe(201);
  });

  it('the password form with a wrong password shows the sentence again (HTML)', async () => {
    const room = await owner.createRoom({ password: 'pw' });
    const response = await guest.postForm(`/room/${room.id}/enter`, 'password=bad');
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('The password is wrong.');
  });

  describe("GET /room/:id?password= (the book's lobby)", () => {
    const page = (session: Session, path: string) =>
      session.fetch(path, { headers: { accept: 'text/html' } });
    const canRead = async (cookie: string, room: string) =>
      (await fetch(`${server.url}/api/rooms/${room}/messages`, { headers: { cookie } })).status;

    it('a right one is kept in the session and answered 303 to the room, out of the address bar', async () => {
      const room = await owner.createRoom({ password: 'open sesame' });
      for (const accept of ['text/html', 'application/json']) {
        const visitor = await newSession(server.url);
        const path = `/room/${room.id}?password=open%20sesame`;
        const response = await visitor.fetch(path, { headers: { accept } });
        expect(response.status, accept).toBe(303);
        expect(response.headers.get('location')).toBe(`/room/${room.id}`);
        await response.body?.cancel();
        expect(await canRead(cookieHeader(response), room.id)).toBe(200);
        expect(await canRead(visitor.cookie, room.id)).toBe(403);
      }
      // The transport the address named is kept; a visitor without a session gets one.
      const kept = await page(guest, `/room/${room.id}?transport=sse&password=open+sesame`);
      expect(kept.headers.get('location')).toBe(`/room/${room.id}?transport=sse`);
      const anonymous = await fetch(`${server.url}/room/${room.id}?password=open+sesame`, {
        headers: { accept: 'text/html' },
        redirect: 'manual',
      });
      expect(anonymous.status).toBe(303);
      expect(await canRead(cookieHeader(anonymous), room.id)).toBe(200);
    });

    it('a wrong, empty, missing, too long or repeated one: the page goes back to the form with the sentence, a program gets its status; no grant', async () => {
      const room = await owner.createRoom({ password: 'pw' });
      const cases: [string, number, RegExp][] = [
        ['password=nope', 403, /^The password is wrong\.$/],
        ['password=', 403, /^The password is wrong\.$/],
        ['password', 403, /^The password is wrong\.$/],
        [`password=${'p'.repeat(65)}`, 400, /at most 64 characters/],
        ['password=pw&password=pw', 400, /must be text/],
      ];
      for (const [query, status, sentence] of cases) {
        const visitor = await newSession(server.url);
        const json = await visitor.fetch(`/room/${room.id}?${query}`);
        expect(json.status, query).toBe(status);
        expect(await errorOf(json)).toMatch(sentence);
        expect(await canRead(cookieHeader(json) || visitor.cookie, room.id)).toBe(403);

        const html = await page(visitor, `/room/${room.id}?${query}`);
        expect(html.status, query).toBe(303);
        const location = new URL(html.headers.get('location')!, server.url);
        expect(location.pathname).toBe(`/room/${room.id}`);
        expect([...location.searchParams.keys()]).toEqual(['error']);
        expect(location.searchParams.get('error')).toMatch(sentence);
        expect(await canRead(cookieHeader(html) || visitor.cookie, room.id)).toBe(403);
        const form = await page(visitor, `${location.pathname}${location.search}`);
        expect(form.status).toBe(200);
        const text = await form.text();
        expect(text).toContain(`/room/${room.id}/enter`);
        expect(text).toContain(location.searchParams.get('error')!.replace(/"/g, '&quot;'));
      }
      const kept = await page(guest, `/room/${room.id}?transport=sse&password=nope`);
      expect(kept.headers.get('location')).toBe(
        `/room/${room.id}?transport=sse&error=The+password+is+wrong.`,
      );
    });

    it("an unknown or malformed room is a 404; the owner, a room without a password and a kicked user are answered as /enter answers them; the form's error is text", async () => {
      for (const id of ['nosuchroom', '%00', 'x'.repeat(65)]) {
        const response = await guest.fetch(`/room/${id}?password=pw`);
        expect(response.status, id).toBe(404);
        await errorOf(response);
        const html = await page(guest, `/room/${id}?password=pw`);
        expect(html.status).toBe(303);
        expect(html.headers.get('location')).toMatch(/^\/\?error=/);
      }
      const open = await owner.createRoom();
      const locked = await owner.createRoom({ password: 'pw' });
      for (const room of [open.id, locked.id]) {
        const answer = await page(owner, `/room/${room}?password=anything`);
        expect(answer.status).toBe(303);
        expect(answer.headers.get('location')).toBe(`/room/${room}`);
      }
      const answer = await page(guest, `/room/${open.id}?password=anything`);
      expect(answer.headers.get('location')).toBe(`/room/${open.id}`);

      const kicked = await newSession(server.url);
      expect(await owner.kick(locked.id, kicked.userId)).toBe(204);
      const refused = await kicked.fetch(`/room/${locked.id}?password=pw`);
      expect(refused.status).toBe(403);
      expect(await canRead(cookieHeader(refused) || kicked.cookie, locked.id)).toBe(403);

      const shown = await page(guest, `/room/${locked.id}?error=${encodeURIComponent('<b>x</b>')}`);
      const text = await shown.text();
      expect(text).toContain('&lt;b&gt;x&lt;/b&gt;');
      expect(text).not.toContain('<b>x</b>');
    });
  });

  it('POST /room/:id/enter gives a visitor without a session one (form: 303 back to the room)', async () => {
    const room = await owner.createRoom({ password: 'pw' });
    const response = await fetch(`${server.url}/room/${room.id}/enter`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: 'password=pw',
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/room/${room.id}`);
    expect(response.headers.getSetCookie().some((c) => c.startsWith('lab.sid='))).toBe(true);
  });

  it('only the owner removes a room (403 for others, 204 for the owner, 404 after)', async () => {
    const room = await owner.createRoom();
    const byGuest = await guest.fetch(`/room/${room.id}`, { method: 'DELETE' });
    expect(byGuest.status).toBe(403);
    await errorOf(byGuest);
    expect((await owner.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await owner.fetch(`/room/${room.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(
      (await owner.fetch(`/room/${room.id}/chat`, { method: 'POST', json: { chat: 'x' } })).status,
    ).toBe(404);
  });
});

describe('POST /room/:id/chat and history', () => {
  it('posts a message (201) with the fields of PROTOCOL.md, trimmed, in seq order', async () => {
    const room = await owner.createRoom();
    const first = await owner.say(room.id, '  hello  ');
    const second = await guest.say(room.id, 'world');
    expect(first).toMatchObject({
      seq: 1,
      room: room.id,
      user: owner.user,
      userId: owner.userId,
      kind: 'chat',
      chat: 'hello',
    });
    expect(second.seq).toBe(2);
    expect(typeof first.id).toBe('string');
    expect(new Date(first.createdAt as string).toISOString()).toBe(first.createdAt);
    const history = await (await guest.fetch(`/api/rooms/${room.id}/messages?after=1`)).json();
    expect((history as { messages: { chat: string }[] }).messages.map((m) => m.chat)).toEqual([
      'world',
    ]);
  });

  it.each([
    ['no chat', {}],
    ['an empty chat', { chat: '' }],
    ['a blank chat', { chat: ' \n\t ' }],
    ['a chat of 2001 characters', { chat: 'x'.repeat(2001) }],
    ['a chat that is an object', { chat: { $ne: null } }],
    ['a chat that is a number', { chat: 42 }],
    ['a whisper to a malformed userId', { chat: 'psst', toId: 'bob' }],
    ['a whisper to an object', { chat: 'psst', toId: { $ne: null } }],
    ['a whisper to a colour (v1)', { chat: 'psst', to: '#a3c25e' }],
    ['an array body', ['chat']],
  ])('refuses %s with 400', async (_, body) => {
    const room = await owner.createRoom();
    const response = await owner.fetch(`/room/${room.id}/chat`, { method: 'POST', json: body });
    expect(response.status).toBe(400);
    await errorOf(response);
    const history = await owner.fetch(`/api/rooms/${room.id}/messages`);
    expect(((await history.json()) as { messages: unknown[] }).messages).toEqual([]);
  });

  it('accepts 2000 characters, and counts length in UTF-16 code units', async () => {
    const room = await owner.createRoom();
    expect(
      (
        await owner.fetch(`/room/${room.id}/chat`, {
          method: 'POST',
          json: { chat: 'x'.repeat(2000) },
        })
      ).status,
    ).toBe(201);
    // 1001 emoji are 2002 UTF-16 code units.
    const response = await owner.fetch(`/room/${room.id}/chat`, {
      method: 'POST',
      json: { chat: '😀'.repeat(1001) },
    });
    expect(response.status).toBe(400);
  });

  it('a whisper is in the history of its two users only', async () => {
    const room = await owner.createRoom();
    const third = await newSession(server.url);
    await owner.say(room.id, 'psst', guest.userId);
    await owner.say(room.id, 'everyone');
    const read = async (session: Session) =>
      (
        (await (await session.fetch(`/api/rooms/${room.id}/messages`)).json()) as {
          messages: { chat: string }[];
        }
      ).messages.map((m) => m.chat);
    expect(await read(owner)).toEqual(['psst', 'everyone']);
    expect(await read(guest)).toEqual(['psst', 'everyone']);
    expect(await read(third)).toEqual(['everyone']);
  });

  it('history: after and limit, oldest first; bad values are 400', async () => {
    const room = await owner.createRoom();
    for (let i = 1; i <= 5; i++) await owner.say(room.id, `m${i}`);
    const page = await owner.fetch(`/api/rooms/${room.id}/messages?after=1&limit=2`);
    expect(
      ((await page.json()) as { messages: { seq: number }[] }).messages.map((m) => m.seq),
    ).toEqual([2, 3]);
    for (const query of ['after=-1', 'after=abc', 'limit=0', 'limit=1001', 'after=1&after=2']) {
      expect((await owner.fetch(`/api/rooms/${room.id}/messages?${query}`)).status).toBe(400);
    }
  });
});

describe('POST /room/:id/gif and GET /gif/:file', () => {
  it('stores a GIF under a generated name and serves it as image/gif with nosniff', async () => {
    const room = await owner.createRoom();
    const response = await owner.uploadGif(room.id, GIF_1X1, '../../etc/passwd.gif');
    expect(response.status).toBe(201);
    const { message } = (await response.json()) as { message: { gif: string; kind: string } };
    expect(message.kind).toBe('gif');
    expect(message.gif).toMatch(/^[A-Za-z0-9_-]{1,64}\.gif$/);
    expect(message.gif).not.toContain('passwd');
    expect(await readdir(join(server.dataDir, 'gifs'))).toContain(message.gif);
    const image = await fetch(`${server.url}/gif/${message.gif}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/gif');
    expect(image.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(GIF_1X1);
  });

  it.each([
    ['a PNG named .gif', PNG_1X1, 'image/gif'],
    ['HTML named .gif', Buffer.from('<html><script>alert(1)</script></html>'), 'image/gif'],
  ])('refuses %s with 415', async (_, bytes, type) => {
    const room = await owner.createRoom();
    const response = await owner.uploadGif(room.id, bytes, 'x.gif', type);
    expect(response.status).toBe(415);
    await errorOf(response);
    expect(await readdir(join(server.dataDir, 'gifs'))).not.toContain('x.gif');
  });

  it('refuses 5 MiB + 1 byte with 413 and keeps nothing; accepts exactly 5 MiB', async () => {
    const room = await owner.createRoom();
    const before = (await readdir(join(server.dataDir, 'gifs'))).length;
    const big = Buffer.alloc(5 * 1024 * 1024 + 1);
    GIF_1X1.copy(big);
    const response = await owner.uploadGif(room.id, big, 'big.gif');
    expect(response.status).toBe(413);
    await errorOf(response);
    expect((await readdir(join(server.dataDir, 'gifs'))).length).toBe(before);
    expect(await readdir(join(server.dataDir, 'tmp'))).toEqual([]);
    const exact = await owner.fetch(`/room/${room.id}/gif`, {
      method: 'POST',
      body: gifForm(big.subarray(0, 5 * 1024 * 1024), 'ok.gif'),
    });
    expect(exact.status).toBe(201);
  });

  it('refuses a missing file (400), no session (401), a stranger to a password room (403), an unknown room (404)', async () => {
    const room = await owner.createRoom();
    const form = new FormData();
    form.append('note', 'no file');
    expect((await owner.fetch(`/room/${room.id}/gif`, { method: 'POST', body: form })).status).toBe(
      400,
    );
    const json = await owner.fetch(`/room/${room.id}/gif`, { method: 'POST', json: { gif: 'x' } });
    expect(json.status).toBe(400);
    const anonymous = await fetch(`${server.url}/room/${room.id}/gif`, {
      method: 'POST',
      body: gifForm(GIF_1X1, 'a.gif'),
    });
    expect(anonymous.status).toBe(401);
    const locked = await owner.createRoom({ password: 'pw' });
    expect((await guest.uploadGif(locked.id, GIF_1X1, 'a.gif')).status).toBe(403);
    expect(
      (await owner.fetch('/room/nope/gif', { method: 'POST', body: gifForm(GIF_1X1, 'a.gif') }))
        .status,
    ).toBe(404);
    expect(await readdir(join(server.dataDir, 'tmp'))).toEqual([]);
  });

  it('GET /gif/ with an unknown or path-like name is a 404', async () => {
    for (const name of ['nope.gif', '..%2Fcookie-secret', '..%2F..%2Fpackage.json', 'x.png']) {
      const response = await fetch(`${server.url}/gif/${name}`);
      expect(response.status).toBe(404);
    }
  });
});

describe('kick', () => {
  it('only the owner kicks (403); the target must be a userId, not a colour (400); the kicked user gets 403 after', async () => {
    const room = await owner.createRoom();
    await guest.say(room.id, 'before');
    expect(await guest.kick(room.id, owner.userId)).toBe(403);
    expect(await owner.kick(room.id, 'bob')).toBe(400);
    expect(await owner.kick(room.id, { $ne: null })).toBe(400);
    for (const body of [{ user: guest.user }, { userId: guest.user }, {}]) {
      const response = await owner.fetch(`/room/${room.id}/kick`, { method: 'POST', json: body });
      expect(response.status).toBe(400);
    }
    expect(
      (await owner.fetch('/room/nope/kick', { method: 'POST', json: { userId: guest.userId } }))
        .status,
    ).toBe(404);
    expect(await owner.kick(room.id, guest.userId)).toBe(204);
    const after = await guest.fetch(`/room/${room.id}/chat`, {
      method: 'POST',
      json: { chat: 'after' },
    });
    expect(after.status).toBe(403);
    expect(await errorOf(after)).toMatch(/removed/);
    const page = await guest.fetch(`/room/${room.id}`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(303);
  });
});

describe('pages', () => {
  it('serve the lobby, the form and the chat page with the book element ids, and no CDN', async () => {
    const room = await owner.createRoom({ title: '<b>bold</b>' });
    const lobby = await (await owner.fetch('/', { headers: { accept: 'text/html' } })).text();
    expect(lobby).toContain(`data-id="${room.id}"`);
    expect(lobby).toContain('href="/room"');
    expect(lobby).not.toContain('<b>bold</b>');
    expect(lobby).toContain('&lt;b&gt;bold&lt;/b&gt;');
    const form = await (await owner.fetch('/room', { headers: { accept: 'text/html' } })).text();
    for (const field of ['name="title"', 'name="max"', 'name="password"'])
      expect(form).toContain(field);
    const chat = await (
      await owner.fetch(`/room/${room.id}`, { headers: { accept: 'text/html' } })
    ).text();
    for (const id of [
      'id="chat-list"',
      'id="chat-form"',
      'id="chat"',
      'id="gif"',
      'id="exit-btn"',
      'id="members"',
    ]) {
      expect(chat).toContain(id);
    }
    for (const html of [lobby, form, chat]) expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('the scripts the pages load are served', async () => {
    const chat = await (
      await owner.fetch(`/room/${(await owner.createRoom()).id}`, {
        headers: { accept: 'text/html' },
      })
    ).text();
    const scripts = [...chat.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      const response = await fetch(`${server.url}${src}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('javascript');
    }
  });
});

describe('stats', () => {
  it('GET /api/stats reports the process and the running transports', async () => {
    const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as Record<
      string,
      unknown
    >;
    expect(stats).toMatchObject({ rooms: expect.any(Number), members: expect.any(Number) });
    expect(stats.rssBytes).toBeGreaterThan(0);
    // The one process answers (PROTOCOL: with --workers N, the worker that did).
    expect(stats.worker).toBe(process.pid);
    expect(Object.keys(stats.transports as object)).toEqual(['sse']);
  });
});

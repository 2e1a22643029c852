import { request } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LIMITS, TRANSPORT_NAMES } from '../core/model.ts';
import type { ClientError } from '../transports/client.ts';
import { t } from '../web/views/i18n/index.ts';
import { hasChromium, launchChromium } from './support/browser.ts';
import { clientFor } from './support/clients.ts';
import { PNG_1X1 } from './support/files.ts';
import { newSession } from './support/http.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The pages in Korean and in English (issue 16): `Accept-Language` chooses, `?lang=` overrides
 * and is remembered in the session, `<html lang>` says which, and the sentences a person sees,
 * the pages' and the page scripts', come from that language's catalogue. The JSON API stays
 * English unless the request asks for Korean.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ limits: false });
});
afterAll(() => server?.close());

const HEADER = { ko: 'ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7', en: 'en-US,en;q=0.9' } as const;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function langOf(html: string): string | undefined {
  return /<html lang="([^"]+)">/.exec(html)?.[1];
}

describe('the language of a page, over HTTP', () => {
  it('follows Accept-Language: Korean when it prefers ko, English otherwise', async () => {
    for (const [header, lang] of [
      [HEADER.ko, 'ko'],
      [HEADER.en, 'en'],
      ['fr-FR, ko;q=0.5', 'en'],
      ['', 'en'],
    ] as const) {
      const page = await fetch(`${server.url}/`, { headers: { 'accept-language': header } });
      const html = await page.text();
      expect(langOf(html), header).toBe(lang);
      expect(html).toContain(`<h1>${t(lang, 'lobby.heading')}</h1>`);
    }
  });

  it('takes ?lang= over Accept-Language and remembers it in the session', async () => {
    const first = await fetch(`${server.url}/?lang=en`, {
      headers: { 'accept-language': HEADER.ko },
    });
    expect(langOf(await first.text())).toBe('en');
    const cookie = first.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const again = (path: string) =>
      fetch(`${server.url}${path}`, { headers: { 'accept-language': HEADER.ko, cookie } });
    const later = await again('/room');
    expect(langOf(await later.text())).toBe('en');
    // Switching back is remembered too (the session cookie changes with it).
    const back = await again('/?lang=ko');
    expect(langOf(await back.text())).toBe('ko');
    const cookie2 = back.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const after = await fetch(`${server.url}/room`, {
      headers: { 'accept-language': HEADER.en, cookie: cookie2 },
    });
    expect(langOf(await after.text())).toBe('ko');
  });

  it('answers the JSON API in English, and in Korean when the request asks for it', async () => {
    const post = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ title: '' }),
      });
    const sentence = async (response: Response) => {
      expect(response.status).toBe(400);
      return ((await response.json()) as { error: string }).error;
    };
    expect(await sentence(await post('/room'))).toBe(
      `The title must be 1 to ${LIMITS.titleMax} characters long.`,
    );
    expect(await sentence(await post('/room', { 'accept-language': HEADER.en }))).toMatch(
      /^The title/,
    );
    const korean = t('ko', 'error.titleLength', { max: LIMITS.titleMax });
    expect(await sentence(await post('/room', { 'accept-language': 'ko' }))).toBe(korean);
    expect(await sentence(await post('/room?lang=ko'))).toBe(korean);
  });

  it("sends a page's refusal to the lobby in the page's language", async () => {
    for (const lang of ['ko', 'en'] as const) {
      const response = await fetch(`${server.url}/room/no-such-room`, {
        redirect: 'manual',
        headers: { accept: 'text/html', 'accept-language': HEADER[lang] },
      });
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location') ?? '', server.url);
      expect(location.searchParams.get('error')).toBe(t(lang, 'error.roomGone'));
    }
  });
  it("answers the book's /room/:id?password= with the sentence in the page's language", async () => {
    const owner = await newSession(server.url);
    const room = await owner.createRoom({ title: 'secret', password: 'open sesame' });
    for (const lang of ['ko', 'en'] as const) {
      const guest = await newSession(server.url);
      const response = await fetch(`${server.url}/room/${room.id}?password=wrong`, {
        redirect: 'manual',
        headers: { accept: 'text/html', 'accept-language': HEADER[lang], cookie: guest.cookie },
      });
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location') ?? '', server.url);
      expect(location.pathname).toBe(`/room/${room.id}`);
      expect(location.searchParams.get('error')).toBe(t(lang, 'error.wrongPassword'));
    }
  });
});

describe('refusals over every transport, in the language the connection asked for', () => {
  it("a foreign Host's 421 names the flag in the browser's language", async () => {
    const answer = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          `${server.url}/`,
          { headers: { host: 'classroom.local:8005', ...headers } },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => {
              body += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    for (const [headers, language] of [
      [{ 'accept-language': HEADER.ko }, 'ko'],
      [{ 'accept-language': HEADER.en }, 'en'],
    ] as const) {
      const { status, body } = await answer(headers);
      expect(status).toBe(421);
      expect(JSON.parse(body)).toEqual({
        error: t(language, 'host.foreign', { name: 'classroom.local', flag: 'classroom.local' }),
      });
    }
    expect(t('ko', 'host.foreign', { name: 'a', flag: 'a' })).toMatch(/--allowed-host a/);
  });

  const tooLong = 'x'.repeat(LIMITS.chatMax + 1);

  it.each(TRANSPORT_NAMES)('%s: a refused join and a refused send', async (transport) => {
    const owner = await newSession(server.url);
    const secret = await owner.createRoom({ title: 'secret', password: 'open sesame' });
    const open = await owner.createRoom({ title: 'open' });
    for (const language of ['ko', 'en', undefined] as const) {
      const said = (key: Parameters<typeof t>[1], params?: Parameters<typeof t>[2]) =>
        t(language ?? 'en', key, params);
      const guest = await newSession(server.url);
      const client = clientFor(transport, server.url, guest, language ? { language } : {});
      try {
        // Asked in Korean by a client whose request headers say nothing of it (Node's fetch sends
        // no Accept-Language): the option alone chooses; without it, English.
        const refused = await client.connectRoom(secret.id).then(
          () => null,
          (error: unknown) => error as ClientError,
        );
        expect(refused?.status, `${transport} ${language}`).toBe(403);
        expect(refused?.message).toBe(said('error.needsPassword'));

        await client.connectRoom(open.id);
        const sent = await client.send(tooLong).then(
          () => null,
          (error: unknown) => error as ClientError,
        );
        expect(sent?.status, `${transport} ${language}`).toBe(400);
        expect(sent?.message).toBe(said('error.chatLength', { max: LIMITS.chatMax }));
      } finally {
        client.close();
      }
    }
  });

  it('a ws error frame and a refused upgrade follow ?lang=, then Accept-Language', async () => {
    const guest = await newSession(server.url);
    const room = await guest.createRoom({ title: 'frames' });
    const wsUrl = server.url.replace(/^http/, 'ws');
    const frameError = (path: string, headers: Record<string, string>) =>
      new Promise<string>((resolve, reject) => {
        const socket = new WebSocket(`${wsUrl}${path}`, {
          headers: { cookie: guest.cookie, ...headers },
        });
        socket.once('error', reject);
        socket.once('open', () =>
          socket.send(JSON.stringify({ type: 'chat', room: room.id, chat: tooLong })),
        );
        socket.on('message', (data) => {
          const frame = JSON.parse(String(data)) as { type: string; data: { error: string } };
          if (frame.type !== 'error') return;
          socket.close();
          resolve(frame.data.error);
        });
      });
    const korean = t('ko', 'error.chatLength', { max: LIMITS.chatMax });
    const english = t('en', 'error.chatLength', { max: LIMITS.chatMax });
    expect(await frameError('/ws?lang=ko', {})).toBe(korean);
    expect(await frameError('/ws', { 'accept-language': HEADER.ko })).toBe(korean);
    expect(await frameError('/ws?lang=en', { 'accept-language': HEADER.ko })).toBe(english);
    expect(await frameError('/ws', {})).toBe(english);

    // Without a session the upgrade is refused with the sentence in the asked language.
    const refusal = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = new WebSocket(`${wsUrl}/ws?lang=ko`);
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      socket.once('open', () => reject(new Error('the upgrade was taken without a session')));
      socket.once('error', () => undefined);
    });
    expect(refusal.status).toBe(401);
    expect(JSON.parse(refusal.body)).toEqual({ error: t('ko', 'error.noSession') });
  });

  it("a Socket.IO handshake without a session is refused in the handshake's ?lang=", async () => {
    for (const language of ['ko', 'en'] as const) {
      const socket = io(`${server.url}/chat`, {
        path: '/socket.io',
        query: { lang: language },
        reconnection: false,
        transports: ['websocket'],
      });
      const error = await new Promise<Error & { data?: { error: string; status: number } }>(
        (resolve) => socket.once('connect_error', resolve),
      );
      socket.close();
      expect(error.data).toEqual({ status: 401, error: t(language, 'error.noSession') });
    }
  });

  it('a room poll (served beside koa) says its refusal in the asked language', async () => {
    const owner = await newSession(server.url);
    const secret = await owner.createRoom({ title: 'secret', password: 'open sesame' });
    const guest = await newSession(server.url);
    for (const [headers, query, language] of [
      [{ 'accept-language': HEADER.ko }, '', 'ko'],
      [{ 'accept-language': HEADER.ko }, '&lang=en', 'en'],
      [{}, '&lang=ko', 'ko'],
      [{}, '', 'en'],
    ] as const) {
      const response = await fetch(`${server.url}/poll/room/${secret.id}?after=0&wait=0${query}`, {
        headers: { cookie: guest.cookie, ...headers },
      });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({ error: t(language, 'error.needsPassword') });
    }
  });
});

describe.skipIf(!hasChromium).each(['ko', 'en'] as const)(
  'the pages in Chromium, in %s',
  (lang) => {
    let browser: Browser;
    const contexts: BrowserContext[] = [];
    /** Script errors and CSP violations of every page: there must be none. */
    const problems: string[] = [];

    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      for (const context of contexts) await context.close();
      await browser?.close();
    });

    /** A visitor whose browser speaks `lang`, as a Korean or an English reader's does. */
    async function visitor(locale: 'ko' | 'en' = lang, byLocaleOnly = false): Promise<Page> {
      const context = await browser.newContext({
        locale: locale === 'ko' ? 'ko-KR' : 'en-US',
        // Playwright's extra headers override even those a page's script sets: a visitor whose
        // pages set their own Accept-Language gets the browser's from its locale only.
        ...(byLocaleOnly ? {} : { extraHTTPHeaders: { 'Accept-Language': HEADER[locale] } }),
        viewport: { width: 1200, height: 800 },
      });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
          problems.push(`CSP: ${message.text()}`);
        }
      });
      return page;
    }

    const htmlLang = (page: Page) => page.locator('html').getAttribute('lang');
    const say = (key: Parameters<typeof t>[1], params?: Parameters<typeof t>[2]) =>
      t(lang, key, params);

    /** Creates a room through the new-room form; returns its id once its chat page is open. */
    async function createRoom(
      page: Page,
      title: string,
      options: { max?: number; password?: string } = {},
    ) {
      await page.goto(`${server.url}/room`);
      expect(await htmlLang(page)).toBe(lang);
      expect(await page.locator('h1').textContent()).toBe(say('newRoom.heading'));
      await page.getByLabel(say('newRoom.roomTitle')).fill(title);
      await page.getByLabel(say('newRoom.max')).fill(String(options.max ?? 10));
      if (options.password) await page.locator('#password').fill(options.password);
      await page.getByRole('button', { name: say('newRoom.submit') }).click();
      await page.waitForURL(/\/room\/[A-Za-z0-9_-]+$/);
      await page.locator('#state[data-state="open"]').waitFor();
      return new URL(page.url()).pathname.split('/')[2]!;
    }

    it("the lobby and the chat page: lang, headings, the script's states, a full room", async () => {
      const owner = await visitor();
      await owner.goto(`${server.url}/`);
      expect(await htmlLang(owner)).toBe(lang);
      expect(await owner.locator('h1').textContent()).toBe(say('lobby.heading'));
      expect(await owner.title()).toBe(say('site.title', { page: say('lobby.title') }));
      // The state is the page script's text, from the same catalogue.
      await owner.locator(`#state[data-state="open"]`, { hasText: say('state.open') }).waitFor();

      const roomId = await createRoom(owner, `${lang} room`, { max: 2 });
      expect(await htmlLang(owner)).toBe(lang);
      expect(await owner.locator('#exit-btn').textContent()).toBe(say('chat.leave'));
      expect(await owner.locator('.members-panel h2').textContent()).toBe(say('chat.members'));
      expect(await owner.locator('#state').textContent()).toBe(say('state.open'));
      expect(await owner.locator('#chat').getAttribute('placeholder')).toBe(
        say('chat.placeholder'),
      );
      await owner.locator('#members .badge.you', { hasText: say('chat.badgeYou') }).waitFor();
      // The stored join line ("#a3c25e joined") is said in the language, from its event.
      const colour = (await owner.locator('#chat-page').getAttribute('data-user')) ?? '';
      await owner
        .locator('#chat-list > .system', { hasText: say('system.join', { user: colour }) })
        .waitFor();
      expect(await owner.locator('.lang-switch').textContent()).toBe(say('site.switchTo'));
      // A refusal of the API, shown by the page script: a file that is not a GIF.
      await owner.setInputFiles('#gif', {
        name: 'fake.gif',
        mimeType: 'image/gif',
        buffer: PNG_1X1,
      });
      await owner.locator('#chat-error:not([hidden])').waitFor();
      expect(await owner.locator('#chat-error').textContent()).toBe(say('error.notAGif'));

      // The lobby row the script adds speaks the language too.
      const lobby = await visitor();
      await lobby.goto(`${server.url}/`);
      const row = lobby.locator(`tr[data-id="${roomId}"]`);
      await row.waitFor();
      expect(await row.locator('.room-type').textContent()).toBe(say('lobby.public'));
      expect(await row.locator('.room-enter').textContent()).toBe(say('lobby.enter'));

      const guest = await visitor();
      await guest.goto(`${server.url}/room/${roomId}`);
      await guest.locator('#state[data-state="open"]').waitFor();
      await owner.locator('#members .member').nth(1).waitFor();

      // A third visitor finds the room full: sent to the lobby with the sentence in the language.
      const late = await visitor();
      await late.goto(`${server.url}/room/${roomId}`);
      await late.waitForURL(/\/\?error=/);
      expect(await htmlLang(late)).toBe(lang);
      expect(await late.locator('.error-message').textContent()).toBe(say('error.roomFull'));
      expect(problems).toEqual([]);
    }, 60_000);

    it("a refused send over each transport, in the page's language, not the browser's", async () => {
      const owner = await visitor();
      const roomId = await createRoom(owner, `${lang} sends`);
      // The browser says the other language; `?lang=` makes the page (and its connection) this one.
      const other = lang === 'ko' ? 'en' : 'ko';
      for (const transport of TRANSPORT_NAMES) {
        const page = await visitor(other, true);
        await page.goto(`${server.url}/room/${roomId}?transport=${transport}&lang=${lang}`);
        expect(await htmlLang(page)).toBe(lang);
        await page.locator('#state[data-state="open"]').waitFor();
        // Past the field's maxlength, as a script (or an edited page) can send it.
        await page.locator('#chat').evaluate(
          (input: HTMLInputElement, text) => {
            input.removeAttribute('maxlength');
            input.value = text;
          },
          'x'.repeat(LIMITS.chatMax + 1),
        );
        await page.locator('#chat-form button[type="submit"]').click();
        await page.locator('#chat-error:not([hidden])').waitFor();
        expect(await page.locator('#chat-error').textContent(), transport).toBe(
          say('error.chatLength', { max: LIMITS.chatMax }),
        );
        await page.close();
      }
      expect(problems).toEqual([]);
    }, 60_000);

    it('the password page: its intro, and a wrong password said in the language', async () => {
      const owner = await visitor();
      const roomId = await createRoom(owner, `${lang} secret`, { password: 'open sesame' });
      const guest = await visitor();
      await guest.goto(`${server.url}/room/${roomId}`);
      expect(await htmlLang(guest)).toBe(lang);
      expect(await guest.locator('.password-intro').textContent()).toBe(say('password.intro'));
      await guest.getByLabel(say('password.label')).fill('wrong');
      await guest.getByRole('button', { name: say('password.submit') }).click();
      await guest.locator('.error-message').waitFor();
      expect(await guest.locator('.error-message').textContent()).toBe(say('error.wrongPassword'));
      expect(await htmlLang(guest)).toBe(lang);
      await guest.getByLabel(say('password.label')).fill('open sesame');
      await guest.getByRole('button', { name: say('password.submit') }).click();
      await guest.waitForURL(`${server.url}/room/${roomId}`);
      await guest.locator('#state[data-state="open"]', { hasText: say('state.open') }).waitFor();
      expect(problems).toEqual([]);
    }, 60_000);

    it("the compare page: lang, heading, and the panes' states from the script", async () => {
      const page = await visitor();
      await page.goto(`${server.url}/compare`);
      await page.waitForURL(/\/compare\?room=/);
      expect(await htmlLang(page)).toBe(lang);
      expect(await page.locator('h1').textContent()).toContain(say('compare.heading'));
      expect(await page.locator('label[for="send-via"]').textContent()).toBe(
        say('compare.sendVia'),
      );
      for (const pane of await page.locator('.pane').all()) {
        await pane.locator('.state[data-state="open"]', { hasText: say('state.open') }).waitFor();
        expect(await pane.locator('[data-action="drop"]').textContent()).toBe(say('compare.drop'));
      }
      await page.fill('#send-text', `hello in ${lang}`);
      await page.press('#send-text', 'Enter');
      await page.locator('#send-status', { hasText: /seq/ }).waitFor();
      // The pane's check is the script's sentence, its count filled in (the join line counts too).
      const [before = '', after = ''] = say('compare.allHere').split('{seen}');
      await expect
        .poll(() => page.locator('.pane [data-check]').first().textContent())
        .toMatch(new RegExp(`^${escapeRegExp(before)}\\d+${escapeRegExp(after)}$`));
      expect(problems).toEqual([]);
    }, 60_000);

    it('?lang= overrides the browser, is remembered, and the header links to the other', async () => {
      const other = lang === 'ko' ? 'en' : 'ko';
      const page = await visitor(other);
      await page.goto(`${server.url}/?lang=${lang}`);
      expect(await htmlLang(page)).toBe(lang);
      await page.goto(`${server.url}/room`);
      expect(await htmlLang(page)).toBe(lang);
      expect(await page.locator('h1').textContent()).toBe(say('newRoom.heading'));
      await page.locator('.lang-switch').click();
      await page.waitForURL(new RegExp(`/room\\?lang=${other}$`));
      expect(await htmlLang(page)).toBe(other);
      await page.goto(`${server.url}/`);
      expect(await htmlLang(page)).toBe(other);
      expect(problems).toEqual([]);
    }, 30_000);
  },
);

import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../../test/support/browser.ts';
import { eventually } from '../../test/support/http.ts';
import { ACCEPT_LANGUAGE, itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

if (!hasChromium) {
  console.warn('lab 04 page test skipped: install Chromium with: apt-get install -y chromium');
}

/** `news` every 100 ms here (3 s in the book). */
const INTERVAL_MS = 100;

type Lab = Awaited<ReturnType<typeof main>>;

/** The book's client in Node: answers every `news` with a `reply`, and notes its transports. */
function connect(lab: Lab, options: { transports?: string[] } = {}) {
  const socket: Socket = io(new URL(lab.url).origin, {
    path: '/socket.io',
    forceNew: true,
    reconnection: false,
    ...options,
  });
  const seen = { transports: [] as string[], news: [] as string[] };
  socket.io.on('open', () => {
    seen.transports.push(socket.io.engine.transport.name);
    socket.io.engine.on('upgrade', (transport) => seen.transports.push(transport.name));
  });
  socket.on('news', (data: string) => {
    seen.news.push(data);
    socket.emit('reply', 'Hello Node.JS');
  });
  return { socket, seen };
}

describe('by default (polling first, then the upgrade)', () => {
  const started = startedLab(main, ['--port', '0', '--interval', String(INTERVAL_MS)]);
  const { log } = started;

  it('serves the page and the Socket.IO client for the browser from the lab itself', async () => {
    const page = await (await fetch(started.lab.url)).text();
    expect(page).toContain('src="client.js"');
    const client = await fetch(`${started.lab.url}socket.io/socket.io.esm.min.js`);
    expect(client.status).toBe(200);
    expect(client.headers.get('content-type')).toMatch(/javascript/);
  });

  describe('the page in Korean and in English', () => {
    itSpeaksBothLanguages(() => started.lab.url, {
      en: 'Socket.IO: <code>news</code> and <code>reply</code>',
      ko: 'Socket.IO: <code>news</code>와 <code>reply</code>',
    });
  });

  it('the handshake is a polling request that offers the upgrade to websocket', async () => {
    const handshake = await fetch(`${started.lab.url}socket.io/?EIO=4&transport=polling`);
    const body = await handshake.text();
    expect(body.startsWith('0{')).toBe(true);
    expect(JSON.parse(body.slice(1))).toMatchObject({ upgrades: ['websocket'] });
  });

  it('news arrives every interval, each reply is logged; polling first, then websocket', async () => {
    const { socket, seen } = connect(started.lab);
    try {
      await eventually(() => seen.news.length >= 3, 3000, 'three news');
      expect(seen.news[0]).toBe('Hello Socket.IO');
      await eventually(() => seen.transports.length === 2, 3000, 'the upgrade');
      expect(seen.transports).toEqual(['polling', 'websocket']);
      const id = socket.id;
      await eventually(
        () => log.filter((line) => line === `reply from ${id}: Hello Node.JS`).length >= 2,
        3000,
        'replies in the log',
      );
      expect(log).toContain(`새로운 클라이언트 접속! (a new client) 127.0.0.1 ${id}, over polling`);
      expect(log).toContain(`${id} upgraded to websocket`);
      socket.disconnect();
      await eventually(
        () =>
          log.some((line) =>
            line.startsWith(`클라이언트 접속 해제 (a client left) 127.0.0.1 ${id}`),
          ),
        3000,
        'the disconnect',
      );
    } finally {
      socket.disconnect();
    }
  });
});

describe("--transport websocket (the book's transports: ['websocket'])", () => {
  const started = startedLab(main, [
    '--port',
    '0',
    '--interval',
    String(INTERVAL_MS),
    '--transport',
    'websocket',
  ]);
  const { log } = started;

  it('prints the page URL with the choice, and refuses a polling handshake', async () => {
    expect(started.lab.url).toMatch(/\?transport=websocket$/);
    const handshake = await fetch(
      `${new URL(started.lab.url).origin}/socket.io/?EIO=4&transport=polling`,
    );
    expect(handshake.status).toBe(400);
    await handshake.body?.cancel();
  });

  it('connects over websocket at once: no polling, no upgrade', async () => {
    const { socket, seen } = connect(started.lab, { transports: ['websocket'] });
    try {
      await eventually(() => seen.news.length >= 2, 3000, 'news');
      expect(seen.transports).toEqual(['websocket']);
      expect(log).toContain(
        `새로운 클라이언트 접속! (a new client) 127.0.0.1 ${socket.id}, over websocket`,
      );
      expect(log.some((line) => line.includes('upgraded'))).toBe(false);
    } finally {
      socket.disconnect();
    }
  });

  it.skipIf(!hasChromium)(
    'the page in Korean, in Chromium; its switch to English keeps the transport',
    async () => {
      const browser = await launchChromium();
      try {
        const context = await browser.newContext({
          locale: 'ko-KR',
          extraHTTPHeaders: { 'Accept-Language': ACCEPT_LANGUAGE.ko },
        });
        const page = await context.newPage();
        page.setDefaultTimeout(10_000);
        await page.goto(started.lab.url);
        expect(await page.locator('html').getAttribute('lang')).toBe('ko');
        await page
          .locator('#messages li', { hasText: 'websocket 방식으로 연결했습니다' })
          .waitFor();
        await page
          .locator('#messages li', { hasText: 'news 이벤트: Hello Socket.IO' })
          .first()
          .waitFor();
        const english = page.getByRole('link', { name: 'English' });
        expect(new URL((await english.getAttribute('href')) ?? '').search).toBe(
          '?transport=websocket&lang=en',
        );
        await english.click();
        expect(await page.locator('html').getAttribute('lang')).toBe('en');
        await page.locator('#messages li', { hasText: 'connected over websocket' }).waitFor();
      } finally {
        await browser.close();
      }
    },
  );
});

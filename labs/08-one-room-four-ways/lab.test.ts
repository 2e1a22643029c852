import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES } from '../../core/model.ts';
import { clientFor } from '../../test/support/clients.ts';
import { newSession } from '../../test/support/http.ts';
import { ACCEPT_LANGUAGE, itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn('lab 08 page test skipped: install Chromium with: apt-get install -y chromium');
}

const started = startedLab(main, ['--port', '0']);
const { log } = started;

it('prints the page URL; all four transports run', () => {
  expect(log[0]).toBe(
    `open ${started.lab.origin}/lab/  (transports: polling, sse, ws, socketio; store: memory)`,
  );
});

it('one room, four clients, one per transport: every message reaches all four in one order', async () => {
  const owner = await newSession(started.lab.origin);
  const room = await owner.createRoom();
  const clients = await Promise.all(
    TRANSPORT_NAMES.map(async (name) =>
      clientFor(name, started.lab.origin, await newSession(started.lab.origin)),
    ),
  );
  for (const client of clients) await client.connectRoom(room.id);
  await Promise.all(clients.map((client) => client.send(`from ${client.transport}`)));
  for (const client of clients) await client.waitFor(() => client.chats().length === 4, 'four');
  const orders = clients.map((client) => client.chats().map((m) => `${m.seq} ${m.chat}`));
  for (const order of orders) expect(order).toEqual(orders[0]);
  for (const client of clients) client.close();
});

describe('the page in Korean and in English', () => {
  itSpeaksBothLanguages(() => started.lab.url, {
    en: 'One room, four ways',
    ko: '한 방, 네 가지 방식',
  });
});

describe.skipIf(!hasChromium)('the page, in Chromium', () => {
  it('shows four panes in one room; a message typed in one appears in all four', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    const problems: string[] = [];
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await page.goto(started.lab.url);
      await page.waitForURL(/\/lab\/\?room=[\w-]+$/);
      const room = new URL(page.url()).searchParams.get('room');
      for (const name of TRANSPORT_NAMES) {
        await page.locator(`[data-transport="${name}"] .state[data-state="open"]`).waitFor();
      }
      await page.locator('[data-transport="ws"] input').fill('hello from the ws pane');
      await page.locator('[data-transport="ws"] form button').click();
      const seqs: string[] = [];
      for (const name of TRANSPORT_NAMES) {
        const item = page.locator(`[data-transport="${name}"] li`, {
          hasText: 'hello from the ws pane',
        });
        await item.waitFor();
        seqs.push((await item.getAttribute('data-seq')) ?? '');
      }
      expect(new Set(seqs).size).toBe(1);
      // Drop one pane: it reconnects and still has every message once.
      await page.locator('[data-transport="sse"] .drop').click();
      await page.locator('[data-transport="polling"] input').fill('after the drop');
      await page.locator('[data-transport="polling"] form button').click();
      await page.locator('[data-transport="sse"] li', { hasText: 'after the drop' }).waitFor();
      await expect
        .poll(() => page.locator('[data-transport="sse"] .check').textContent())
        .toMatch(/all here, each once/);
      // The links open the same room in the app's own chat page.
      const links = await page
        .locator('#chat-links a')
        .evaluateAll((anchors) => anchors.map((a) => a.getAttribute('href')));
      expect(links).toEqual(TRANSPORT_NAMES.map((name) => `/room/${room}?transport=${name}`));
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('speaks Korean to a Korean browser, and its switch to English holds in the app too', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    const problems: string[] = [];
    try {
      const context = await browser.newContext({
        locale: 'ko-KR',
        extraHTTPHeaders: { 'Accept-Language': ACCEPT_LANGUAGE.ko },
      });
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(started.lab.url);
      await page.waitForURL(/\/lab\/\?room=[\w-]+$/);
      expect(await page.locator('html').getAttribute('lang')).toBe('ko');
      await expect(page.locator('h1').textContent()).resolves.toBe('한 방, 네 가지 방식');
      const ws = page.locator('[data-transport="ws"]');
      await ws.locator('.state[data-state="open"]').waitFor();
      expect(await ws.locator('.state').textContent()).toBe('연결됨');
      expect(await ws.locator('.facts').first().textContent()).toMatch(
        /^상태 연결됨 · 마지막 seq \d+ · 재연결 0회 연결 끊기$/,
      );
      expect(await ws.locator('input').getAttribute('placeholder')).toBe(
        'ws 방식으로 메시지 보내기',
      );
      // The join line the chat stored in English, said in Korean.
      await ws
        .locator('li.system', { hasText: /님이 입장하셨습니다\.$/ })
        .first()
        .waitFor();
      await ws.locator('input').fill('안녕하세요');
      await ws.getByRole('button', { name: '보내기' }).click();
      await ws.locator('li', { hasText: '안녕하세요' }).waitFor();
      await expect
        .poll(() => ws.locator('.check').textContent())
        .toMatch(/^seq 1부터 \d+까지: 빠짐없이 한 번씩 받았습니다$/);
      // English, chosen on the lab's page, is the session's: the app's chat page follows it.
      const room = new URL(page.url()).searchParams.get('room');
      await page.getByRole('link', { name: 'English' }).click();
      await page.waitForURL(/lang=en/);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      expect(new URL(page.url()).searchParams.get('room')).toBe(room);
      await page.locator('[data-transport="ws"] li', { hasText: '안녕하세요' }).waitFor();
      await page.goto(`${started.lab.origin}/room/${room}?transport=ws`);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

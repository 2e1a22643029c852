import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES } from '../../core/model.ts';
import { clientFor } from '../../test/support/clients.ts';
import { newSession } from '../../test/support/http.ts';
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
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES } from '../core/model.ts';
import { hasChromium, launchChromium } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The pages in a real headless Chromium against the real server: the book's flow (create a room,
 * find it in the lobby, chat, upload a GIF, whisper) and the one rule a page must never break:
 * user text is only ever text. Set SCREENSHOT_DIR to keep pictures of the pages.
 */

if (!hasChromium) {
  console.warn('browser tests skipped: install Chromium with: apt-get install -y chromium');
}

/** The classic 1x1 transparent GIF89a. */
const GIF_1X1 = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);
const ATTACK = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(!hasChromium).each(TRANSPORT_NAMES)(
  'the pages in Chromium over %s',
  (transport) => {
    /** Every page is opened with this transport chosen, and must keep it. */
    const choose = `?transport=${transport}`;
    let server: TestServer;
    let browser: Browser;
    /** Script errors and CSP violations of every page: there must be none. */
    const problems: string[] = [];

    beforeAll(async () => {
      server = await startServer({ memberGraceMs: 300 });
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    async function visitor(): Promise<Page> {
      const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
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

    async function screenshot(page: Page, name: string): Promise<void> {
      const dir = process.env.SCREENSHOT_DIR;
      if (dir) await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
    }

    const message = (page: Page, text: string) =>
      page.locator('#chat-list > [data-seq]', { hasText: text });

    /** Who a chat page's visitor is: their userId (their colour may be another's too). */
    async function userOf(page: Page): Promise<string> {
      return (await page.locator('#chat-page').getAttribute('data-user-id')) ?? '';
    }

    async function texts(page: Page): Promise<string[]> {
      return page.locator('#chat-list > [data-seq]').allTextContents();
    }

    it('creates a room, lists it live, chats, uploads a GIF and whispers, all as text', async () => {
      // B waits in the lobby first, so the new room must arrive live.
      const b = await visitor();
      await b.goto(`${server.url}/${choose}`);
      await b.locator('#state[data-state="open"]').waitFor();

      const a = await visitor();
      await a.goto(`${server.url}/room${choose}`);
      await a.fill('input[name="title"]', 'Browser <b>room</b>');
      await a.fill('input[name="max"]', '5');
      await a.click('form[action^="/room"] button[type="submit"]');
      await a.waitForURL(/\/room\/[A-Za-z0-9_-]+\?transport=\w+$/);
      const roomId = new URL(a.url()).pathname.split('/')[2]!;
      await a.locator('#state[data-state="open"]').waitFor();
      expect(await a.locator('h1.room-title').textContent()).toBe('Browser <b>room</b>');
      expect(await a.locator('.transport-name').textContent()).toBe(transport);

      const row = b.locator(`tr[data-id="${roomId}"]`);
      await row.waitFor();
      expect(await row.locator('.room-title').textContent()).toBe('Browser <b>room</b>');
      await screenshot(b, 'lobby');
      // A second lobby stays open to watch the room's row change.
      const lobby = await visitor();
      await lobby.goto(`${server.url}/${choose}`);
      await lobby.locator(`tr[data-id="${roomId}"]`).waitFor();
      await row.locator(`a[href*="/room/${roomId}"]`).click();
      await b.waitForURL(`${server.url}/room/${roomId}${choose}`);
      expect(await b.locator('.transport-name').textContent()).toBe(transport);
      await b.locator('#state[data-state="open"]').waitFor();

      const userA = await userOf(a);
      const userB = await userOf(b);
      expect(userA).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
      expect(userB).not.toBe(userA);

      // Both see both members; A is marked as the owner, and only A gets kick buttons.
      for (const page of [a, b]) {
        await page.locator(`#members [data-user-id="${userB}"]`).waitFor();
        await page.locator(`#members [data-user-id="${userA}"] .badge.owner`).waitFor();
        expect(await page.locator(`#members [data-user-id="${userB}"] .badge.owner`).count()).toBe(
          0,
        );
      }
      expect(await a.locator(`#members [data-user-id="${userB}"] .kick`).count()).toBe(1);
      expect(await b.locator('#members .kick').count()).toBe(0);

      // Text both ways.
      await a.fill('#chat', 'hello from A');
      await a.press('#chat', 'Enter');
      await message(b, 'hello from A').waitFor();
      await b.fill('#chat', 'hi from B');
      await b.click('#chat-form button[type="submit"]');
      await message(a, 'hi from B').waitFor();
      expect(await a.inputValue('#chat')).toBe('');

      // Markup from a user is shown as text, never run.
      await a.fill('#chat', ATTACK);
      await a.press('#chat', 'Enter');
      for (const page of [a, b]) {
        await message(page, ATTACK).waitFor();
        expect(await message(page, ATTACK).locator('.text').textContent()).toBe(ATTACK);
        expect(await page.locator('img[src="x"]').count()).toBe(0);
        expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
      }

      // A GIF chosen in #gif is uploaded at once and shows as an image that loads.
      await a.setInputFiles('#gif', { name: 'tiny.gif', mimeType: 'image/gif', buffer: GIF_1X1 });
      const gif = b.locator('#chat-list img');
      await gif.waitFor();
      expect(await gif.getAttribute('src')).toMatch(/^\/gif\/[A-Za-z0-9_-]{1,64}\.gif$/);
      await b.waitForFunction(() => {
        const image = document.querySelector<HTMLImageElement>('#chat-list img');
        return image?.complete && image.naturalWidth > 0;
      });
      await a.locator('#chat-list img').waitFor();

      // A file that is not a GIF is refused, and the page says why.
      await a.setInputFiles('#gif', { name: 'fake.gif', mimeType: 'image/gif', buffer: PNG_1X1 });
      await a.locator('#chat-error:not([hidden])').waitFor();
      expect((await a.locator('#chat-error').textContent())?.length).toBeGreaterThan(10);

      // C arrives later and gets the history first, in seq order.
      const c = await visitor();
      await c.goto(`${server.url}/room/${roomId}${choose}`);
      await message(c, 'hello from A').waitFor();
      await message(c, ATTACK).waitFor();
      const userC = await userOf(c);
      await a.locator(`#members [data-user-id="${userC}"]`).waitFor();
      await b.locator(`#members [data-user-id="${userC}"]`).waitFor();
      const seqs = (await c
        .locator('#chat-list > [data-seq]')
        .evaluateAll((items) =>
          items.map((item) => Number((item as HTMLElement).dataset.seq)),
        )) as number[];
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);

      // A whispers to B: B and A see it, C does not.
      await a.click(`#members [data-user-id="${userB}"] .member-pick`);
      await a.locator('#whisper-bar:not([hidden])').waitFor();
      await a.fill('#chat', 'a secret for B');
      await a.press('#chat', 'Enter');
      await message(b, 'a secret for B').waitFor();
      expect(await message(b, 'a secret for B').getAttribute('class')).toContain('whisper');
      await message(a, 'a secret for B').waitFor();
      await a.click('#whisper-clear');
      await a.fill('#chat', 'everyone again');
      await a.press('#chat', 'Enter');
      await message(c, 'everyone again').waitFor();
      expect(await message(c, 'a secret for B').count()).toBe(0);
      expect(await message(b, 'everyone again').getAttribute('class')).not.toContain('whisper');
      await screenshot(b, 'chat');
      // Nothing was shown twice, though B's own posts came back on the stream too.
      const shownToB = await texts(b);
      expect(shownToB.filter((text) => text.includes('hi from B'))).toHaveLength(1);

      // The lobby follows the member count live.
      const members = lobby.locator(`tr[data-id="${roomId}"] .room-members`);
      await lobby.waitForFunction(
        (id) =>
          document.querySelector(`tr[data-id="${id}"] .room-members`)?.textContent === '3 / 5',
        roomId,
      );
      expect(await members.textContent()).toBe('3 / 5');

      // The owner kicks C: C is sent back to the lobby with the sentence.
      await a.click(`#members [data-user-id="${userC}"] .kick`);
      await c.waitForURL(/\/\?error=/);
      expect(await c.locator('.error-message').textContent()).toBe(
        'You were removed from this room by its owner.',
      );
      await a.locator(`#members [data-user-id="${userC}"]`).waitFor({ state: 'detached' });

      // The owner removes the room: B is sent back, and the row leaves the lobby.
      // (With A's cookies, outside the page: A's page leaves as soon as the room is gone.)
      const removed = await a.context().request.delete(`${server.url}/room/${roomId}`);
      expect(removed.status()).toBe(204);
      await b.waitForURL(/\/\?error=/);
      expect(await b.locator('.error-message').textContent()).toBe('The room was removed.');
      await lobby.locator(`tr[data-id="${roomId}"]`).waitFor({ state: 'detached' });

      expect(problems).toEqual([]);
    }, 60_000);
  },
);

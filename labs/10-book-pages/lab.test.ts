import { describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../../test/support/browser.ts';
import { GIF_1X1 } from '../../test/support/files.ts';
import { newSession } from '../../test/support/http.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

if (!hasChromium) {
  console.warn('lab 10 page test skipped: install Chromium with: apt-get install -y chromium');
}

// A short empty-room grace, so that a room both users left goes away while the test watches.
const started = startedLab(main, ['--port', '0', '--empty-room-grace', '1500']);

it('serves the book’s pages at the book’s addresses, and the lab’s own one query away', async () => {
  const lobby = await fetch(`${started.lab.origin}/`);
  const text = await lobby.text();
  expect(text).toContain('<h1>GIF 채팅방</h1>');
  expect(text).toContain(`io.connect('${started.lab.origin}/room'`);
  expect(lobby.headers.get('content-security-policy')).toContain(
    "script-src 'self' 'unsafe-inline'",
  );
  const own = await (await fetch(`${started.lab.origin}/?page=lab`)).text();
  expect(own).not.toContain('<h1>GIF 채팅방</h1>');
  expect((await fetch(`${started.lab.origin}/socket.io/socket.io.js`)).status).toBe(200);
  expect((await fetch(`${started.lab.origin}/book/axios.min.js`)).status).toBe(200);
});

it('draws stored chats as text, never as markup', async () => {
  const owner = await newSession(started.lab.origin);
  const room = await owner.createRoom({ title: '<b>bold</b>' });
  await owner.say(room.id, '<img src=x onerror=alert(1)>');
  const page = await (
    await owner.fetch(`/room/${room.id}`, { headers: { accept: 'text/html' } })
  ).text();
  expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  expect(page).not.toContain('<img src=x');
  expect(page).toContain('<h1>&lt;b&gt;bold&lt;/b&gt;</h1>');
});

describe.skipIf(!hasChromium)('the book’s pages, in Chromium', () => {
  it('two users chat, a GIF shows, the lobby row comes and goes, a password room prompts', async () => {
    const browser = await launchChromium();
    const problems: string[] = [];
    try {
      const open = async () => {
        const page = await (await browser.newContext()).newPage();
        page.setDefaultTimeout(15_000);
        page.on('pageerror', (error) => problems.push(error.message));
        return page;
      };
      const [alice, bob, watcher] = [await open(), await open(), await open()];
      const origin = started.lab.origin;
      await watcher.goto(`${origin}/`);
      await bob.goto(`${origin}/`);
      // Alice makes a room through the lab's new-room form, from the book's lobby link.
      await alice.goto(`${origin}/`);
      await alice.click('text=채팅방 생성');
      await alice.fill('#title', 'book room');
      await alice.click('form button[type="submit"]');
      await alice.waitForURL(/\/room\/[\w-]+$/);
      const id = new URL(alice.url()).pathname.split('/').at(-1)!;
      await alice.locator('h1', { hasText: 'book room' }).waitFor();
      // The others' lobbies get the row from newRoom: 공개방, and the 입장 button enters.
      const row = bob.locator(`tbody tr[data-id="${id}"]`);
      await row.waitFor();
      expect(await row.locator('td').nth(1).textContent()).toBe('공개방');
      await row.locator('button', { hasText: '입장' }).click();
      await bob.waitForURL(`${origin}/room/${id}`);
      await alice.locator('#chat-list .system').nth(1).waitFor();
      // Text both ways, own messages marked as the book marks them.
      await alice.fill('#chat', 'hello from alice');
      await alice.press('#chat', 'Enter');
      await bob.locator('#chat-list .other', { hasText: 'hello from alice' }).waitFor();
      await alice.locator('#chat-list .mine', { hasText: 'hello from alice' }).waitFor();
      await bob.fill('#chat', 'hi alice');
      await bob.click('#chat-form button[type="submit"]');
      await alice.locator('#chat-list .other', { hasText: 'hi alice' }).waitFor();
      // A GIF, posted as the book posts it (FormData, field gif), shown from /gif/<name>.
      await bob.setInputFiles('#gif', { name: 'cat.gif', mimeType: 'image/gif', buffer: GIF_1X1 });
      const image = alice.locator('#chat-list .other img');
      await image.waitFor();
      expect(await image.getAttribute('src')).toMatch(/^\/gif\/[\w-]+\.gif$/);
      expect(
        await image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth),
      ).toBe(1);
      // Both leave by the book's link: the room empties, and the row leaves every lobby.
      await alice.click('#exit-btn');
      await bob.click('#exit-btn');
      await watcher
        .locator(`tbody tr[data-id="${id}"]`)
        .waitFor({ state: 'detached', timeout: 20_000 });

      // A password room: 비밀방 in the lobby, the book's prompt, the right password lets in.
      await alice.goto(`${origin}/room`);
      await alice.fill('#title', 'secret room');
      await alice.fill('#password', 'open sesame');
      await alice.click('form button[type="submit"]');
      await alice.waitForURL(/\/room\/[\w-]+$/);
      const secret = new URL(alice.url()).pathname.split('/').at(-1)!;
      const secretRow = watcher.locator(`tbody tr[data-id="${secret}"]`);
      await secretRow.waitFor();
      expect(await secretRow.locator('td').nth(1).textContent()).toBe('비밀방');
      watcher.once('dialog', (dialog) => {
        expect(dialog.message()).toBe('비밀번호를 입력하세요');
        void dialog.accept('open sesame');
      });
      await secretRow.locator('button').click();
      await watcher.waitForURL(`${origin}/room/${secret}`);
      await watcher.locator('h1', { hasText: 'secret room' }).waitFor();
      await watcher.fill('#chat', 'let in');
      await watcher.press('#chat', 'Enter');
      await alice.locator('#chat-list .other', { hasText: 'let in' }).waitFor();
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});

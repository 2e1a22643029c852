/**
 * The README's Korean pictures: `npx tsx docs/screenshots.ts` starts the real server on a free
 * port, makes a room with two visitors who chat, and takes the chat and compare pages in Korean
 * (?lang=ko) into docs/. The English ones come from the browser tests (SCREENSHOT_DIR).
 */
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../test/support/browser.ts';
import { startServer } from '../test/support/server.ts';

const DOCS = fileURLToPath(new URL('./', import.meta.url));
const server = await startServer({ limits: false });
const browser = await launchChromium();
try {
  const context = (name: string) =>
    browser
      .newContext({ viewport: { width: 1100, height: 760 }, locale: 'ko-KR' })
      .then(async (c) => {
        const page = await c.newPage();
        page.setDefaultTimeout(15_000);
        await page.goto(`${server.url}/?lang=ko`);
        return Object.assign(page, { who: name });
      });
  const minsu = await context('minsu');
  await minsu.goto(`${server.url}/room?lang=ko`);
  await minsu.fill('#title', '노드 교과서 스터디');
  await minsu.click('form button[type="submit"]');
  await minsu.waitForURL(/\/room\/[\w-]+/);
  const room = new URL(minsu.url()).pathname.split('/').at(-1)!;
  const jiyoung = await context('jiyoung');
  await jiyoung.goto(`${server.url}/room/${room}`);
  await jiyoung.locator('#state[data-state="open"]').waitFor();
  for (const [page, text] of [
    [minsu, '안녕하세요! 12장 실습 같이 해요.'],
    [jiyoung, '좋아요. 롱 폴링부터 볼까요?'],
    [minsu, '<b>태그</b>도 글자 그대로 보여요.'],
  ] as const) {
    await page.fill('#chat', text);
    await page.press('#chat', 'Enter');
    await jiyoung.locator('#chat-list > [data-seq]', { hasText: text }).waitFor();
  }
  await jiyoung.screenshot({ path: `${DOCS}chat.ko.png` });
  const compare = await context('compare');
  await compare.setViewportSize({ width: 1400, height: 900 });
  await compare.goto(`${server.url}/compare?room=${room}&lang=ko`);
  for (const name of ['polling', 'sse', 'ws', 'socketio']) {
    await compare.locator(`[data-transport="${name}"] .state[data-state="open"]`).waitFor();
  }
  await compare.fill('#send-text', '네 가지 전송 방식으로 한 번에');
  await compare.click('#send-form button[type="submit"]');
  await new Promise((done) => setTimeout(done, 1500));
  await compare.screenshot({ path: `${DOCS}compare.ko.png` });
} finally {
  await browser.close();
  await server.close();
}

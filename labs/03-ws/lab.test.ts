import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hasChromium, launchChromium } from '../../test/support/browser.ts';
import { eventually } from '../../test/support/http.ts';
import { ACCEPT_LANGUAGE, itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

/** The server sends every 100 ms here (3 s in the book). */
const INTERVAL_MS = 100;

if (!hasChromium) {
  console.warn('lab 03 page test skipped: install Chromium with: apt-get install -y chromium');
}

const started = startedLab(main, ['--port', '0', '--interval', String(INTERVAL_MS)]);
const { log } = started;

/** The book's client in Node: records what the server sends and answers each message. */
async function connect(reply: string) {
  const socket = new WebSocket(started.lab.url.replace('http', 'ws'));
  const received: { text: string; at: number }[] = [];
  socket.on('message', (data) => {
    received.push({ text: String(data), at: Date.now() });
    socket.send(reply);
  });
  await new Promise((done, fail) => {
    socket.once('open', done);
    socket.once('error', fail);
  });
  return { socket, received };
}

const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
const lines = (pattern: RegExp) => log.filter((line) => pattern.test(line)).length;

it('the server sends every interval and logs the client’s IP and its answers', async () => {
  const client = await connect('answer from one');
  await eventually(() => client.received.length >= 4, 3000, 'four messages');
  expect(client.received[0]!.text).toContain('서버에서 클라이언트로 메시지를 보냅니다');
  const gaps = client.received.slice(1).map((m, i) => m.at - client.received[i]!.at);
  for (const gap of gaps) {
    expect(gap).toBeGreaterThan(INTERVAL_MS / 2);
    expect(gap).toBeLessThan(INTERVAL_MS * 3);
  }
  expect(log).toContain('새로운 클라이언트 접속 (a new client): 127.0.0.1');
  await eventually(() => lines(/^127\.0\.0\.1 says: answer from one$/) >= 3, 3000, 'answers');
  client.socket.close();
  await eventually(() => lines(/a client left/) === 1, 3000, 'the disconnect');
});

it('two clients double the server’s messages; closing one logs it and clears its timer', async () => {
  const first = await connect('answer from first');
  const second = await connect('answer from second');
  await eventually(() => first.received.length >= 3 && second.received.length >= 3, 3000, 'both');
  // Each client has its own timer, so the server's log shows answers from both, interleaved.
  expect(lines(/says: answer from first$/)).toBeGreaterThanOrEqual(2);
  expect(lines(/says: answer from second$/)).toBeGreaterThanOrEqual(2);

  const timersBefore = timers();
  const leftBefore = lines(/a client left/);
  first.socket.close();
  await eventually(() => lines(/a client left/) === leftBefore + 1, 3000, 'the disconnect log');
  expect(log.at(-1)).toBe('클라이언트 접속 해제 (a client left): 127.0.0.1; its timer is cleared');
  expect(timers()).toBe(timersBefore - 1);

  // The other client goes on alone.
  const count = second.received.length;
  await eventually(() => second.received.length >= count + 2, 3000, 'more for the second');
  second.socket.close();
});

describe('the page in Korean and in English', () => {
  itSpeaksBothLanguages(() => started.lab.url, {
    en: 'WebSocket with the <code>ws</code> module',
    ko: '<code>ws</code> 모듈로 쓰는 웹 소켓',
  });
});

describe.skipIf(!hasChromium)('the page, in Chromium, for a Korean reader', () => {
  it('says the socket’s state and the lab’s lines in Korean; the book’s lines as the book does', async () => {
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
      await expect.poll(() => page.locator('#state').textContent()).toBe('연결됨');
      await page.locator('#messages li', { hasText: '서버와 웹소켓 연결 성공!' }).waitFor();
      await page
        .locator('#messages li', { hasText: /^서버: 서버에서 클라이언트로/ })
        .first()
        .waitFor();
      await page.getByRole('button', { name: '소켓 닫기' }).click();
      await expect.poll(() => page.locator('#state').textContent()).toBe('연결 끊김');
      await page.locator('#messages li', { hasText: /^연결 종료: 서버가 접속 해제를/ }).waitFor();
      // The link to the English page, which then stays English.
      await page.getByRole('link', { name: 'English' }).click();
      await expect.poll(() => page.locator('#state').textContent()).toBe('open');
      await page.goto(started.lab.url);
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
    } finally {
      await browser.close();
    }
  });
});

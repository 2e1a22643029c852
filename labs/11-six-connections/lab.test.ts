import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hasChromium, launchChromium } from '../../test/support/browser.ts';
import { itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

if (!hasChromium) {
  console.warn('lab 11 browser test skipped: install Chromium with: apt-get install -y chromium');
}

const started = startedLab(main, ['--port', '0', '--interval', '200']);

it('serves a clock over SSE that any origin may read, and the same clock over a WebSocket', async () => {
  const response = await fetch(`${started.lab.url}stream`);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(response.headers.get('access-control-allow-origin')).toBe('*');
  const reader = response.body!.getReader();
  let text = '';
  while (!/event: tick\ndata: \{"tick":\d+\}/.test(text)) {
    text += new TextDecoder().decode((await reader.read()).value);
  }
  await reader.cancel();
  const socket = new WebSocket(`${started.lab.url.replace('http', 'ws')}ws`);
  const ticks: number[] = [];
  await new Promise<void>((done) =>
    socket.on('message', (data) => {
      ticks.push((JSON.parse(String(data)) as { tick: number }).tick);
      if (ticks.length === 2) done();
    }),
  );
  socket.close();
  expect(ticks[1]).toBeGreaterThan(ticks[0]!);
});

describe('the page in Korean and in English', () => {
  itSpeaksBothLanguages(() => started.lab.url, {
    en: 'Six connections per host',
    ko: '호스트당 연결 여섯 개',
  });
});

describe.skipIf(!hasChromium)('in Chromium', () => {
  it('the seventh stream to one host waits; another host name and a WebSocket do not; closing one lets it in', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(started.lab.url);
      const logged = started.log.length;
      const rows = page.locator('#connections > li');
      const state = (n: number) => rows.nth(n - 1).getAttribute('data-state');
      for (let i = 0; i < 7; i += 1) {
        await page.getByRole('button', { name: 'Open a stream to this host' }).click();
      }
      await expect.poll(() => page.locator('#connections > li[data-state="open"]').count()).toBe(6);
      // The seventh has had time to open ten times over: it waits for a connection.
      await page.waitForTimeout(1500);
      expect(await state(7)).toBe('pending');
      expect(await page.locator('#summary').textContent()).toBe('6 open, 1 pending');
      expect(
        started.log.slice(logged).filter((line) => line.startsWith('a stream opened')),
      ).toHaveLength(6);

      // The same server under its other name: another host, another six.
      await page.getByRole('button', { name: 'Open a stream to the other host name' }).click();
      await expect.poll(() => state(8)).toBe('open');
      expect(started.log.some((line) => /^a stream opened on localhost:/.test(line))).toBe(true);
      // A WebSocket is not one of the six.
      await page.getByRole('button', { name: 'Open a WebSocket' }).click();
      await expect.poll(() => state(9)).toBe('open');
      expect(await state(7)).toBe('pending');

      // One of the six closes: the seventh gets its connection and opens.
      await rows.nth(0).getByRole('button', { name: 'Close' }).click();
      await expect.poll(() => state(7)).toBe('open');
      await expect.poll(() => rows.nth(6).locator('.ticks').textContent()).toMatch(/^\d+$/);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { itSpeaksBothLanguages } from '../shared/languages.ts';
import { startedLab } from '../shared/started.ts';
import { main } from './server.ts';

/**
 * The clock ticks every 500 ms here (5 s by default); short polling asks every 30 ms (1 s). Both
 * tests measure against the tick: a request on a busy machine takes 100 ms and more, which at
 * 150 ms a tick let a tick pass during a wait=0 request and left short polling barely ahead.
 */
const INTERVAL_MS = 500;
const SHORT_EVERY_MS = 30;

const started = startedLab(main, ['--port', '0', '--interval', String(INTERVAL_MS)]);
const { log } = started;

async function askClock(after: number, wait: number) {
  const response = await fetch(`${started.lab.url}clock?after=${after}&wait=${wait}`);
  return (await response.json()) as { tick: number; time: string };
}

it('serves the page and prints the URL to open', async () => {
  expect(log[0]).toMatch(/^open http:\/\/127\.0\.0\.1:\d+\//);
  const page = await (await fetch(started.lab.url)).text();
  expect(page).toContain('src="page.js"');
  expect(page).not.toMatch(/<script>/);
  const script = await fetch(`${started.lab.url}page.js`);
  expect(script.status).toBe(200);
  // Read to the end: a body left unread is cut when the lab stops ("Premature close").
  await script.text();
});

it('a long poll is held until the clock ticks; wait=0 answers at once', async () => {
  const now = await askClock(-1, 0);
  const started = Date.now();
  const short = await askClock(now.tick, 0);
  expect(short.tick).toBe(now.tick);
  expect(Date.now() - started).toBeLessThan(INTERVAL_MS);

  const next = await askClock(now.tick, 25);
  expect(next.tick).toBe(now.tick + 1);
});

it('short polling makes many more requests than long polling for the same ticks', async () => {
  const counts = { short: { requests: 0, empty: 0 }, long: { requests: 0, empty: 0 } };
  const seen = { short: -1, long: -1 };
  let running = true;

  /** Asks as the page's `mode` column does (wait=0 then a pause, or wait=25) until stopped. */
  const poll = async (mode: 'short' | 'long', wait: number, pauseMs: number) => {
    while (running) {
      const answer = await askClock(seen[mode], wait);
      counts[mode].requests += 1;
      if (answer.tick <= seen[mode]) counts[mode].empty += 1;
      seen[mode] = Math.max(seen[mode], answer.tick);
      if (pauseMs > 0) await new Promise((done) => setTimeout(done, pauseMs));
    }
  };
  const shortPolling = poll('short', 0, SHORT_EVERY_MS);
  const longPolling = poll('long', 25, 0);

  await new Promise((done) => setTimeout(done, INTERVAL_MS * 5 + 50));
  running = false;
  await Promise.all([shortPolling, longPolling]);

  // Both saw every tick; long polling needed about one request per tick, short polling five.
  expect(Math.abs(seen.short - seen.long)).toBeLessThanOrEqual(1);
  expect(counts.long.requests).toBeLessThanOrEqual(8);
  expect(counts.long.empty).toBe(0);
  expect(counts.short.requests).toBeGreaterThan(counts.long.requests * 2);
  expect(counts.short.empty).toBeGreaterThan(counts.short.requests / 2);
  // The server log says the same, tick by tick.
  expect(
    log.some((line) =>
      /short poll\(s\) since the last tick, [1-9]\d* of them found nothing new/.test(line),
    ),
  ).toBe(true);
  expect(log.some((line) => /answered 1 waiting long poll/.test(line))).toBe(true);
});

describe('the page in Korean and in English', () => {
  itSpeaksBothLanguages(() => started.lab.url, {
    en: 'Short polling vs long polling',
    ko: '숏 폴링과 롱 폴링',
  });
});

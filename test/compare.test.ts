import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerHeaders } from '../cluster.ts';
import { TRANSPORT_NAMES, type TransportName } from '../core/model.ts';
import { endpointOf, Ledger, median, scaleFor } from '../web/views/compare-figures.ts';
import { hasChromium, launchChromium } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The compare page (PROTOCOL.md, Pages: /compare): its counting rules in Node, then the page in a
 * real headless Chromium against the real server, with every transport and with one. Set
 * SCREENSHOT_DIR to keep a picture of it (docs/compare.png is taken this way).
 */

describe('the compare page counts', () => {
  it('a seq handed twice as a duplicate, before de-duplicating', () => {
    const ledger = new Ledger();
    const pane = ledger.addPane();
    expect(ledger.arrive(pane, 1, false, 0)).toEqual({ duplicate: false, recoveredIn: undefined });
    expect(ledger.arrive(pane, 1, false, 1)).toEqual({ duplicate: true });
    expect(pane.duplicated).toBe(1);
    expect(pane.seen.size).toBe(1);
  });

  it('a seq another pane delivered and this one went past as missed, until it comes', () => {
    const ledger = new Ledger();
    const [a, b] = [ledger.addPane(), ledger.addPane()];
    for (const seq of [1, 2, 3]) ledger.arrive(a, seq, false, seq);
    ledger.arrive(b, 1, false, 4);
    ledger.arrive(b, 3, false, 5);
    expect([...b.missing]).toEqual([2]);
    // Learnt the other way round: b went past 5 before a delivered 4.
    ledger.arrive(b, 5, false, 6);
    ledger.arrive(a, 4, false, 7);
    expect([...b.missing].sort()).toEqual([2, 4]);
    ledger.arrive(b, 2, false, 8);
    expect([...b.missing]).toEqual([4]);
    expect(a.missing.size).toBe(0);
  });

  it('what existed while a pane was down as recovered, and times only live arrivals', () => {
    const ledger = new Ledger();
    const [a, b] = [ledger.addPane(), ledger.addPane()];
    // The first connect is no gap.
    expect(ledger.connection(a, false, 0)).toBeUndefined();
    ledger.connection(a, true, 1);
    ledger.connection(b, true, 1);
    const gap = ledger.connection(b, false, 10);
    expect(gap).toMatchObject({ down: 10, up: undefined, afterSeq: 0 });
    const sending = ledger.sending(11);
    // The stream beats the confirmation: the arrival waits for the seq to be known.
    ledger.arrive(a, 1, true, 14);
    sending.confirmed(1, 15);
    ledger.connection(b, true, 20);
    expect(ledger.arrive(b, 1, true, 21)).toEqual({ duplicate: false, recoveredIn: gap });
    expect(a.latencies).toEqual([3]);
    expect(b.latencies).toEqual([]);
    expect([b.recovered, gap?.recovered, b.reconnects, a.reconnects]).toEqual([1, 1, 1, 0]);
    // Live again: a later message is timed, not recovered.
    const next = ledger.sending(30);
    next.confirmed(2, 31);
    ledger.arrive(b, 2, true, 32.5);
    expect(b.latencies).toEqual([2.5]);
    expect(b.recovered).toBe(1);
  });

  it('its figures: a round shared scale, the median, and whose endpoint a request hit', () => {
    expect(scaleFor([[0.4], []])).toBe(5);
    expect(scaleFor([[3, 120], [40]])).toBe(200);
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(endpointOf('/poll/room/abc')).toBe('polling');
    expect(endpointOf('/sse/room/abc')).toBe('sse');
    expect(endpointOf('/socket.io/')).toBe('socketio');
    expect(endpointOf('/room/abc/chat')).toBe('post');
    expect(endpointOf('/api/stats')).toBeUndefined();
  });
});

if (!hasChromium) {
  console.warn('compare page tests skipped: install Chromium with: apt-get install -y chromium');
}

const ATTACK = '<img src=x onerror="window.__pwned=1">';

describe.skipIf(!hasChromium)('the compare page in Chromium', () => {
  let server: TestServer;
  let wsOnly: TestServer;
  let browser: Browser;
  /** Script errors and CSP violations: there must be none. */
  const problems: string[] = [];

  beforeAll(async () => {
    [server, wsOnly] = await Promise.all([
      startServer({ memberGraceMs: 300 }),
      startServer({ memberGraceMs: 300, transport: 'ws' }),
    ]);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([server?.close(), wsOnly?.close()]);
  });

  /** A visitor's page, and every address it asked for (requests and WebSockets). */
  async function visitor(): Promise<{ page: Page; asked: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const asked: string[] = [];
    page.on('request', (request) => asked.push(request.url()));
    page.on('websocket', (socket) => asked.push(socket.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
        problems.push(`CSP: ${message.text()}`);
      }
    });
    return { page, asked };
  }

  const pane = (page: Page, name: TransportName) => page.locator(`.pane[data-transport="${name}"]`);
  const message = (page: Page, name: TransportName, text: string) =>
    pane(page, name).locator('[data-seq]', { hasText: text });
  const figure = (page: Page, name: TransportName, key: string) =>
    pane(page, name).locator(`[data-figure="${key}"]`).textContent();
  const seqsOf = (page: Page, name: TransportName) =>
    pane(page, name)
      .locator('[data-seq]')
      .evaluateAll((items) => items.map((item) => Number((item as HTMLElement).dataset.seq)));

  async function send(page: Page, via: TransportName, text: string): Promise<void> {
    await page.selectOption('#send-via', via);
    await page.fill('#send-text', text);
    await page.press('#send-text', 'Enter');
  }

  /** Every pane shows `text`, and none lost or repeated anything on the way. */
  async function everyPaneHas(page: Page, names: readonly TransportName[], text: string) {
    for (const name of names) await message(page, name, text).waitFor({ timeout: 12_000 });
  }

  async function expectNoLossNoDuplicate(page: Page, names: readonly TransportName[]) {
    const reference = await seqsOf(page, names[0]!);
    expect(reference).toEqual([...reference].sort((x, y) => x - y));
    expect(new Set(reference).size).toBe(reference.length);
    for (const name of names) {
      expect(await seqsOf(page, name), `${name}'s messages`).toEqual(reference);
      expect(await figure(page, name, 'missed'), `${name} missed`).toBe('0');
      expect(await figure(page, name, 'duplicated'), `${name} duplicated`).toBe('0');
    }
  }

  function expectOnlyServer(asked: string[], origin: string): void {
    const wsOrigin = origin.replace(/^http/, 'ws');
    const foreign = asked.filter((url) => !url.startsWith(origin) && !url.startsWith(wsOrigin));
    expect(foreign).toEqual([]);
  }

  it('shows a message in all four panes with its latency, and every pane resumes whole', async () => {
    const { page, asked } = await visitor();
    const response = await page.goto(`${server.url}/compare`);
    expect(response?.request().redirectedFrom()?.url()).toBe(`${server.url}/compare`);
    expect((await response?.request().redirectedFrom()?.response())?.status()).toBe(303);
    expect(page.url()).toMatch(/\/compare\?room=[A-Za-z0-9_-]+$/);
    const roomId = new URL(page.url()).searchParams.get('room')!;
    expect(server.chat.getRoom(roomId)).toMatchObject({ title: 'compare', max: 100 });

    const names = await page
      .locator('.pane[data-transport]')
      .evaluateAll((panes) => panes.map((p) => (p as HTMLElement).dataset.transport));
    expect(names).toEqual([...TRANSPORT_NAMES]);
    for (const name of TRANSPORT_NAMES) {
      await pane(page, name).locator('.state[data-state="open"]').waitFor();
    }

    // One message, four copies, each timed on the page's clock; markup stays text.
    await send(page, 'socketio', `hello ${ATTACK}`);
    await everyPaneHas(page, TRANSPORT_NAMES, ATTACK);
    for (const name of TRANSPORT_NAMES) {
      expect(await message(page, name, ATTACK).locator('.text').textContent()).toBe(
        `hello ${ATTACK}`,
      );
      await expect.poll(() => figure(page, name, 'latency-last')).toMatch(/^\d+(\.\d)? ms$/);
    }
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();

    // Each pane's connection dropped in turn, with a message sent through another one meanwhile.
    for (const [index, name] of TRANSPORT_NAMES.entries()) {
      const via = TRANSPORT_NAMES[(index + 1) % TRANSPORT_NAMES.length]!;
      await pane(page, name).locator('[data-action="drop"]').click();
      await send(page, via, `sent while ${name} was dropped`);
      await everyPaneHas(page, TRANSPORT_NAMES, `sent while ${name} was dropped`);
      await pane(page, name).locator('.state[data-state="open"]').waitFor();
    }
    await expectNoLossNoDuplicate(page, TRANSPORT_NAMES);

    // Two panes at a time offline for 5 s: what is sent meanwhile comes with their resume.
    const pairs = [
      { offline: ['polling', 'sse'], via: 'ws' },
      { offline: ['ws', 'socketio'], via: 'polling' },
    ] as const;
    for (const { offline, via } of pairs) {
      for (const name of offline) {
        await pane(page, name).locator('[data-action="offline"]').click();
        await pane(page, name).locator('.state[data-state="offline"]').waitFor();
      }
      const texts = [1, 2].map((n) => `while ${offline.join(' and ')} were offline ${n}/2`);
      for (const text of texts) await send(page, via, text);
      for (const text of texts) await message(page, via, text).waitFor();
      for (const name of offline) {
        expect(await pane(page, name).locator('.state').getAttribute('data-state')).toBe('offline');
        expect(await message(page, name, texts[0]!).count()).toBe(0);
      }
      for (const name of offline) {
        for (const text of texts) {
          await message(page, name, text).waitFor({ timeout: 12_000 });
          expect(await message(page, name, text).getAttribute('class')).toContain('recovered');
        }
        await pane(page, name).locator('.gap-note', { hasText: '2 recovered' }).waitFor();
        expect(Number(await figure(page, name, 'recovered'))).toBeGreaterThanOrEqual(2);
      }
    }
    await expectNoLossNoDuplicate(page, TRANSPORT_NAMES);
    for (const name of TRANSPORT_NAMES) {
      await pane(page, name).locator('.state[data-state="open"]').waitFor();
      expect(Number(await figure(page, name, 'reconnects'))).toBeGreaterThanOrEqual(2);
    }

    // The picture for the README: gaps, what their resume recovered, the latencies so far.
    const dir = process.env.SCREENSHOT_DIR;
    if (dir) await page.screenshot({ path: `${dir}/compare.png` });

    // A burst of 100 through one transport reaches every pane, whole and once.
    const before = (await seqsOf(page, 'ws')).length;
    await page.selectOption('#send-via', 'sse');
    await page.click('#burst');
    await page.locator('#send-status', { hasText: '100 confirmed' }).waitFor({ timeout: 15_000 });
    for (const name of TRANSPORT_NAMES) {
      await expect
        .poll(async () => (await seqsOf(page, name)).length, { timeout: 15_000 })
        .toBe(before + 100);
    }
    await expectNoLossNoDuplicate(page, TRANSPORT_NAMES);
    // The server's counters and the page's own requests are shown, with their source.
    await expect.poll(() => figure(page, 'ws', 'server-bytes-out')).toMatch(/\d+(\.\d)? (B|KiB)/);
    expect(Number(await figure(page, 'polling', 'page-requests'))).toBeGreaterThan(0);
    expect(await figure(page, 'ws', 'page-requests')).toBe('n/a');
    // Every POST the page made: two of the drops, the second offline pair, the burst.
    await expect
      .poll(() => page.locator('[data-figure="post-requests"]').textContent())
      .toBe(String(2 + 2 + 100));

    expectOnlyServer(asked, server.url);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);

  it('shows which worker answered a pane, where the page can know it (Server-Timing)', async () => {
    // A worker's headers on an in-process server: the page cannot tell it from a worker's.
    const marked = await startServer({ responseHeaders: workerHeaders() });
    try {
      const { page } = await visitor();
      await page.goto(`${marked.url}/compare`);
      for (const name of TRANSPORT_NAMES) {
        await pane(page, name).locator('.state[data-state="open"]').waitFor();
      }
      const worker = (name: TransportName) => pane(page, name).locator('[data-worker]');
      // Long polling's polls and Socket.IO's handshake are requests that end.
      for (const name of ['polling', 'socketio'] as const) {
        await worker(name).waitFor();
        expect(await worker(name).textContent()).toBe(`worker ${process.pid}`);
        expect(await worker(name).getAttribute('data-worker')).toBe(String(process.pid));
      }
      // An open EventSource and a WebSocket show nothing the page could read: no guess either.
      expect(await worker('ws').isHidden()).toBe(true);
      expect(await worker('sse').isHidden()).toBe(true);
      // Without workers, no pane says one.
      await page.goto(`${server.url}/compare`);
      await pane(page, 'polling').locator('.state[data-state="open"]').waitFor();
      expect(await page.locator('[data-worker]:visible').count()).toBe(0);
      expect(problems).toEqual([]);
      await page.context().close();
    } finally {
      await marked.close();
    }
  }, 30_000);

  it('shows only the running transports: --transport ws has one pane', async () => {
    const { page, asked } = await visitor();
    await page.goto(`${wsOnly.url}/compare`);
    expect(
      await page
        .locator('.pane[data-transport]')
        .evaluateAll((panes) => panes.map((p) => (p as HTMLElement).dataset.transport)),
    ).toEqual(['ws']);
    expect(await page.locator('#send-via option').allTextContents()).toHaveLength(1);
    await pane(page, 'ws').locator('.state[data-state="open"]').waitFor();
    await send(page, 'ws', 'only ws here');
    await message(page, 'ws', 'only ws here').waitFor();
    await expect.poll(() => figure(page, 'ws', 'latency-last')).toMatch(/^\d+(\.\d)? ms$/);
    expect(asked.filter((url) => /\/(poll|sse|socket\.io)\//.test(url))).toEqual([]);
    expectOnlyServer(asked, wsOnly.url);
    expect(problems).toEqual([]);
    await page.context().close();
  }, 30_000);
});

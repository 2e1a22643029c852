import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRANSPORT_NAMES, type TransportName } from '../core/model.ts';
import { hasChromium, launchChromium } from './support/browser.ts';
import { startServer, type TestServer } from './support/server.ts';

/**
 * The protocol inspector (issue 17) in a real Chromium against the real server: in every
 * transport's pane, the dump of the bytes that carried a message holds its text, and the pane's
 * total (`[data-part="total"]`'s `data-bytes`) is what /api/stats counted out for that transport
 * while the message travelled. A heartbeat landing in that window (an SSE ping every 15 s,
 * Socket.IO's every 25 s, ws's every 30 s) would make the two differ; the window is a fraction
 * of a second, and the test sends once more (and says so) if that happened.
 */

if (!hasChromium) {
  console.warn('inspector tests skipped: install Chromium with: apt-get install -y chromium');
}

const TEXT = 'inspect <b>me</b> & 한국어';

interface Stats {
  transports: Record<TransportName, { bytesOut: number }>;
}

describe.skipIf(!hasChromium)('the inspector in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startServer({ memberGraceMs: 300 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openInspector(): Promise<Page> {
    const page = await (
      await browser.newContext({ viewport: { width: 1400, height: 900 } })
    ).newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    const response = await page.goto(`${server.url}/inspect`);
    expect((await response?.request().redirectedFrom()?.response())?.status()).toBe(303);
    expect(page.url()).toMatch(/\/inspect\?room=[A-Za-z0-9_-]+$/);
    return page;
  }

  const pane = (page: Page, name: TransportName) =>
    page.locator(`.wire-pane[data-transport="${name}"]`);

  const stats = async (page: Page) =>
    (await page.evaluate(() => fetch('/api/stats').then((r) => r.json()))) as Stats;

  /** Sends `text` and waits until the page shows it, with /api/stats read around it here too. */
  async function send(page: Page, text: string) {
    const before = await stats(page);
    await page.fill('#inspect-text', text);
    await page.press('#inspect-text', 'Enter');
    await page.locator('#inspect-status', { hasText: /every pane|모든 창/ }).waitFor();
    const after = await stats(page);
    const figures = {} as Record<TransportName, { total: number; stats: number; page: number }>;
    for (const name of TRANSPORT_NAMES) {
      const down = pane(page, name).locator('[data-section="down"]');
      figures[name] = {
        total: Number(await down.locator('[data-part="total"]').getAttribute('data-bytes')),
        page: Number(await down.locator('[data-figure="stats-out"]').getAttribute('data-bytes')),
        stats: after.transports[name].bytesOut - before.transports[name].bytesOut,
      };
    }
    return figures;
  }

  it('shows, in every pane, the message inside the dump and the bytes /api/stats counted', async () => {
    const page = await openInspector();
    const names = await page
      .locator('.wire-pane[data-transport]')
      .evaluateAll((panes) => panes.map((p) => (p as HTMLElement).dataset.transport));
    expect(names).toEqual([...TRANSPORT_NAMES]);
    for (const name of TRANSPORT_NAMES) {
      await pane(page, name).locator('.state[data-state="open"]').waitFor();
    }
    // Socket.IO starts on polling and upgrades: wait for the upgrade, so its pane shows a frame.
    await page.waitForTimeout(500);

    let figures = await send(page, TEXT);
    const agree = () =>
      TRANSPORT_NAMES.every((name) => figures[name].total === figures[name].stats);
    if (!agree()) {
      console.warn('inspector: a heartbeat crossed the window, sending once more', figures);
      figures = await send(page, `${TEXT} (again)`);
    }
    console.info('inspector: bytes per delivery', JSON.stringify(figures));
    for (const name of TRANSPORT_NAMES) {
      const down = pane(page, name).locator('[data-section="down"]');
      expect(await down.locator('.dump').textContent(), name).toContain(TEXT);
      expect(figures[name].total, `${name}'s total`).toBeGreaterThan(0);
      expect(figures[name].total, `${name}'s total against /api/stats`).toBe(figures[name].stats);
      expect(figures[name].page, `${name}'s figure from the page`).toBe(figures[name].stats);
      // The parts add up to the units, and the units to the total.
      const sums = await down.locator('.unit').evaluateAll((units) =>
        units.map((unit) => {
          const parts = [...unit.querySelectorAll<HTMLElement>('[data-part][data-bytes]')];
          const sum = parts.reduce((total, part) => total + Number(part.dataset.bytes), 0);
          return [Number((unit as HTMLElement).dataset.bytes), sum];
        }),
      );
      for (const [unit, parts] of sums) expect(parts).toBe(unit);
      expect(sums.reduce((total, [unit]) => total + unit!, 0)).toBe(figures[name].total);
      await expect.poll(() => down.locator('[data-check]').getAttribute('data-check')).toBe('same');
    }
    // What each wire is made of, marked.
    const kinds = async (name: TransportName) =>
      pane(page, name)
        .locator('[data-section="down"] [data-part]')
        .evaluateAll((parts) => parts.map((part) => (part as HTMLElement).dataset.part));
    expect(await kinds('polling')).toEqual(
      expect.arrayContaining(['start-line', 'header', 'head-end', 'json']),
    );
    expect(await kinds('sse')).toEqual(
      expect.arrayContaining([
        'chunk-size',
        'sse-field',
        'sse-value',
        'json',
        'sse-end',
        'chunk-end',
      ]),
    );
    expect(await kinds('ws')).toEqual(expect.arrayContaining(['ws-header', 'json']));
    expect(await kinds('socketio')).toEqual(
      expect.arrayContaining(['ws-header', 'eio-type', 'sio-type', 'sio-namespace', 'json']),
    );
    // The way up: the POST as parsed, and its answer.
    const up = pane(page, 'polling').locator('[data-section="up"]');
    expect(
      Number(await up.locator('[data-part="up-total"]').getAttribute('data-bytes')),
    ).toBeGreaterThan(0);
    expect(await up.locator('.dump').textContent()).toContain('POST /room/');
    // User text stays text.
    expect(await page.locator('.dump b').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('shows a send over ws or Socket.IO: the masked client frame up, its acknowledgement', async () => {
    const page = await openInspector();
    for (const name of TRANSPORT_NAMES) {
      await pane(page, name).locator('.state[data-state="open"]').waitFor();
    }
    await page.waitForTimeout(500);
    for (const via of ['ws', 'socketio'] as const) {
      await page.selectOption('#inspect-via', via);
      let figures = await send(page, `${TEXT} via ${via}`);
      const up = pane(page, via).locator('[data-section="up"]');
      const ack = async () =>
        Number(await pane(page, via).locator('[data-figure="ack"]').textContent());
      const agree = async () =>
        figures[via].total + (await ack()) === figures[via].stats &&
        TRANSPORT_NAMES.every(
          (name) => name === via || figures[name].total === figures[name].stats,
        );
      if (!(await agree())) {
        console.warn(`inspector: a heartbeat crossed the window (${via}), sending once more`);
        figures = await send(page, `${TEXT} via ${via} (again)`);
      }
      console.info(`inspector: sent via ${via}`, JSON.stringify(figures), 'ack', await ack());
      expect(await ack()).toBeGreaterThan(0);
      expect(figures[via].total + (await ack())).toBe(figures[via].stats);
      for (const name of TRANSPORT_NAMES) {
        if (name !== via) expect(figures[name].total, name).toBe(figures[name].stats);
        const check = pane(page, name).locator('[data-section="down"] [data-check]');
        await expect.poll(() => check.getAttribute('data-check')).toBe('same');
      }
      const kinds = await up
        .locator('[data-part]')
        .evaluateAll((parts) => parts.map((part) => (part as HTMLElement).dataset.part));
      expect(kinds).toEqual(expect.arrayContaining(['ws-header', 'ws-mask', 'json']));
      // The client's frame is masked on the wire and shown unmasked.
      expect(await up.locator('.dump').textContent()).toContain(`${TEXT} via ${via}`);
    }
    expect(problems).toEqual([]);
  });

  it('is linked from the compare page and the chat page', async () => {
    const page = await openInspector();
    const room = new URL(page.url()).searchParams.get('room')!;
    await page.goto(`${server.url}/compare?room=${room}`);
    expect(await page.locator(`a[href="/inspect?room=${room}"]`).count()).toBe(1);
    await page.goto(`${server.url}/room/${room}`);
    expect(await page.locator(`a[href="/inspect?room=${room}"]`).count()).toBe(1);
  });
});

import type { TransportName } from '../../core/model.ts';
import { type Language, t } from './i18n/index.ts';

/**
 * What the compare page counts and draws, apart from the DOM so that its rules can be tested in
 * Node. The page's one clock is `performance.now()`; every time here is on it.
 *
 * Per pane: every seq its client delivered, what it went past without (missed: must stay 0),
 * what it was handed twice (duplicated: counted before de-duplicating, must stay 0), what came with
 * a resume after a gap (recovered), and the latency of our own messages from the moment they were
 * handed to a client until each pane received them (live ones only: a recovered message measures
 * the gap, not the transport).
 */

/** A time a pane's connection was down; `up` once it is open again. */
export interface Gap {
  down: number;
  up: number | undefined;
  /** The highest seq the pane had when it went down: the resume starts after it. */
  afterSeq: number;
  recovered: number;
}

export class PaneRecord {
  readonly seen = new Set<number>();
  maxSeq = 0;
  /** Seqs another pane delivered that this pane went past without. */
  readonly missing = new Set<number>();
  duplicated = 0;
  recovered = 0;
  reconnects = 0;
  everOpen = false;
  readonly gaps: Gap[] = [];
  readonly latencies: number[] = [];
  lastLatency: number | undefined;

  get openGap(): Gap | undefined {
    const gap = this.gaps.at(-1);
    return gap && gap.up === undefined ? gap : undefined;
  }

  recordLatency(ms: number): void {
    this.lastLatency = ms;
    this.latencies.push(ms);
    if (this.latencies.length > KEPT_LATENCIES) this.latencies.shift();
  }
}

/** Latencies kept per pane for the median. */
const KEPT_LATENCIES = 1000;

export type Arrival = { duplicate: true } | { duplicate: false; recoveredIn: Gap | undefined };

export class Ledger {
  readonly #panes: PaneRecord[] = [];
  /** Every seq some pane delivered. */
  readonly #delivered = new Set<number>();
  /** When each seq was first known here: delivered by a pane, or its send confirmed. */
  readonly #firstSeenAt = new Map<number, number>();
  /** When each message sent from this page was handed to its client, by seq. */
  readonly #sentAt = new Map<number, number>();
  /** Arrivals of our own messages before their send was confirmed (the stream can win). */
  readonly #early = new Map<number, Map<PaneRecord, number>>();
  #sendsInFlight = 0;

  addPane(): PaneRecord {
    const pane = new PaneRecord();
    this.#panes.push(pane);
    return pane;
  }

  /** The pane's connection opened, or stopped being open; a new gap when one begins. */
  connection(pane: PaneRecord, open: boolean, now: number): Gap | undefined {
    if (open) {
      if (pane.everOpen) pane.reconnects += 1;
      pane.everOpen = true;
      const gap = pane.openGap;
      if (gap) gap.up = now;
      return undefined;
    }
    // The first connect is no gap; a gap already open stays the same gap.
    if (!pane.everOpen || pane.openGap) return undefined;
    const gap: Gap = { down: now, up: undefined, afterSeq: pane.maxSeq, recovered: 0 };
    pane.gaps.push(gap);
    return gap;
  }

  /** A stored event reached a pane. `own`: sent by this page's user (it may be ours to time). */
  arrive(pane: PaneRecord, seq: number, own: boolean, now: number): Arrival {
    if (pane.seen.has(seq)) {
      pane.duplicated += 1;
      return { duplicate: true };
    }
    pane.seen.add(seq);
    pane.missing.delete(seq);
    for (let skipped = pane.maxSeq + 1; skipped < seq; skipped++) {
      if (this.#delivered.has(skipped)) pane.missing.add(skipped);
    }
    pane.maxSeq = Math.max(pane.maxSeq, seq);
    if (!this.#delivered.has(seq)) {
      this.#delivered.add(seq);
      for (const other of this.#panes) {
        if (seq < other.maxSeq && !other.seen.has(seq)) other.missing.add(seq);
      }
    }
    const first = this.#firstSeenAt.get(seq);
    if (first === undefined) this.#firstSeenAt.set(seq, now);
    // Recovered: it existed while this pane was down, and came with the resume.
    const recoveredIn =
      first === undefined
        ? undefined
        : pane.gaps.find((gap) => first >= gap.down && (gap.up === undefined || first <= gap.up));
    if (recoveredIn) {
      pane.recovered += 1;
      recoveredIn.recovered += 1;
      return { duplicate: false, recoveredIn };
    }
    const sent = this.#sentAt.get(seq);
    if (sent !== undefined) {
      pane.recordLatency(now - sent);
    } else if (own && this.#sendsInFlight > 0) {
      const arrivals = this.#early.get(seq) ?? new Map<PaneRecord, number>();
      arrivals.set(pane, now);
      this.#early.set(seq, arrivals);
    }
    return { duplicate: false, recoveredIn: undefined };
  }

  /** A message is being handed to a client now; call `confirmed` or `failed` once. */
  sending(startedAt: number): {
    confirmed(seq: number, now: number): void;
    failed(): void;
  } {
    this.#sendsInFlight += 1;
    const settle = () => {
      this.#sendsInFlight -= 1;
      if (this.#sendsInFlight === 0) this.#early.clear();
    };
    return {
      confirmed: (seq, now) => {
        this.#sentAt.set(seq, startedAt);
        if (!this.#firstSeenAt.has(seq)) this.#firstSeenAt.set(seq, now);
        for (const [pane, at] of this.#early.get(seq) ?? []) pane.recordLatency(at - startedAt);
        this.#early.delete(seq);
        settle();
      },
      failed: settle,
    };
  }
}

/** Which transport's endpoint a request of the page went to; `post` for the shared way up. */
export function endpointOf(path: string): TransportName | 'post' | undefined {
  if (path.startsWith('/poll/')) return 'polling';
  if (path.startsWith('/sse/')) return 'sse';
  if (path.startsWith('/socket.io/')) return 'socketio';
  if (path === '/ws') return 'ws';
  return /^\/room\/[^/]+\/chat$/.test(path) ? 'post' : undefined;
}

/** The line a gap leaves in its pane's message list. */
export function gapText(lang: Language, gap: Gap): string {
  const seq = gap.afterSeq;
  if (gap.up === undefined) return t(lang, 'compare.gapOpen', { seq });
  const took = formatMs(gap.up - gap.down);
  return t(lang, 'compare.gapClosed', { seq, took, recovered: gap.recovered });
}

// ---- drawing --------------------------------------------------------------------------------

/** How many of the latest latencies a chart shows. */
export const CHART_POINTS = 60;
const WIDTH = 300;
/** Where the newest point sits: inside the edge, so its dot shows whole. */
const RIGHT = WIDTH - 3;
const HEIGHT = 70;
/** Room at the top of a chart for its scale label. */
const TOP = 12;

/** One y scale for every pane's chart, so their lines compare at a glance: a round number of ms. */
export function scaleFor(latencyLists: readonly (readonly number[])[]): number {
  let highest = 5;
  for (const latencies of latencyLists) {
    for (const ms of latencies.slice(-CHART_POINTS)) highest = Math.max(highest, ms);
  }
  for (let unit = 1; ; unit *= 10) {
    for (const step of [1, 2, 5]) if (step * unit >= highest) return step * unit;
  }
}

/** The polyline of the latest latencies, newest at the right edge, on the shared scale. */
export function chartPoints(latencies: readonly number[], scale: number): string {
  const shown = latencies.slice(-CHART_POINTS);
  const step = RIGHT / (CHART_POINTS - 1);
  return shown
    .map((ms, i) => `${(RIGHT - (shown.length - 1 - i) * step).toFixed(1)},${chartY(ms, scale)}`)
    .join(' ');
}

/** Redraws a pane's chart: its line, the newest point, the half-scale grid line, the label. */
export function drawChart(
  chart: SVGSVGElement | null,
  latencies: readonly number[],
  scale: number,
) {
  if (!chart) return;
  chart.querySelector('polyline')?.setAttribute('points', chartPoints(latencies, scale));
  const newest = latencies.at(-1);
  const dot = chart.querySelector('circle.latency-dot');
  dot?.setAttribute('cx', String(RIGHT));
  dot?.setAttribute('cy', newest === undefined ? '-10' : chartY(newest, scale));
  const grid = chart.querySelector('line.grid');
  grid?.setAttribute('y1', chartY(scale / 2, scale));
  grid?.setAttribute('y2', chartY(scale / 2, scale));
  const label = chart.querySelector('text.chart-max');
  if (label) label.textContent = `${scale} ms`;
}

export function chartY(ms: number, scale: number): string {
  return (HEIGHT - (Math.min(ms, scale) / scale) * (HEIGHT - TOP)).toFixed(1);
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The charts, as standalone SVG (no script, no external font or file): grouped bars, one group
 * per transport, lab in blue and the bare baseline in grey.
 */
import type { ScenarioName } from './options.ts';
import type { BenchResults } from './summary.ts';
import type { Measurement } from './window.ts';

interface Bar {
  label: string;
  value: number | null | undefined;
  color: string;
}

interface Chart {
  title: string;
  unit: string;
  groups: { label: string; bars: Bar[] }[];
  /** A logarithmic axis, for figures that span orders of magnitude (latency). */
  log?: boolean;
}

const WIDTH = 760;
const HEIGHT = 380;
const LEFT = 72;
const RIGHT = 16;
const TOP = 56;
const BOTTOM = 44;
const LAB = ['#9ecae1', '#4292c6', '#08519c'];
const BARE = ['#d9d9d9', '#969696', '#525252'];

export function charts(results: BenchResults): Record<string, string> {
  const pick = (
    scenario: ScenarioName,
    variant: 'lab' | 'bare',
    read: (m: Measurement) => number | null | undefined,
  ) =>
    results.transports.map((t) => {
      const m = results.results[scenario]?.[t]?.[variant];
      return m ? read(m) : null;
    });
  const groups = (
    series: { label: string; color: string; values: (number | null | undefined)[] }[],
  ) =>
    results.transports.map((transport, i) => ({
      label: transport,
      bars: series.map((s) => ({ label: s.label, color: s.color, value: s.values[i] })),
    }));
  const out: Record<string, string> = {};
  const latencyChart = (scenario: ScenarioName, file: string) => {
    if (!results.scenarios.includes(scenario)) return;
    out[file] = barChart({
      title: `${scenario}: delivery latency (scheduled send to arrival)`,
      unit: 'ms',
      log: true,
      groups: groups([
        { label: 'lab p50', color: LAB[0]!, values: pick(scenario, 'lab', (m) => m.latency?.p50) },
        { label: 'lab p99', color: LAB[1]!, values: pick(scenario, 'lab', (m) => m.latency?.p99) },
        {
          label: 'bare p50',
          color: BARE[0]!,
          values: pick(scenario, 'bare', (m) => m.latency?.p50),
        },
        {
          label: 'bare p99',
          color: BARE[1]!,
          values: pick(scenario, 'bare', (m) => m.latency?.p99),
        },
      ]),
    });
  };
  latencyChart('fanout', 'fanout-latency.svg');
  latencyChart('latency', 'latency.svg');
  if (results.scenarios.includes('capacity')) {
    out['capacity.svg'] = barChart({
      title: 'capacity: delivered msg/s at p99 ≤ 100 ms, no loss; and the server ceiling',
      unit: 'msg/s',
      log: true,
      groups: groups([
        {
          label: 'lab',
          color: LAB[1]!,
          values: pick('capacity', 'lab', (m) => m.capacity?.deliveredPerS),
        },
        {
          label: 'lab ceiling',
          color: LAB[0]!,
          values: pick('capacity', 'lab', (m) => m.capacity?.ceilingPerS),
        },
        {
          label: 'bare',
          color: BARE[1]!,
          values: pick('capacity', 'bare', (m) => m.capacity?.deliveredPerS),
        },
        {
          label: 'bare ceiling',
          color: BARE[0]!,
          values: pick('capacity', 'bare', (m) => m.capacity?.ceilingPerS),
        },
      ]),
    });
  }
  const bytesFrom = results.scenarios.includes('fanout')
    ? 'fanout'
    : results.scenarios.find((s) => s !== 'idle' && s !== 'send' && s !== 'capacity');
  // Up bytes from `send`: thousands of sends on few connections, so heartbeats (a pong from each
  // of a thousand sockets) do not weigh in as they do in a short fanout window.
  const upFrom = results.scenarios.includes('send') ? 'send' : bytesFrom;
  if (bytesFrom && upFrom) {
    out['bytes.svg'] = barChart({
      title: `bytes on the wire per delivered message (down, ${bytesFrom}) and per sent message (up, ${upFrom})`,
      unit: 'bytes',
      groups: groups([
        {
          label: 'lab down',
          color: LAB[1]!,
          values: pick(bytesFrom, 'lab', (m) => m.bytesDownPerDelivered),
        },
        {
          label: 'bare down',
          color: BARE[1]!,
          values: pick(bytesFrom, 'bare', (m) => m.bytesDownPerDelivered),
        },
        {
          label: 'lab up',
          color: LAB[0]!,
          values: pick(upFrom, 'lab', (m) => m.bytesUpPerSent),
        },
        {
          label: 'bare up',
          color: BARE[0]!,
          values: pick(upFrom, 'bare', (m) => m.bytesUpPerSent),
        },
      ]),
    });
  }
  if (results.scenarios.includes('idle')) {
    out['memory.svg'] = barChart({
      title: 'idle: server memory per open connection (live heap after a full GC)',
      unit: 'KiB',
      groups: groups([
        {
          label: 'lab',
          color: LAB[1]!,
          values: pick('idle', 'lab', (m) => (m.idle ? m.idle.heapPerConnection / 1024 : null)),
        },
        {
          label: 'bare',
          color: BARE[1]!,
          values: pick('idle', 'bare', (m) => (m.idle ? m.idle.heapPerConnection / 1024 : null)),
        },
      ]),
    });
  }
  return out;
}

export function barChart(chart: Chart): string {
  const values = chart.groups
    .flatMap((g) => g.bars.map((b) => b.value))
    .filter((v): v is number => typeof v === 'number' && v > 0);
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const top = values.length ? Math.max(...values) : 1;
  let y: (v: number) => number;
  let ticks: number[];
  if (chart.log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...(values.length ? values : [1])) / 2));
    const hi = 10 ** Math.ceil(Math.log10(top * 1.01));
    ticks = [];
    for (let t = lo; t <= hi * 1.001; t *= 10) ticks.push(t);
    y = (v) =>
      TOP +
      plotH -
      ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) *
        plotH;
  } else {
    const step = niceStep(top / 5);
    const hi = Math.ceil(top / step) * step || 1;
    ticks = [];
    for (let t = 0; t <= hi + step / 2; t += step) ticks.push(t);
    y = (v) => TOP + plotH - (v / hi) * plotH;
  }
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${LEFT}" y="20" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${ty}" y2="${ty}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${TOP + plotH / 2}" transform="rotate(-90 14 ${TOP + plotH / 2})" text-anchor="middle">${escapeXml(chart.unit)}${chart.log ? ' (log)' : ''}</text>`,
  );
  const groupW = plotW / Math.max(1, chart.groups.length);
  chart.groups.forEach((group, g) => {
    const barW = (groupW * 0.8) / Math.max(1, group.bars.length);
    group.bars.forEach((bar, b) => {
      const x = LEFT + g * groupW + groupW * 0.1 + b * barW;
      if (typeof bar.value !== 'number' || bar.value <= 0) {
        parts.push(
          `<text x="${(x + barW / 2).toFixed(1)}" y="${TOP + plotH - 4}" text-anchor="middle" fill="#999">–</text>`,
        );
        return;
      }
      const by = y(bar.value);
      parts.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(TOP + plotH - by).toFixed(1)}" fill="${bar.color}"><title>${escapeXml(`${group.label} ${bar.label}: ${label(bar.value)} ${chart.unit}`)}</title></rect>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="10">${label(bar.value)}</text>`,
      );
    });
    parts.push(
      `<text x="${(LEFT + g * groupW + groupW / 2).toFixed(1)}" y="${HEIGHT - BOTTOM + 18}" text-anchor="middle" font-size="13">${escapeXml(group.label)}</text>`,
    );
  });
  parts.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}" stroke="#333"/>`,
  );
  const legend = chart.groups[0]?.bars ?? [];
  legend.forEach((bar, i) => {
    const x = LEFT + i * 110;
    parts.push(
      `<rect x="${x}" y="32" width="12" height="12" fill="${bar.color}"/>`,
      `<text x="${x + 16}" y="42">${escapeXml(bar.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const n = raw / power;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * power;
}

function label(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (v >= 100) return String(Math.round(v));
  return String(+v.toPrecision(v >= 1 ? 3 : 2));
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

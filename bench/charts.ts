/**
 * The charts, as standalone SVG (no script, no external font or file): grouped bars, one group
 * per transport, lab in blue and the bare baseline in grey.
 */
import type { PairedScenario } from './options.ts';
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
  type Read = (m: Measurement) => number | null | undefined;
  /** One bar of every group: the lab's or the bare server's figure `read` of `scenario`. */
  const series = (
    variant: 'lab' | 'bare',
    name: string,
    shade: number,
    scenario: PairedScenario,
    read: Read,
  ) => ({
    label: name ? `${variant} ${name}` : variant,
    color: (variant === 'lab' ? LAB : BARE)[shade]!,
    values: results.transports.map((t) => {
      const m = results.results[scenario]?.[t]?.[variant];
      return m ? read(m) : null;
    }),
  });
  const groups = (all: ReturnType<typeof series>[]) =>
    results.transports.map((transport, i) => ({
      label: transport,
      bars: all.map((s) => ({ label: s.label, color: s.color, value: s.values[i] })),
    }));
  const out: Record<string, string> = {};
  const latencyChart = (scenario: PairedScenario, file: string) => {
    if (!results.scenarios.includes(scenario)) return;
    const p50: Read = (m) => m.latency?.p50;
    const p99: Read = (m) => m.latency?.p99;
    out[file] = barChart({
      title: `${scenario}: delivery latency (scheduled send to arrival)`,
      unit: 'ms',
      log: true,
      groups: groups([
        series('lab', 'p50', 0, scenario, p50),
        series('lab', 'p99', 1, scenario, p99),
        series('bare', 'p50', 0, scenario, p50),
        series('bare', 'p99', 1, scenario, p99),
      ]),
    });
  };
  latencyChart('fanout', 'fanout-latency.svg');
  latencyChart('latency', 'latency.svg');
  if (results.scenarios.includes('capacity')) {
    const delivered: Read = (m) => m.capacity?.deliveredPerS;
    const ceiling: Read = (m) => m.capacity?.ceilingPerS;
    out['capacity.svg'] = barChart({
      title: 'capacity: delivered msg/s at p99 ≤ 100 ms, no loss; and the server ceiling',
      unit: 'msg/s',
      log: true,
      groups: groups([
        series('lab', '', 1, 'capacity', delivered),
        series('lab', 'ceiling', 0, 'capacity', ceiling),
        series('bare', '', 1, 'capacity', delivered),
        series('bare', 'ceiling', 0, 'capacity', ceiling),
      ]),
    });
  }
  const bytesFrom = results.scenarios.includes('fanout')
    ? 'fanout'
    : results.scenarios.find(
        (s): s is PairedScenario =>
          s !== 'idle' && s !== 'send' && s !== 'capacity' && s !== 'cluster',
      );
  // Up bytes from `send`: thousands of sends on few connections, so heartbeats (a pong from each
  // of a thousand sockets) do not weigh in as they do in a short fanout window.
  const upFrom = results.scenarios.includes('send') ? 'send' : bytesFrom;
  if (bytesFrom && upFrom) {
    const down: Read = (m) => m.bytesDownPerDelivered;
    const up: Read = (m) => m.bytesUpPerSent;
    out['bytes.svg'] = barChart({
      title: `bytes on the wire per delivered message (down, ${bytesFrom}) and per sent message (up, ${upFrom})`,
      unit: 'bytes',
      groups: groups([
        series('lab', 'down', 1, bytesFrom, down),
        series('bare', 'down', 1, bytesFrom, down),
        series('lab', 'up', 0, upFrom, up),
        series('bare', 'up', 0, upFrom, up),
      ]),
    });
  }
  if (results.scenarios.includes('idle')) {
    const heap: Read = (m) => (m.idle?.heapPerConnection ? m.idle.heapPerConnection / 1024 : null);
    out['memory.svg'] = barChart({
      title: 'idle: server memory per open connection (live heap after a full GC)',
      unit: 'KiB',
      groups: groups([series('lab', '', 1, 'idle', heap), series('bare', '', 1, 'idle', heap)]),
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

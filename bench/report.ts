/**
 * The report: one table per scenario (rows: each transport's lab, bare and lab÷bare), as text for
 * the terminal and as Markdown for latest.md; the files of bench/results.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransportName } from '../core/model.ts';
import { charts } from './charts.ts';
import { html } from './html.ts';
import { idleWindowMs } from './idle.ts';
import { ratio } from './metrics.ts';
import type { ScenarioName } from './scenarios.ts';
import { type BenchResults, FAIR_CAPACITY, FAIR_P99 } from './summary.ts';
import type { Measurement } from './window.ts';

interface Column {
  title: string;
  value(m: Measurement): number | null | undefined;
  digits?: number;
  /** Shown as lab / bare in the ratio row. */
  ratio?: boolean;
  /** Text instead of a number (no ratio). */
  text?(m: Measurement): string;
}

const lat = (title: string, pick: (m: Measurement) => number | undefined): Column => ({
  title,
  value: pick,
  digits: 1,
  ratio: true,
});

const DELIVERY: Column[] = [
  lat('p50 ms', (m) => m.latency?.p50),
  lat('p95 ms', (m) => m.latency?.p95),
  lat('p99 ms', (m) => m.latency?.p99),
  lat('max ms', (m) => m.latency?.max),
  { title: 'deliv/s', value: (m) => m.deliveredPerS, ratio: true },
  {
    title: 'lost/dup/ooo',
    value: () => null,
    text: (m) => `${m.lost}/${m.duplicates}/${m.outOfOrder}`,
  },
  { title: 'CPU ms/1k', value: (m) => m.cpuMsPer1000, digits: 1, ratio: true },
  { title: 'CPU %', value: (m) => m.cpuPercent, ratio: true },
  { title: 'B down/msg', value: (m) => m.bytesDownPerDelivered, ratio: true },
  { title: 'B up/msg', value: (m) => m.bytesUpPerSent, ratio: true },
  { title: 'req/msg', value: (m) => m.requestsPerDelivered, digits: 3, ratio: true },
  { title: 'load %', value: (m) => m.loadCpuPercent },
];

export const COLUMNS: Record<ScenarioName, Column[]> = {
  idle: [
    { title: 'connections', value: (m) => m.idle?.connections, digits: 0 },
    {
      title: 'heap KiB/conn',
      value: (m) => (m.idle ? m.idle.heapPerConnection / 1024 : null),
      digits: 1,
      ratio: true,
    },
    {
      title: 'RSS KiB/conn',
      value: (m) => (m.idle ? m.idle.rssPerConnection / 1024 : null),
      digits: 1,
    },
    { title: 'CPU %', value: (m) => m.idle?.cpuPercent, digits: 2, ratio: true },
    { title: 'req/s', value: (m) => m.idle?.requestsPerS, digits: 1, ratio: true },
    { title: 'B/s', value: (m) => m.idle?.bytesPerS, ratio: true },
    { title: 'RSS MiB', value: (m) => m.rssBytes / 2 ** 20, ratio: true },
  ],
  latency: DELIVERY,
  fanout: DELIVERY,
  rooms: DELIVERY,
  send: [
    { title: 'sends/s', value: (m) => m.sendsPerS, ratio: true },
    lat('ack p50 ms', (m) => m.ack?.p50),
    lat('ack p99 ms', (m) => m.ack?.p99),
    {
      title: 'lost/dup/ooo',
      value: () => null,
      text: (m) => `${m.lost}/${m.duplicates}/${m.outOfOrder}`,
    },
    { title: 'errors', value: (m) => m.sendErrors, digits: 0 },
    { title: 'CPU %', value: (m) => m.cpuPercent, ratio: true },
    { title: 'B up/msg', value: (m) => m.bytesUpPerSent, ratio: true },
    { title: 'load %', value: (m) => m.loadCpuPercent },
  ],
  capacity: [
    { title: 'msgs/s', value: (m) => m.capacity?.ratePerS, ratio: true },
    { title: 'deliv/s', value: (m) => m.capacity?.deliveredPerS, ratio: true },
    lat('p99 ms', (m) => m.latency?.p99),
    { title: 'CPU %', value: (m) => m.cpuPercent },
    { title: 'CPU ms/1k', value: (m) => m.cpuMsPer1000, digits: 1, ratio: true },
    { title: 'ceiling/s', value: (m) => m.capacity?.ceilingPerS, ratio: true },
    { title: 'steps', value: (m) => m.capacity?.steps.length, digits: 0 },
    { title: 'load-bound', value: () => null, text: (m) => (m.capacity?.loadBound ? 'yes' : 'no') },
  ],
};

export function describeScenario(name: ScenarioName, results: BenchResults): string {
  const s = results.sizes;
  const seconds = (ms: number) => `${ms / 1000} s`;
  switch (name) {
    case 'idle':
      return `${s.idle.connections} connections in rooms of ${s.idle.usersPerRoom}, nobody chatting, over ${
        s.idle.windowMs === null
          ? `one heartbeat period of each transport (${results.transports.map((t) => `${t} ${seconds(idleWindowMs(s, t))}`).join(', ')})`
          : `${seconds(s.idle.windowMs)}`
      }`;
    case 'latency':
      return `1 room, ${s.latency.users} users, ${s.latency.rate} msg/s, ${seconds(s.durationMs)}`;
    case 'fanout':
      return `1 room, ${s.fanout.users} users, ${s.fanout.rate} msg/s, ${seconds(s.durationMs)}`;
    case 'rooms':
      return `${s.rooms.rooms} rooms of ${s.rooms.users} users, ${s.rooms.rate} msg/s each, ${seconds(s.durationMs)}`;
    case 'send':
      return `the way up at full speed for ${seconds(s.durationMs)}: autocannon (${s.send.connections} connections) on POST /room/:id/chat for polling and SSE; ${s.senders} clients sending on acknowledgement for ws and Socket.IO`;
    case 'capacity':
      return `1 room, ${s.capacity.users} users, rate ×${s.capacity.factor} per ${seconds(s.capacity.stepMs)} step from ${s.capacity.startRate} msg/s until p99 > ${s.capacity.p99LimitMs} ms or a loss`;
  }
}

/** Rows of one scenario's table: a header, then lab, bare and lab÷bare per transport. */
export function tableRows(name: ScenarioName, results: BenchResults): string[][] {
  const columns = COLUMNS[name];
  const rows = [['transport', '', ...columns.map((c) => c.title)]];
  for (const transport of results.transports) {
    const entry = results.results[name]?.[transport];
    const cells = (m: Measurement | null | undefined) =>
      columns.map((c) => (!m ? '-' : c.text ? c.text(m) : format(c.value(m), c.digits)));
    rows.push([transport, 'lab', ...cells(entry?.lab)]);
    rows.push(['', 'bare', ...cells(entry?.bare)]);
    rows.push([
      '',
      'lab÷bare',
      ...columns.map((c) => {
        if (!c.ratio || !entry?.lab || !entry.bare) return '';
        const r = ratio(c.value(entry.lab), c.value(entry.bare));
        return r === null ? '' : `${r.toFixed(2)}×`;
      }),
    ]);
  }
  return rows;
}

export function format(n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '-';
  if (digits !== undefined) return n.toFixed(digits);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('  '),
    )
    .join('\n');
}

/** Numbers right-aligned after the first two columns, unless the table is `text`. */
function markdownTable(rows: string[][], text = false): string {
  const [head, ...body] = rows;
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  const align = head!.map((_, i) => (text || i < 2 ? '---' : '---:'));
  return [line(head!), line(align), ...body.map(line)].join('\n');
}

export function fairnessRows(results: BenchResults): string[][] {
  const rows = [
    ['transport', 'capacity lab÷bare', 'basis', 'fanout p99 lab÷bare', 'verdict', 'why'],
  ];
  for (const transport of results.transports) {
    const f = results.fairness[transport];
    const x = (n: number | null | undefined) => (n == null ? '-' : `${n.toFixed(2)}×`);
    const verdict = f?.pass == null ? 'not measured' : f.pass ? 'fair' : 'NOT fair';
    rows.push([
      transport,
      x(f?.capacityRatio),
      f?.capacityBasis ?? '-',
      x(f?.fanoutP99Ratio),
      verdict,
      f?.why.join('; ') ?? '',
    ]);
  }
  return rows;
}

export function terminalReport(results: BenchResults): string {
  const parts = results.scenarios.map(
    (name) => `${name}: ${describeScenario(name, results)}\n${textTable(tableRows(name, results))}`,
  );
  parts.push(
    `fairness (lab ≥ ${FAIR_CAPACITY}× bare capacity, ≤ ${FAIR_P99}× bare fanout p99)` +
      `${results.quick ? ', not to be judged at --quick sizes' : ''}:\n` +
      textTable(fairnessRows(results).map((row) => row.slice(0, 5))),
  );
  return parts.join('\n\n');
}

export function markdownReport(results: BenchResults, chartFiles: string[]): string {
  const lines = [
    `# Bench results, ${results.date.slice(0, 10)}${results.quick ? ' (--quick: a smoke test, not a measurement)' : ''}`,
    '',
    `\`${results.command}\` took ${Math.round(results.wallS)} s on ${results.machine.cpuModel} ` +
      `(${results.machine.cores} cores, ${results.machine.os}), Node ${results.node}; ${results.pinning}. ` +
      `${results.runs} run(s), median shown. Every row compares the lab's server (\`--store memory\`, limits off: \`--limits off\`) ` +
      `with a bare baseline of the same library (bench/baselines), driven by the same clients; ` +
      'bench/README.md says what each column means.',
    '',
    ...chartFiles.map((file) => `![${file}](${file})`),
    '',
    `## Fairness: lab ≥ ${FAIR_CAPACITY}× bare capacity and ≤ ${FAIR_P99}× bare p99 in fanout`,
    '',
    markdownTable(fairnessRows(results), true),
  ];
  for (const name of results.scenarios) {
    lines.push(
      '',
      `## ${name}`,
      '',
      describeScenario(name, results),
      '',
      markdownTable(tableRows(name, results)),
    );
  }
  if (results.problems.length > 0) {
    lines.push('', '## Problems', '', ...results.problems.map((p) => `- ${p}`));
  }
  if (results.notes.length > 0)
    lines.push('', '## Notes', '', ...results.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

/** Writes latest.json, latest.md, latest.html and the charts (one SVG file each) into `dir`. */
export async function writeResults(dir: string, results: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const svgs = charts(results);
  const files: string[] = [];
  for (const [name, svg] of Object.entries(svgs)) {
    await writeFile(join(dir, name), svg);
    files.push(name);
  }
  await writeFile(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(dir, 'latest.md'), markdownReport(results, files));
  await writeFile(join(dir, 'latest.html'), html(results, svgs));
  return ['latest.json', 'latest.md', 'latest.html', ...files].map((file) => join(dir, file));
}

export type { TransportName };

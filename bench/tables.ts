/**
 * The rows of the report's tables, one table per scenario (each transport's lab, bare and
 * lab÷bare) and the fairness verdicts: shared by the text and Markdown report and the HTML page.
 */
import { idleWindowMs } from './idle.ts';
import { ratio } from './metrics.ts';
import { CLUSTER_SETUPS, type PairedScenario, type ScenarioName, SETUP_LABELS } from './options.ts';
import type { BenchResults } from './summary.ts';
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

export const COLUMNS: Record<PairedScenario, Column[]> = {
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
    case 'cluster':
      return (
        `1 room, ${s.cluster.users} users, ${s.cluster.rate} msg/s, ${seconds(s.durationMs)}, in three setups of the lab's server: ` +
        '(a) one process (--store memory), (b) one process on Redis (--store redis), (c) two processes on the same Redis, ' +
        'the subscribers split evenly between them and the posts alternating. CPU per delivery counts the server processes ' +
        'and redis-server (its INFO cpu: used_cpu_user + used_cpu_sys). This is a cost measurement, not a speed-up: on this ' +
        `${results.machine.cores}-core machine ${
          results.pinned
            ? "the server processes and redis-server share the server's one core (the load generators have another)"
            : `the server processes, redis-server and the load generators share the ${results.machine.cores} cores`
        }: a second process adds no CPU to spend, and (c) over (a) is what spreading one room over processes through Redis costs per delivery, not what it gains.`
      );
  }
}

/** Rows of one scenario's table: a header, then lab, bare and lab÷bare per transport (cluster: its setups). */
export function tableRows(name: ScenarioName, results: BenchResults): string[][] {
  if (name === 'cluster') return clusterRows(results);
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

/** `cluster`: a row per setup, with its CPU per delivery over setup (a)'s. */
function clusterRows(results: BenchResults): string[][] {
  const rows = [
    [
      'transport',
      'setup',
      'deliv/s',
      'p50 ms',
      'p99 ms',
      'lost/dup/ooo',
      'server µs/deliv',
      'Redis µs/deliv',
      'CPU µs/deliv',
      'CPU ÷ (a)',
      'CPU %',
      'load %',
    ],
  ];
  for (const transport of results.transports) {
    const entry = results.results.cluster?.[transport];
    for (const [i, setup] of CLUSTER_SETUPS.entries()) {
      const m = entry?.setups[setup];
      const over = setup === 'oneMemory' ? undefined : entry?.ratios[setup];
      rows.push([
        i === 0 ? transport : '',
        SETUP_LABELS[setup],
        ...(!m
          ? Array.from({ length: 10 }, () => '-')
          : [
              format(m.deliveredPerS),
              format(m.latency?.p50, 1),
              format(m.latency?.p99, 1),
              `${m.lost}/${m.duplicates}/${m.outOfOrder}`,
              format(m.cpuMsPer1000, 1),
              format(m.cluster?.redisCpuMsPer1000, 1),
              format(m.cluster?.totalCpuMsPer1000, 1),
              over == null ? '' : `${over.toFixed(2)}×`,
              format(m.cluster?.totalCpuPercent),
              format(m.loadCpuPercent),
            ]),
      ]);
    }
  }
  return rows;
}

export function format(n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '-';
  if (digits !== undefined) return n.toFixed(digits);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
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

/**
 * The rows of the report's tables, one table per scenario (each transport's lab, bare and
 * lab÷bare) and the fairness verdicts: shared by the text and Markdown report and the HTML page.
 */
import { COLUMNS, reading } from './columns.ts';
import { idleWindowMs } from './idle.ts';
import { CLUSTER_SETUPS, type ScenarioName, SETUP_LABELS } from './options.ts';
import { formatRatio } from './spread.ts';
import type { BenchResults } from './summary.ts';
import type { Measurement } from './window.ts';

/** What a cell shows for a figure below what its measurement resolves. */
export const TOO_SMALL = 'too small';

export function describeScenario(name: ScenarioName, results: BenchResults): string {
  const s = results.sizes;
  const turns =
    name === 'latency' || name === 'fanout' || name === 'rooms' || name === 'send'
      ? `; lab and bare in ${s.rounds} interleaved round(s) of ${s.durationMs / s.rounds / 1000} s`
      : name === 'capacity'
        ? `; lab and bare step in turn, then ${s.capacity.rounds} interleaved round(s) of ${s.capacity.compareMs / 1000} s each at the highest doubling rate both passed`
        : '';
  return describeOne(name, results) + turns;
}

function describeOne(name: ScenarioName, results: BenchResults): string {
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

/**
 * Rows of one scenario's table: a header, then lab, bare and lab÷bare per transport (cluster: its
 * setups). A ratio cell is the median over the repeats and its spread, `0.94× (0.91–0.97)`, or `—`
 * (tableNotes says why); a figure below what its measurement resolves is `too small`.
 */
export function tableRows(name: ScenarioName, results: BenchResults): string[][] {
  if (name === 'cluster') return clusterRows(results);
  const columns = COLUMNS[name];
  const rows = [['transport', '', ...columns.map((c) => c.title)]];
  for (const transport of results.transports) {
    const entry = results.results[name]?.[transport];
    const cells = (m: Measurement | null | undefined) =>
      columns.map((c) => {
        if (!m) return '-';
        if (c.text) return c.text(m);
        const { value, tooSmall } = reading(c, m);
        return tooSmall ? TOO_SMALL : format(value, c.digits);
      });
    rows.push([transport, 'lab', ...cells(entry?.lab)]);
    rows.push(['', 'bare', ...cells(entry?.bare)]);
    rows.push([
      '',
      'lab÷bare',
      ...columns.map((c) => (!c.key || !entry ? '' : formatRatio(entry.ratios[c.key]))),
    ]);
  }
  return rows;
}

/**
 * Why each `too small` and `—` of a scenario's table is one: a line per figure too small to
 * measure (which columns it hides), and a line per other reason a ratio is missing (which
 * transports); a ratio missing for a figure too small is said once, by the figure's line.
 */
export function tableNotes(name: ScenarioName, results: BenchResults): string[] {
  const lines: string[] = [];
  const others = new Map<string, string[]>();
  const other = (line: string, transport: string) => {
    others.set(line, [...(others.get(line) ?? []), transport]);
  };
  if (name === 'cluster') {
    for (const transport of results.transports) {
      const entry = results.results.cluster?.[transport];
      for (const setup of ['oneRedis', 'twoRedis'] as const) {
        const figure = entry?.ratios[setup];
        if (entry?.setups[setup] && figure?.value === null) {
          other(`— CPU ÷ (a) of ${SETUP_LABELS[setup]}: ${figure.why}`, transport);
        }
      }
    }
  } else {
    const columns = COLUMNS[name];
    for (const transport of results.transports) {
      const entry = results.results[name]?.[transport];
      if (!entry) continue;
      for (const variant of ['lab', 'bare'] as const) {
        for (const [kind, reason] of Object.entries(entry[variant]?.tooSmall ?? {})) {
          const hidden = columns.filter((c) => c.needs === kind).map((c) => c.title);
          if (hidden.length > 0) {
            lines.push(`${transport} ${variant}: ${reason}; not shown: ${hidden.join(', ')}`);
          }
        }
      }
      for (const c of columns) {
        const figure = c.key ? entry.ratios[c.key] : undefined;
        if (!figure || figure.value !== null || !entry.lab || !entry.bare) continue;
        if (/^(lab|bare) /.test(figure.why)) continue;
        other(`— ${c.title} lab÷bare: ${figure.why}`, transport);
      }
    }
  }
  return [
    ...lines,
    ...[...others].map(([line, transports]) => `${transports.join(', ')}: ${line}`),
  ];
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
              over ? formatRatio(over) : '',
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
    const verdict = f?.pass == null ? 'not measured' : f.pass ? 'fair' : 'NOT fair';
    rows.push([
      transport,
      formatRatio(f?.capacityRatio),
      f?.capacityBasis ?? '-',
      formatRatio(f?.fanoutP99Ratio),
      verdict,
      f?.why.join('; ') ?? '',
    ]);
  }
  return rows;
}

/**
 * The columns of each scenario's table: how each figure reads from a `Measurement`, and for those
 * with a lab÷bare ratio, the ratio's name in latest.json. Shared by the summary (the ratios and
 * their spreads) and the tables (the cells).
 */
import type { PairedScenario } from './options.ts';
import type { Measurement } from './window.ts';

export interface Column {
  title: string;
  value(m: Measurement): number | null | undefined;
  digits?: number;
  /** The ratio's name in latest.json (`results.<scenario>.<transport>.ratios`); none: no ratio. */
  key?: string;
  /** Which of the measurement's `tooSmall` reasons keeps this figure from being shown. */
  needs?: keyof NonNullable<Measurement['tooSmall']>;
  /** Text instead of a number (no ratio). */
  text?(m: Measurement): string;
}

const lat = (title: string, key: string, pick: (m: Measurement) => number | undefined): Column => ({
  title,
  key,
  value: pick,
  digits: 1,
});

const DELIVERY: Column[] = [
  lat('p50 ms', 'p50', (m) => m.latency?.p50),
  lat('p95 ms', 'p95', (m) => m.latency?.p95),
  lat('p99 ms', 'p99', (m) => m.latency?.p99),
  lat('max ms', 'max', (m) => m.latency?.max),
  { title: 'deliv/s', key: 'deliveredPerS', value: (m) => m.deliveredPerS },
  {
    title: 'lost/dup/ooo',
    value: () => null,
    text: (m) => `${m.lost}/${m.duplicates}/${m.outOfOrder}`,
  },
  {
    title: 'CPU ms/1k',
    key: 'cpuMsPer1000',
    value: (m) => m.cpuMsPer1000,
    digits: 1,
    needs: 'cpu',
  },
  { title: 'CPU %', key: 'cpuPercent', value: (m) => m.cpuPercent, needs: 'cpu' },
  { title: 'B down/msg', key: 'bytesDownPerDelivered', value: (m) => m.bytesDownPerDelivered },
  { title: 'B up/msg', key: 'bytesUpPerSent', value: (m) => m.bytesUpPerSent },
  {
    title: 'req/msg',
    key: 'requestsPerDelivered',
    value: (m) => m.requestsPerDelivered,
    digits: 3,
  },
  { title: 'load %', value: (m) => m.loadCpuPercent },
];

export const COLUMNS: Record<PairedScenario, Column[]> = {
  idle: [
    { title: 'connections', value: (m) => m.idle?.connections, digits: 0 },
    {
      title: 'heap KiB/conn',
      key: 'heapPerConnection',
      value: (m) => kib(m.idle?.heapPerConnection),
      digits: 1,
      needs: 'heap',
    },
    {
      title: 'RSS KiB/conn',
      value: (m) => kib(m.idle?.rssPerConnection),
      digits: 1,
      needs: 'rss',
    },
    {
      title: 'CPU %',
      key: 'cpuPercent',
      value: (m) => m.idle?.cpuPercent,
      digits: 2,
      needs: 'cpu',
    },
    { title: 'req/s', key: 'requestsPerS', value: (m) => m.idle?.requestsPerS, digits: 1 },
    { title: 'B/s', key: 'bytesPerS', value: (m) => m.idle?.bytesPerS },
    { title: 'RSS MiB', key: 'rssBytes', value: (m) => m.rssBytes / 2 ** 20 },
  ],
  latency: DELIVERY,
  fanout: DELIVERY,
  rooms: DELIVERY,
  send: [
    { title: 'sends/s', key: 'sendsPerS', value: (m) => m.sendsPerS },
    lat('ack p50 ms', 'ackP50', (m) => m.ack?.p50),
    lat('ack p99 ms', 'ackP99', (m) => m.ack?.p99),
    {
      title: 'lost/dup/ooo',
      value: () => null,
      text: (m) => `${m.lost}/${m.duplicates}/${m.outOfOrder}`,
    },
    { title: 'errors', value: (m) => m.sendErrors, digits: 0 },
    { title: 'CPU %', key: 'cpuPercent', value: (m) => m.cpuPercent, needs: 'cpu' },
    { title: 'B up/msg', key: 'bytesUpPerSent', value: (m) => m.bytesUpPerSent },
    { title: 'load %', value: (m) => m.loadCpuPercent },
  ],
  capacity: [
    { title: 'msgs/s', key: 'ratePerS', value: (m) => m.capacity?.ratePerS },
    { title: 'deliv/s', key: 'capacity', value: (m) => m.capacity?.deliveredPerS },
    lat('p99 ms', 'p99', (m) => m.latency?.p99),
    { title: 'CPU %', value: (m) => m.cpuPercent, needs: 'cpu' },
    {
      title: 'CPU ms/1k',
      key: 'cpuMsPer1000',
      value: (m) => m.cpuMsPer1000,
      digits: 1,
      needs: 'cpu',
    },
    { title: 'ceiling/s', key: 'ceiling', value: (m) => m.capacity?.ceilingPerS, needs: 'cpu' },
    { title: 'steps', value: (m) => m.capacity?.steps.length, digits: 0 },
    { title: 'load-bound', value: () => null, text: (m) => (m.capacity?.loadBound ? 'yes' : 'no') },
  ],
};

function kib(bytes: number | null | undefined) {
  return bytes == null ? null : bytes / 1024;
}

/** A column's figure of one measurement, with the reason it is too small to show. */
export function reading(column: Column, m: Measurement) {
  return {
    value: column.value(m),
    tooSmall: column.needs ? m.tooSmall?.[column.needs] : undefined,
  };
}

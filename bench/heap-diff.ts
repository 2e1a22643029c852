/**
 * What a heap holds more of in one snapshot than in another, by kind and constructor name: run
 * the idle scenario with BENCH_HEAP=dir, then compare a server's second and third snapshot (after
 * the first half of the connections and after the second half) and divide by the connections
 * added: `tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [connections]`.
 * A diagnostic for the idle figures (bench/README.md), not part of any report.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

function groups(path: string): Map<string, Group> {
  const heap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const types = heap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const found = new Map<string, Group>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    let name = heap.strings[heap.nodes[i + nameAt]!] ?? '';
    // Strings and numbers are named by their value: group them by kind alone.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'number' || type === 'bigint') name = '';
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type} ${name}`;
    const group = found.get(key) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += heap.nodes[i + sizeAt]!;
    found.set(key, group);
  }
  return found;
}

const [beforePath, afterPath, per = '1'] = process.argv.slice(2);
if (!beforePath || !afterPath) {
  process.stderr.write(
    'usage: tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [connections]\n',
  );
  process.exit(2);
}
const connections = Number(per);
const before = groups(beforePath);
const after = groups(afterPath);
const rows = [...after].map(([key, group]) => {
  const old = before.get(key) ?? { count: 0, bytes: 0 };
  return {
    key,
    count: (group.count - old.count) / connections,
    bytes: (group.bytes - old.bytes) / connections,
  };
});
rows.sort((a, b) => b.bytes - a.bytes);
const total = rows.reduce((sum, row) => sum + row.bytes, 0);
process.stdout.write(`per connection: ${(total / 1024).toFixed(2)} KiB\n`);
process.stdout.write('  bytes   count  kind and name\n');
for (const row of rows.slice(0, 40)) {
  if (Math.abs(row.bytes) < 8) continue;
  process.stdout.write(
    `${row.bytes.toFixed(0).padStart(7)} ${row.count.toFixed(2).padStart(7)}  ${row.key}\n`,
  );
}

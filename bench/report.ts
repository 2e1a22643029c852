/**
 * The report: one table per scenario (rows: each transport's lab, bare and lab÷bare), as text for
 * the terminal and as Markdown for latest.md; the files of bench/results.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TransportName } from '../core/model.ts';
import { charts } from './charts.ts';
import { html } from './html.ts';
import { type BenchResults, FAIR_CAPACITY, FAIR_P99 } from './summary.ts';
import { describeScenario, fairnessRows, tableNotes, tableRows } from './tables.ts';

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

export function terminalReport(results: BenchResults): string {
  const parts = results.scenarios.map((name) =>
    [
      `${name}: ${describeScenario(name, results)}`,
      textTable(tableRows(name, results)),
      ...tableNotes(name, results).map((n) => `  ${n}`),
    ].join('\n'),
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
      `${results.runs} run(s) of ${results.sizes.rounds} interleaved lab/bare round(s), median shown; ` +
      `each lab÷bare is the median over the repeats with its spread (min–max over the runs, or over one run's rounds). Every row compares the lab's server (\`--store memory\`, limits off: \`--limits off\`) ` +
      `with a bare baseline of the same library (bench/baselines), driven by the same clients; ` +
      `${results.scenarios.includes('cluster') ? "cluster compares three setups of the lab's server instead (one process, one on Redis, two on Redis); " : ''}` +
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
    const notes = tableNotes(name, results);
    if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${n}`));
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

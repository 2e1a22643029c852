/**
 * latest.html: the whole report in one self-contained page (inline CSS, inline SVG charts, no
 * script), readable offline and attachable to an issue.
 */

import type { BenchResults } from './summary.ts';
import { describeScenario, fairnessRows, tableNotes, tableRows } from './tables.ts';

export function html(results: BenchResults, svgs: Record<string, string>): string {
  const m = results.machine;
  const body = [
    `<h1>realtime-lab bench, ${escapeXml(results.date.slice(0, 10))}${results.quick ? ' <small>(--quick: a smoke test, not a measurement)</small>' : ''}</h1>`,
    `<p><code>${escapeXml(results.command)}</code> took ${Math.round(results.wallS)} s on ${escapeXml(String(m.cpuModel))} ` +
      `(${m.cores} cores, ${escapeXml(String(m.os))}), Node ${escapeXml(results.node)}; ${escapeXml(results.pinning)}. ` +
      `${results.runs} run(s) of ${results.sizes.rounds} interleaved lab/bare round(s), median shown; ` +
      "each lab÷bare is the median over the repeats with its spread (min–max over the runs, or over one run's rounds). " +
      `Each transport of the lab's server (<code>--store memory</code>, limits off: <code>--limits off</code>) is compared with a bare ` +
      'baseline of the same library, driven by the same clients' +
      `${results.scenarios.includes('cluster') ? "; cluster compares three setups of the lab's server instead (one process, one on Redis, two on Redis)" : ''}` +
      ' (bench/README.md explains every column).</p>',
    '<div class="charts">',
    ...Object.values(svgs).map((svg) => `<figure>${svg.replace(/^<\?xml[^>]*>/, '')}</figure>`),
    '</div>',
    '<h2>Fairness</h2>',
    table(fairnessRows(results), 'text'),
    ...results.scenarios.flatMap((name) => [
      `<h2>${escapeXml(name)}</h2>`,
      `<p>${escapeXml(describeScenario(name, results))}</p>`,
      table(tableRows(name, results)),
      notes(tableNotes(name, results)),
    ]),
    list('Problems', results.problems),
    list('Notes', results.notes),
    `<h2>Versions</h2>${table([['library', 'version'], ...Object.entries(results.libraries)])}`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>realtime-lab bench ${escapeXml(results.date.slice(0, 10))}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-variant-numeric: tabular-nums; }
th, td { padding: 0.2rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
tr.ratio td { color: #08519c; border-bottom: 1px solid #bbb; }
table.text td, table.text th { text-align: left; vertical-align: top; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
ul.notes { margin-top: -1rem; color: #555; font-size: 12px; }
svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`;
}

function table(rows: string[][], className?: string): string {
  const [head, ...body] = rows;
  const row = (cells: string[], tag: 'td' | 'th') =>
    `<tr${cells[1] === 'lab÷bare' ? ' class="ratio"' : ''}>${cells.map((c) => `<${tag}>${escapeXml(c)}</${tag}>`).join('')}</tr>`;
  return `<table${className ? ` class="${className}"` : ''}><thead>${row(head!, 'th')}</thead><tbody>${body.map((r) => row(r, 'td')).join('')}</tbody></table>`;
}

function notes(items: string[]): string {
  if (items.length === 0) return '';
  return `<ul class="notes">${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`;
}

function list(title: string, items: string[]): string {
  if (items.length === 0) return '';
  return `<h2>${title}</h2><ul>${items.map((i) => `<li>${escapeXml(i)}</li>`).join('')}</ul>`;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The arrows of DESIGN.md, Layout: web and transports into core, web onto transports, views under
 * web, and nothing back. Read from the import lines of every TypeScript file, type imports too.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', 'results', '.git']);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports: relative ones as repository paths, packages by name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'/gm)) {
    const target = match[1]!;
    found.push(target.startsWith('.') ? normalize(join(dirname(file), target)) : target);
  }
  return found;
}

const FILES = sources('.');
const under = (folder: string) => FILES.filter((file) => file.startsWith(`${folder}/`));

describe('layout', () => {
  it('core imports no transport, no web app and no network library', () => {
    const forbidden = /^(transports|web|labs|bench)\/|^(koa|@koa\/|koa-|ws$|socket\.io)/;
    const wrong = under('core').flatMap((file) =>
      importsOf(file)
        .filter((target) => forbidden.test(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(wrong).toEqual([]);
  });

  it('transports import nothing of the web app or its views', () => {
    const wrong = under('transports').flatMap((file) =>
      importsOf(file)
        .filter((target) => /^(web|labs|bench)\//.test(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(wrong).toEqual([]);
  });

  it('the views import no server side of the web app', () => {
    const wrong = under('web/views').flatMap((file) =>
      importsOf(file)
        .filter((target) => target.startsWith('web/') && !target.startsWith('web/views/'))
        .map((target) => `${file} -> ${target}`),
    );
    expect(wrong).toEqual([]);
  });

  it('no two modules import each other, directly or round a loop', () => {
    const graph = new Map(
      FILES.map((file) => [
        file,
        importsOf(file)
          .map((target) => relative('.', target))
          .filter((target) => FILES.includes(target)),
      ]),
    );
    const loops: string[] = [];
    const done = new Set<string>();
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) {
        loops.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      if (done.has(file)) return;
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      done.add(file);
    };
    for (const file of FILES) visit(file, []);
    expect(loops).toEqual([]);
  });
});

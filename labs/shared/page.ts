import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SHARED = fileURLToPath(new URL('./', import.meta.url));

export interface LabPage {
  /** By path: `/lab/`, `/lab/page.js`, `/lab/page.css`. */
  files: Map<string, { type: string; body: string }>;
  headers: Record<string, string>;
}

/**
 * A lab's page from `labs/shared/<name>/`: index.html and page.css as they are, and page.ts
 * bundled with the app's clients by esbuild at start, as the app bundles its own pages' scripts
 * (web/assets.ts). No CDN, no build step.
 */
export async function bundlePage(name: string): Promise<LabPage> {
  const dir = join(SHARED, name);
  const result = await build({
    entryPoints: [join(dir, 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const script = result.outputFiles[0]!.text;
  return {
    files: new Map([
      [
        '/lab/',
        { type: 'text/html; charset=utf-8', body: await readFile(join(dir, 'index.html'), 'utf8') },
      ],
      ['/lab/page.js', { type: 'text/javascript; charset=utf-8', body: script }],
      [
        '/lab/page.css',
        { type: 'text/css; charset=utf-8', body: await readFile(join(dir, 'page.css'), 'utf8') },
      ],
    ]),
    // The app's own policy: scripts and styles from this origin only, nothing inline.
    headers: {
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
    },
  };
}

import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const CLIENT_DIR = fileURLToPath(new URL('./views/client/', import.meta.url));

/**
 * The pages' scripts: every `views/client/<name>.ts` bundled once at start (TypeScript and the
 * transports' clients included) and served from memory as `/assets/<name>.js`. No CDN, no build
 * step to forget: the pages work offline.
 */
export async function bundleAssets(): Promise<Map<string, string>> {
  const entries = (await readdir(CLIENT_DIR)).filter((file) => file.endsWith('.ts'));
  const result = await build({
    entryPoints: entries.map((file) => join(CLIENT_DIR, file)),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: '/assets',
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
  });
  const assets = new Map<string, string>();
  for (const file of result.outputFiles) assets.set(basename(file.path), file.text);
  return assets;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { escapeHtml } from '../../web/views/html.ts';
import { CATALOGUES, type Language, type MessageKey, t } from '../../web/views/i18n/index.ts';

const SHARED = fileURLToPath(new URL('./', import.meta.url));

/** Whom a lab's page is for: the reader's language and the same address in the other one. */
export interface Reading {
  lang: Language;
  switchHref?: string;
}

export interface LabPage {
  /** `/lab/`, in the reader's language. */
  html(reading: Reading): string;
  /** The rest, by path: `/lab/page.js`, `/lab/page.css`. */
  files: Map<string, { type: string; body: string }>;
  headers: Record<string, string>;
}

/**
 * A lab's page from `labs/shared/<name>/`: index.html with its `{{...}}` filled in, page.css as
 * it is, and page.ts bundled with the app's clients by esbuild at start, as the app bundles its
 * own pages' scripts (web/assets.ts), catalogues and all. No CDN, no build step.
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
  const template = await readFile(join(dir, 'index.html'), 'utf8');
  fillPage(template, { lang: 'en' });
  return {
    html: (reading) => fillPage(template, reading),
    files: new Map([
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

/**
 * A page's `{{name}}`, escaped: `lang`, `otherLang` and `switchHref` from `reading`, any other
 * name a catalogue key in the reader's language. An unknown name throws (at start, where
 * bundlePage fills the page once), so a mistyped key never reaches a reader.
 */
function fillPage(template: string, { lang, switchHref }: Reading): string {
  const otherLang: Language = lang === 'ko' ? 'en' : 'ko';
  const given: Record<string, string> = {
    lang,
    otherLang,
    switchHref: switchHref ?? `?lang=${otherLang}`,
  };
  return template.replace(/\{\{([\w.]+)\}\}/g, (_, name: string) => {
    if (Object.hasOwn(given, name)) return escapeHtml(given[name]!);
    if (Object.hasOwn(CATALOGUES[lang], name)) return escapeHtml(t(lang, name as MessageKey));
    throw new Error(`labs/shared: {{${name}}} is neither a catalogue key nor a reading's field`);
  });
}

import { isLanguage, LANGUAGES, type Language } from '../../../core/language.ts';
import { type Catalogue, en, type MessageKey } from './en.ts';
import { ko } from './ko.ts';

/**
 * The pages' two languages and their catalogues. Server-rendered pages and the page scripts read
 * the same catalogues (the scripts are bundled with them and follow `<html lang>`), so a sentence
 * is written once per language. The language of a request is chosen in `web/language.ts`.
 */

export type { Catalogue, MessageKey };
export { isLanguage, LANGUAGES, type Language };
export const CATALOGUES: Readonly<Record<Language, Catalogue>> = { en, ko };

/** Values for a sentence's `{name}` placeholders. */
export type Params = Readonly<Record<string, string | number>>;

/** The sentence `key` in `language`, its placeholders filled from `params`. */
export function t(language: Language, key: MessageKey, params: Params = {}): string {
  return fill(CATALOGUES[language][key], params);
}

/** Replaces each `{name}` of `template` with `params[name]`; an unknown name stays as written. */
export function fill(template: string, params: Params): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** The placeholders of a template, in order (the catalogues' test compares them). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
}

/** A page script's language: the one its server-rendered page says. */
export function documentLanguage(lang: string | undefined): Language {
  return isLanguage(lang) ? lang : 'en';
}

import type { Context } from 'koa';
import { isChatError } from '../core/errors.ts';
import { describe } from '../transports/errors.ts';
import { isLanguage, type Language, t } from './views/i18n/index.ts';

/** What the session keeps of the visitor's language: set by `?lang=`, read by later pages. */
interface LanguageSession {
  lang?: string;
}

/**
 * The language of a page: `?lang=ko|en` wins and is remembered in the session; else the session's
 * remembered choice; else Korean when `Accept-Language` prefers `ko`, English otherwise.
 */
export function pageLanguage(ctx: Context): Language {
  const asked = ctx.query.lang;
  const session = ctx.session as LanguageSession | null;
  if (isLanguage(asked)) {
    if (session && session.lang !== asked) session.lang = asked;
    return asked;
  }
  if (session && isLanguage(session.lang)) return session.lang;
  return preferredLanguage(ctx.get('accept-language'));
}

/**
 * The language of a JSON answer: English, which programs read, unless the request itself asks for
 * Korean with `?lang=ko` or an `Accept-Language` whose preferred language is `ko`. The session's
 * choice is not used: a program's answers do not change with a page it once opened.
 */
export function apiLanguage(ctx: Context): Language {
  const asked = ctx.query.lang;
  if (isLanguage(asked)) return asked;
  return preferredLanguage(ctx.get('accept-language'));
}

/** `ko` when the header's most preferred language (highest q, first of equals) is Korean. */
export function preferredLanguage(header: string | undefined): Language {
  let best: { tag: string; q: number } | undefined;
  for (const part of (header ?? '').split(',')) {
    const [tag = '', ...parameters] = part.trim().split(';');
    const qParameter = parameters.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParameter === undefined ? 1 : Number(qParameter.slice(2));
    if (tag === '' || !(q > 0)) continue;
    if (!best || q > best.q) best = { tag, q };
  }
  return best?.tag.toLowerCase().split('-')[0] === 'ko' ? 'ko' : 'en';
}

/**
 * The sentence of an error in `language`. English is the sentence the error carries (the core's
 * words, which the JSON API has always said); another language says a ChatError's code from its
 * catalogue, and a 500 as the generic sentence. An error without a code keeps its English.
 */
export function errorSentence(error: unknown, language: Language): string {
  const [status, sentence] = describe(error);
  if (language === 'en') return sentence;
  if (isChatError(error) && error.code) return t(language, `error.${error.code}`, error.params);
  if (status === 500) return t(language, 'error.generic');
  return sentence;
}

/**
 * What a page is told of its reader's language: the language, and the same address in the other
 * language (only for a GET, which the link can repeat; a form's answer has none).
 */
export function reading(ctx: Context): { lang: Language; switchHref?: string } {
  const lang = pageLanguage(ctx);
  if (ctx.method !== 'GET') return { lang };
  const query = new URLSearchParams(ctx.querystring);
  // A sentence carried in the address was said in this language: the other page goes without it.
  query.delete('error');
  query.set('lang', lang === 'ko' ? 'en' : 'ko');
  return { lang, switchHref: `${ctx.path}?${query}` };
}

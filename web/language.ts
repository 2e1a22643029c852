import type { Context } from 'koa';
import { isLanguage, type Language, preferredLanguage } from '../core/language.ts';
import { describe, refusalOf, sentenceCode } from '../transports/errors.ts';
import { t } from './views/i18n/index.ts';

export { preferredLanguage };

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

/**
 * The sentence of an error in `language`. English is the sentence the error carries (the core's
 * words, which the JSON API has always said); another language says it from its catalogue by the
 * error's code (`sentenceCode`). An error without a code keeps its English.
 */
export function errorSentence(error: unknown, language: Language): string {
  const [, sentence] = describe(error);
  if (language === 'en') return sentence;
  const said = sentenceCode(error);
  return said ? t(language, `error.${said.code}`, said.params) : sentence;
}

/** A refusal outside koa (HttpContext.refusal): logged as `refusalOf` does, said in `language`. */
export function refusalIn(
  what: string,
  error: unknown,
  language: Language,
): { error: string; status: number } {
  const { status } = refusalOf(what, error);
  return { error: errorSentence(error, language), status };
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

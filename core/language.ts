/**
 * The two languages a person may read the lab in (issue 16), and how a request says which it
 * wants. Pages follow the visitor (web/language.ts); everything a program reads is English unless
 * the request itself asks for Korean: `?lang=ko` in its address, or an `Accept-Language` that
 * prefers `ko`. Upgrades, handshakes and streams, which cannot always set headers from a browser
 * (a WebSocket, an EventSource), say it with `?lang=`.
 */

export const LANGUAGES = ['en', 'ko'] as const;
export type Language = (typeof LANGUAGES)[number];

export function isLanguage(value: unknown): value is Language {
  return LANGUAGES.some((language) => language === value);
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
 * The language a raw request (an upgrade, a handshake, a room poll) asks to be answered in: its
 * `lang` query parameter when that names a language (a browser's WebSocket and EventSource set no
 * headers), else its `Accept-Language`.
 */
export function requestLanguage(req: {
  url?: string | undefined;
  headers: { 'accept-language'?: string | undefined };
}): Language {
  const query = req.url?.split('?')[1];
  if (query !== undefined) {
    const asked = new URLSearchParams(query).get('lang');
    if (isLanguage(asked)) return asked;
  }
  return preferredLanguage(req.headers['accept-language']);
}

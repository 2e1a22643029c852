import { expect, it } from 'vitest';
import type { Language } from '../../web/views/i18n/index.ts';

/** What a Korean reader's browser sends (ko-KR first), and an English reader's. */
export const ACCEPT_LANGUAGE: Record<Language, string> = {
  ko: 'ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7',
  en: 'en-US,en;q=0.9',
};

/**
 * For a lab's test: its page at `address()` speaks both languages as the app's pages do. The
 * browser's `Accept-Language` chooses, English without one; `?lang=` wins over it and is
 * remembered for the next visit (the cookie it sets comes back, as a browser sends it). `headings`
 * is the start of the page's `<h1>` in each language.
 */
export function itSpeaksBothLanguages(
  address: () => string,
  headings: Record<Language, string>,
): void {
  const ask = async (query: string, headers: Record<string, string> = {}) => {
    const url = new URL(address());
    url.search = query;
    const response = await fetch(url, { headers });
    const page = await response.text();
    return {
      lang: /<html lang="(\w+)">/.exec(page)?.[1],
      heading: /<h1>(.*?)<\/h1>/s.exec(page)?.[1] ?? '',
      switchTo: /<a [^>]*hreflang="(\w+)"/.exec(page)?.[1],
      cookie: response.headers.getSetCookie().map((line) => line.split(';')[0] ?? ''),
      setCookie: response.headers.getSetCookie(),
    };
  };

  it('is in English by default, with a link to the Korean page', async () => {
    const english = await ask('');
    expect(english.lang).toBe('en');
    expect(english.heading.startsWith(headings.en)).toBe(true);
    expect(english.switchTo).toBe('ko');
    expect((await ask('', { 'accept-language': ACCEPT_LANGUAGE.en })).lang).toBe('en');
  });

  it('is in Korean for a browser that prefers Korean, with a link to the English page', async () => {
    const korean = await ask('', { 'accept-language': ACCEPT_LANGUAGE.ko });
    expect(korean.lang).toBe('ko');
    expect(korean.heading.startsWith(headings.ko)).toBe(true);
    expect(korean.switchTo).toBe('en');
    expect(korean.setCookie).toEqual([]);
  });

  it.each([
    ['en', 'ko'],
    ['ko', 'en'],
  ] as const)(
    '?lang=%s wins over a browser that prefers %s, and is remembered',
    async (lang, browser) => {
      const headers = { 'accept-language': ACCEPT_LANGUAGE[browser] };
      const asked = await ask(`?lang=${lang}`, headers);
      expect(asked.lang).toBe(lang);
      expect(asked.heading.startsWith(headings[lang])).toBe(true);
      expect(asked.setCookie.length).toBeGreaterThan(0);
      for (const line of asked.setCookie)
        expect(line).toMatch(/; path=\/;.*; samesite=lax; httponly$/);
      const next = await ask('', { ...headers, cookie: asked.cookie.join('; ') });
      expect(next.lang).toBe(lang);
      expect(next.heading.startsWith(headings[lang])).toBe(true);
    },
  );
}

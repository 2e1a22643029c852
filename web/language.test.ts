import { describe, expect, it } from 'vitest';
import { preferredLanguage } from './language.ts';

describe('the preferred language of Accept-Language', () => {
  it.each([
    ['ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7', 'ko'],
    ['ko', 'ko'],
    ['KO-kr', 'ko'],
    ['en-US,en;q=0.9,ko;q=0.8', 'en'],
    ['en;q=0.5, ko;q=0.8', 'ko'],
    ['fr, ko;q=0.9', 'en'],
    ['ko;q=0, en', 'en'],
    ['*', 'en'],
    ['', 'en'],
    [undefined, 'en'],
  ])('%s: %s', (header, language) => {
    expect(preferredLanguage(header)).toBe(language);
  });
});

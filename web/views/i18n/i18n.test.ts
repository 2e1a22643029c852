import { describe, expect, it } from 'vitest';
import { ChatError, ERROR_CODES } from '../../../core/errors.ts';
import { LIMITS } from '../../../core/model.ts';
import { roomInput } from '../../../core/validate.ts';
import { CATALOGUES, fill, LANGUAGES, placeholders, t } from './index.ts';

describe('the catalogues', () => {
  const english = CATALOGUES.en as Record<string, string>;

  it.each(LANGUAGES)('%s has every key of every other catalogue, and no more', (language) => {
    const keys = Object.keys(CATALOGUES[language]).sort();
    for (const other of LANGUAGES) {
      const missing = Object.keys(CATALOGUES[other]).filter((key) => !keys.includes(key));
      expect(missing, `keys of ${other} missing from ${language}`).toEqual([]);
    }
  });

  it.each(LANGUAGES)('%s has no empty sentence', (language) => {
    const empty = Object.entries(CATALOGUES[language]).filter(([, value]) => value.trim() === '');
    expect(empty.map(([key]) => key)).toEqual([]);
  });

  it.each(LANGUAGES)('%s fills the same placeholders as English', (language) => {
    const entries = Object.entries(CATALOGUES[language] as Record<string, string>);
    const differ = entries.filter(
      ([key, value]) =>
        placeholders(value).sort().join() !==
        placeholders(english[key] ?? '')
          .sort()
          .join(),
    );
    expect(differ.map(([key]) => key)).toEqual([]);
  });

  it('has a sentence for every ChatError code, and none for a code that does not exist', () => {
    const codes = Object.keys(english)
      .filter((key) => key.startsWith('error.'))
      .map((key) => key.slice('error.'.length));
    expect(codes.sort()).toEqual([...ERROR_CODES].sort());
  });

  it("says in English what the core's sentence says", () => {
    let thrown: unknown;
    try {
      roomInput({ title: '' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ChatError);
    const error = thrown as ChatError;
    expect(t('en', `error.${error.code!}`, error.params)).toBe(error.message);
    expect(t('ko', `error.${error.code!}`, error.params)).toBe(
      `방 제목은 1자에서 ${LIMITS.titleMax}자 사이여야 합니다.`,
    );
  });

  it('fills named placeholders anywhere, and leaves unknown ones as written', () => {
    expect(fill('{a} and {b}, {a}', { a: 1, b: 'x' })).toBe('1 and x, 1');
    expect(fill('{missing}', {})).toBe('{missing}');
  });
});

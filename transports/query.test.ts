import { describe, expect, it } from 'vitest';
import { queryOf, queryValue } from './query.ts';

/** What URLSearchParams (and so koa's `ctx.query`) makes of the same string. */
function reference(search: string): Record<string, string | string[]> {
  const params = new URLSearchParams(search);
  const query: Record<string, string | string[]> = Object.create(null);
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    query[name] = values.length === 1 ? values[0]! : values;
  }
  return query;
}

describe('queryOf and queryValue', () => {
  it('reads every query string as URLSearchParams does, repeated names as arrays', () => {
    const cases = [
      '',
      'wait=25&after=12',
      'after=1&after=2&after=3',
      'after',
      'afterwards=1&after=2&wait',
      'wait=1&wait=',
      'after=',
      '=5',
      '&&wait=0&',
      'a=1=2',
      'lang=ko&trace=abc_DEF-123',
      'after=%31',
      'after=1+2',
      'after=%zz',
      'na%6De=v',
      '__proto__=1',
      '__proto__=1&__proto__=2',
      'toString=x',
      'constructor=x&constructor=y',
    ];
    for (const search of cases) expect(queryOf(search), search).toEqual(reference(search));
    const hostile = queryOf('__proto__=1&__proto__=2');
    expect(Object.getPrototypeOf(hostile)).toBe(null);
    expect(Object.entries(hostile)).toEqual([['__proto__', ['1', '2']]]);
    for (const search of cases) {
      for (const name of ['after', 'wait', '__proto__', 'name', 'a', '', 'constructor']) {
        expect(queryValue(search, name), `${name} in ${search}`).toEqual(reference(search)[name]);
      }
    }
  });
});

/**
 * A query string as koa reads it (`ctx.query`): a repeated name gives an array of its values.
 * Without `%` or `+` nothing needs decoding, and the pairs are split as they are (what a poll's
 * `wait=25&after=12` is, once a delivery); otherwise URLSearchParams decodes them.
 */
export function queryOf(search: string): Record<string, string | string[]> {
  // No prototype, as koa's (`querystring.parse`): `__proto__` is a name like any other.
  const query: Record<string, string | string[]> = Object.create(null);
  if (search === '') return query;
  if (search.includes('%') || search.includes('+')) {
    for (const [name, value] of new URLSearchParams(search)) add(query, name, value);
    return query;
  }
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    if (equals === -1) add(query, pair, '');
    else add(query, pair.slice(0, equals), pair.slice(equals + 1));
  }
  return query;
}

function add(query: Record<string, string | string[]>, name: string, value: string): void {
  const before = query[name];
  if (before === undefined) query[name] = value;
  else if (typeof before === 'string') query[name] = [before, value];
  else before.push(value);
}

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

/**
 * One name's value in a query string, as `queryOf(search)[name]` would give it, without making
 * the whole query: a poll reads two names of its query once a delivery, and a query object (no
 * prototype, so a dictionary) cost it more than the two reads.
 */
export function queryValue(search: string, name: string): string | string[] | undefined {
  if (search.includes('%') || search.includes('+')) {
    const values = new URLSearchParams(search).getAll(name);
    return values.length <= 1 ? values[0] : values;
  }
  let found: string | string[] | undefined;
  for (let start = 0; start < search.length; ) {
    let end = search.indexOf('&', start);
    if (end === -1) end = search.length;
    const after = start + name.length;
    const named = after === end || (after < end && search.charCodeAt(after) === EQUALS);
    if (end > start && named && search.startsWith(name, start)) {
      const value = after === end ? '' : search.slice(after + 1, end);
      if (found === undefined) found = value;
      else if (typeof found === 'string') found = [found, value];
      else found.push(value);
    }
    start = end + 1;
  }
  return found;
}

const EQUALS = 0x3d;

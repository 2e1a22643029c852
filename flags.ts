/**
 * The command-line flags of every entry point (`npm start`, `npm run bench`, `npm run lab`):
 * node's `parseArgs`, strict, and the checks more than one of them makes, each refusal a
 * `UsageError` of one line that the entry point prints before it exits with status 2.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A flag or value an entry point cannot take: exit status 2 with `message`. */
export class UsageError extends Error {}

/** The values of `args`, strictly: an unknown flag, a missing value or a positional refuses. */
export function parseFlags<const O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
}

/** `value` if it is one of `allowed`. */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, not "${value}"`);
  }
  return value as T;
}

/** `value` as a number if it is digits only, from `min` to `max`; `unit` names what it counts. */
export function wholeNumber(
  flag: string,
  value: string,
  min: number,
  max: number,
  unit?: string,
): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) {
    const what = unit ? `a whole number of ${unit}` : 'a whole number';
    throw new UsageError(`${flag} must be ${what} from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

import { InvalidArgumentError } from 'commander';

/**
 * Commander argument parsers shared by `offpeak` and `npm start`: each checks one option's value and answers a
 * clear usage error (exit 2) instead of passing a bad value on.
 */

/** One of these words. */
export function oneOf(values: readonly string[]) {
  return (value: string): string => {
    if (!values.includes(value)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return value;
  };
}

/** An integer from `min` to `max`. */
export function intIn(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer ${min}..${max}`);
    return n;
  };
}

/** A time Date can parse, normalised to ISO 8601 UTC. */
export function isoTime(value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time))
    throw new InvalidArgumentError(`expected an ISO time like 2026-01-31T00:00:00Z, got "${value}"`);
  return new Date(time).toISOString();
}

import { InvalidArgumentError } from 'commander';
import { isDataDate } from '../domain/clean-zone';

/**
 * Commander argument parsers: a bad value fails with the form expected, before anything runs.
 * Only InvalidArgumentError makes commander name the flag (and main.ts exit 2); any other error
 * would escape as a plain failure.
 */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return n;
  };
}

/** Bounds as the schema behind the flag has them, so the flag is named rather than the field. */
export function integerBetween(min: number, max: number): (value: string) => number {
  const atLeast = integerAtLeast(min);
  return (value) => {
    const n = atLeast(value);
    if (n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError('expected a number >= 0');
  }
  return n;
}

export function httpUrl(value: string): string {
  if (!/^https?:\/\//.test(value) || !URL.canParse(value)) {
    throw new InvalidArgumentError('expected an http(s) URL, e.g. http://127.0.0.1:8082');
  }
  return value.replace(/\/+$/, '');
}

/** A calendar day that exists: 2026-02-30 is refused, not rolled over into March. */
export function dateOption(value: string): string {
  if (!isDataDate(value)) throw new InvalidArgumentError('expected a date YYYY-MM-DD');
  return value;
}

/** Digits are a numeric seed (as in the domain's draw); anything else is a string seed. */
export function seedOption(value: string): number | string {
  return /^\d{1,15}$/.test(value) ? Number(value) : value;
}

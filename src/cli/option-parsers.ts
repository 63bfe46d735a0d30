import { InvalidArgumentError } from 'commander';

/** Commander argument parsers: a bad value fails with the form expected, before anything runs. */
export function integerAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
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

export function pipelineIdOption(value: string): string {
  if (!/^[0-9a-f]{12}$/.test(value)) {
    throw new InvalidArgumentError('expected 12 lowercase hex characters, e.g. 5eedcafe0001');
  }
  return value;
}

/** Digits are a numeric seed (as in the domain's draw); anything else is a string seed. */
export function seedOption(value: string): number | string {
  return /^\d{1,15}$/.test(value) ? Number(value) : value;
}

import type { CleaningOptions } from '../src/workflows/clean-table';

/** `npm run bench -- nightly [options]`; see parseNightlyOptions for the defaults. */
export interface NightlyOptions {
  /** Events per day (each one record per table), one raw day and one baseline per size. */
  sizes: number[];
  perObject: number;
  /** Worker-process counts; each size runs one nightly per count, on the same raw day. */
  workers: number[];
  hog: boolean;
  /** Adds a 10M-event day (run with the first worker count) measured against the 1M one. */
  big: boolean;
  /** Keep the bench's buckets (raw day, clean zone) instead of deleting them at the end. */
  keep: boolean;
  parallelPuts: number;
  cleaning?: CleaningOptions;
}

export const BIG = 10_000_000;
export const REFERENCE = 1_000_000;

export const NIGHTLY_USAGE =
  'npm run bench -- nightly [--sizes 1000000] [--per-object 50000] [--workers 1,3] [--no-hog] ' +
  '[--big] [--keep] [--parallel-puts 8] [--shard-window N] [--max-shard-mb N] [--max-objects-per-shard N]';

export function parseNightlyOptions(args: string[]): NightlyOptions {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--'))
      throw new Error(`${name} needs a value: ${NIGHTLY_USAGE}`);
    return v;
  };
  const ints = (name: string, fallback: string): number[] =>
    (value(name) ?? fallback).split(',').map((s) => {
      const n = Number(s.replaceAll('_', ''));
      if (!Number.isSafeInteger(n) || n < 1) {
        throw new Error(`${name}: expected positive integers, got ${JSON.stringify(s)}`);
      }
      return n;
    });
  const one = (name: string, fallback: number): number => ints(name, String(fallback))[0]!;
  const known = new Set(NIGHTLY_USAGE.match(/--[a-z-]+/g));
  const unknown = args.filter((a) => a.startsWith('--') && !known.has(a));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')}: ${NIGHTLY_USAGE}`);

  const big = args.includes('--big');
  const sizes = ints('--sizes', '1000000');
  // --big compares 10M against 1M, so both days must be in the run.
  if (big) for (const n of [REFERENCE, BIG]) if (!sizes.includes(n)) sizes.push(n);
  const cleaning: CleaningOptions = {};
  if (value('--shard-window')) cleaning.shardWindow = one('--shard-window', 4);
  if (value('--max-shard-mb')) cleaning.maxShardBytes = one('--max-shard-mb', 64) * 1024 * 1024;
  if (value('--max-objects-per-shard')) {
    cleaning.maxObjectsPerShard = one('--max-objects-per-shard', 2000);
  }
  return {
    sizes: sizes.sort((a, b) => a - b),
    perObject: one('--per-object', 50_000),
    workers: ints('--workers', '1,3'),
    hog: !args.includes('--no-hog'),
    big,
    keep: args.includes('--keep'),
    parallelPuts: one('--parallel-puts', 8),
    ...(Object.keys(cleaning).length > 0 && { cleaning }),
  };
}

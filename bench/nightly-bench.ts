import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Adapters } from '../src/adapters/create-adapters';
import { bucketFor } from '../src/domain/tables';
import { randomPipelineId } from '../test/helpers/ingest-fixtures';
import { openBenchContext, writeBenchResult } from './bench-context';
import { codeVersion, describeVersion } from './code-version';
import { startCpuHog, type CpuHog } from './cpu-hog';
import { parseNightlyOptions, REFERENCE, type NightlyOptions } from './nightly-options';
import { runNightly, type NightlyOutcome } from './nightly-run';
import { printSizeSummary, printRunSummary } from './nightly-summary';
import { runPlainBaseline, type Baseline } from './plain-clean-baseline';
import { downloadRawDay, dropBucket, rawDayUrls, seedRawDay, type RawDay } from './raw-day';
import { duckDbS3OptionsFrom } from '../src/activities/analytics-activities';
import type { Config } from '../src/config';

/**
 * The nightly bench (issue 5). Per size: a raw day seeded straight into S3 (objects of
 * --per-object records, puts in parallel), a plain DuckDB cleaner timed over the same objects on
 * local disk (the same-run baseline), then one nightly per worker count on that same day, each on
 * fresh worker processes and a fresh workflow id. A CPU hog runs beside everything unless
 * --no-hog. Figures are ratios to the baseline, because the machines are shared and noisy.
 */

const DAY = '2026-11-20';

export interface SizeResult {
  events: number;
  raw: RawDay;
  seedSeconds: number;
  /** Measured beside the hog (the conditions the nightlies run in). */
  baseline: Baseline;
  /** Measured with the hog paused (SIGSTOP); absent with --no-hog, where baseline is quiet. */
  quietBaseline?: Baseline;
  /** The same statement reading the objects from S3 in place (httpfs), beside the hog. */
  s3Baseline: Baseline;
  nightlies: NightlyOutcome[];
}

async function measureBaseline(
  ctx: { adapters: Adapters; config: Config },
  raw: RawDay,
  hog?: CpuHog,
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-bench-baseline-'));
  try {
    const files = await downloadRawDay(ctx.adapters.store, raw, dir, 8);
    const baseline = await runPlainBaseline(files, raw.events, dir);
    const urls = await rawDayUrls(ctx.adapters.store, raw);
    const s3 = { s3: duckDbS3OptionsFrom(ctx.config) };
    const s3Baseline = await runPlainBaseline(urls, raw.events, dir, s3);
    if (!hog) return { baseline, s3Baseline };
    hog.pause();
    try {
      const quietBaseline = await runPlainBaseline(files, raw.events, dir);
      return { baseline, s3Baseline, quietBaseline };
    } finally {
      hog.resume();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runSize(
  ctx: { adapters: Adapters; client: Client; config: Config },
  o: NightlyOptions,
  events: number,
  pipelineId: string,
  hog: CpuHog | undefined,
): Promise<SizeResult> {
  console.log(`\nnightly bench: ${events} events (seeding the raw zone...)`);
  const seedStart = performance.now();
  const raw = await seedRawDay(ctx.adapters.store, {
    pipelineId,
    day: DAY,
    events,
    perObject: o.perObject,
    parallel: o.parallelPuts,
  });
  const seedSeconds = (performance.now() - seedStart) / 1000;
  console.log(`  seeded in ${seedSeconds.toFixed(1)} s; plain DuckDB baseline...`);
  const measured = await measureBaseline(ctx, raw, hog);
  const result: SizeResult = { events, raw, seedSeconds, ...measured, nightlies: [] };
  // The 10M day only answers "how does it scale from 1M", at one worker count.
  const counts = events > REFERENCE ? o.workers.slice(0, 1) : o.workers;
  // Generous: a stall must end with a reason, not hang; minutes per million events.
  const timeoutMinutes = Math.max(20, Math.ceil((events / 1_000_000) * 20));
  for (const workers of counts) {
    console.log(`  nightly on ${workers} worker process(es)...`);
    const run = await runNightly(ctx.client, raw, workers, {
      timeoutMinutes,
      ...(o.cleaning && { cleaning: o.cleaning }),
    });
    result.nightlies.push(run);
    printRunSummary(run, result.baseline, result.quietBaseline, result.s3Baseline);
  }
  return result;
}

export async function runNightlyBench(args: string[]): Promise<void> {
  const o = parseNightlyOptions(args);
  const version = codeVersion();
  const ctx = await openBenchContext();
  const hog = o.hog ? startCpuHog() : undefined;
  const sizes: SizeResult[] = [];
  const buckets: string[] = [];
  try {
    console.log(
      `nightly bench: code ${describeVersion(version)}; ${cpus().length} cores; ` +
        `CPU hog: ${hog ? hog.description : 'none (--no-hog)'}`,
    );
    for (const events of o.sizes) {
      const pipelineId = randomPipelineId();
      buckets.push(bucketFor(pipelineId));
      sizes.push(await runSize(ctx, o, events, pipelineId, hog));
    }
  } finally {
    await hog?.stop();
    if (!o.keep) await dropBuckets(ctx.adapters, buckets);
    await ctx.close();
  }
  const summary = printSizeSummary(sizes, o, hog?.description);
  const now = codeVersion();
  if (describeVersion(now) !== describeVersion(version)) {
    // Workers started later ran the newer code: runs of this bench are not comparable.
    console.log(`  WARNING: the code changed during the bench (now ${describeVersion(now)})`);
  }
  const file = writeBenchResult('nightly', {
    when: new Date().toISOString(),
    code: version,
    cores: cpus().length,
    hog: hog?.description ?? null,
    options: o,
    summary,
    sizes,
  });
  console.log(`  full results: ${file}`);
}

/** Best effort: a failed cleanup is reported, and must not hide the bench's own outcome. */
async function dropBuckets(adapters: Adapters, buckets: string[]): Promise<void> {
  for (const bucket of buckets) {
    try {
      const n = await dropBucket(adapters.store, bucket);
      console.log(`  removed s3://${bucket} (${n} objects)`);
    } catch (err) {
      console.error(`  could not remove s3://${bucket}: ${(err as Error).message}`);
    }
  }
}

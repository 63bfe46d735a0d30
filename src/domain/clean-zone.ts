/**
 * The clean and analytics zones' naming and manifests (DESIGN 4). A partition is committed when
 * its `_manifest.json` exists; readers read the files it lists and nothing else, so a run that
 * stops half way is invisible, and a rerun replaces a day by swapping the manifest.
 */

import { z } from 'zod';
import type { GateResult } from './quality-gates';
import type { Table } from './tables';

/** A data day: `YYYY-MM-DD` naming a real calendar date (2026-02-30 is not one). */
export function isDataDate(value: unknown): boolean {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === value;
}

/** Every committed partition of a table: `clean/<table>/dt=` (staging is beside it, not under). */
export const cleanTablePrefix = (table: Table) => `clean/${table}/dt=`;
export const cleanPartitionPrefix = (table: Table, day: string) =>
  `${cleanTablePrefix(table)}${day}/`;
export const cleanManifestKey = (table: Table, day: string) =>
  `${cleanPartitionPrefix(table, day)}_manifest.json`;
/** Run-specific names: a rerun never overwrites a file a reader may be reading. */
export const cleanFileKey = (table: Table, day: string, run: string, n: number) =>
  `${cleanPartitionPrefix(table, day)}${run}-${n}.parquet`;
/** Staging (leading underscore: Hive, Spark and Athena skip it) for a run's checkpointed parts. */
export const cleanStagingPrefix = (table: Table, day: string, run: string) =>
  `clean/${table}/_staging/dt=${day}/${run}/`;
const pad5 = (n: number) => String(n).padStart(5, '0');
/** The claim check of a cleaning run: its exact inputs and shards (clean-shards.ts). */
export const cleanPlanKey = (table: Table, day: string, run: string) =>
  `${cleanStagingPrefix(table, day, run)}_plan.json`;
/** One shard's staged Parquet part; its existence marks the shard done. */
export const cleanShardPartKey = (table: Table, day: string, run: string, shard: number) =>
  `${cleanStagingPrefix(table, day, run)}part-${pad5(shard)}.parquet`;
export const cleanShardQuarantineKey = (table: Table, day: string, run: string, shard: number) =>
  `${cleanStagingPrefix(table, day, run)}quarantine-${pad5(shard)}.json`;
export const cleanQuarantineKey = (table: Table, day: string, run: string) =>
  `quarantine/${table}/dt=${day}/clean-${run}.json`;

/** `clean/<table>/dt=<YYYY-MM-DD>/_manifest.json` → the day; anything else (nested keys) → undefined. */
export function cleanManifestDay(table: Table, key: string): string | undefined {
  const day = new RegExp(`^clean/${table}/dt=([^/]+)/_manifest\\.json$`).exec(key)?.[1];
  return day !== undefined && isDataDate(day) ? day : undefined;
}

/** Every day's analytics: `analytics/dt=`. */
export const ANALYTICS_DAYS_PREFIX = 'analytics/dt=';
export const analyticsPrefix = (day: string) => `${ANALYTICS_DAYS_PREFIX}${day}/`;
export const analyticsManifestKey = (day: string) => `${analyticsPrefix(day)}_manifest.json`;
export const analyticsReportKey = (day: string) => `${analyticsPrefix(day)}report.html`;
/** One query's result (run-analytics.ts toQueryJson). */
export const analyticsQueryKey = (day: string, query: string) =>
  `${analyticsPrefix(day)}${query}.json`;

const analyticsReportPattern = /^analytics\/dt=(\d{4}-\d{2}-\d{2})\/report\.html$/;

/** `analytics/dt=<YYYY-MM-DD>/report.html` → the day; anything else → undefined. */
export function analyticsReportDay(key: string): string | undefined {
  const day = analyticsReportPattern.exec(key)?.[1];
  return day !== undefined && isDataDate(day) ? day : undefined;
}

export const gateResultSchema = z.object({
  name: z.string(),
  description: z.string(),
  policy: z.enum(['warn', 'drop', 'fail']),
  checked: z.int(),
  failed: z.int(),
  status: z.enum(['pass', 'warned', 'dropped', 'failed']),
});

export const cleanManifestSchema = z.object({
  table: z.enum(['pin', 'geo', 'user']),
  date: z.string(),
  run: z.string(),
  committedAt: z.string(),
  files: z.array(z.object({ key: z.string(), rows: z.int(), bytes: z.int() })),
  /** The raw objects this partition was built from (the exact inputs of the run). */
  inputs: z.array(z.string()),
  counts: z.object({
    rawRecords: z.int(),
    rowsOut: z.int(),
    quarantined: z.int(),
    duplicates: z.int(),
  }),
  gates: z.array(gateResultSchema),
});
export type CleanManifest = z.infer<typeof cleanManifestSchema>;

export function parseCleanManifest(json: string): CleanManifest {
  return cleanManifestSchema.parse(JSON.parse(json));
}

export type { GateResult };

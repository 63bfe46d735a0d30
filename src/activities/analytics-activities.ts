import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Config } from '../config';
import { DuckDbSetupError, type DuckDbS3Options } from '../analytics/duckdb-session';
import { renderReport } from '../analytics/report-html';
import { runAnalytics as runDuckDbAnalytics, toQueryJson } from '../analytics/run-analytics';
import { parquetPathSql } from '../analytics/sql-text';
import {
  analyticsManifestKey,
  analyticsQueryKey,
  analyticsReportKey,
  cleanManifestDay,
  cleanTablePrefix,
  parseCleanManifest,
} from '../domain/clean-zone';
import { s3Url, TABLES, type Table } from '../domain/tables';
import type { ObjectStore } from '../ports/object-store';

/**
 * The nightly run's last step: the nine analytics of DESIGN 6 over every committed clean
 * partition, read where they lie. Only the small manifests travel through this process; DuckDB
 * reads the Parquet files they list straight from S3 (httpfs, range requests for the columns the
 * queries use), so a night's cost follows the columns read, not a copy of the whole history on
 * the worker's disk.
 */

export interface RunAnalyticsInput {
  bucket: string;
  pipelineId: string;
  date: string;
}
export interface RunAnalyticsResult {
  manifestKey: string;
  reportKey: string;
  queries: { query: string; rows: number; key: string }[];
  partitions: { [T in Table]: number };
}

export interface AnalyticsActivitiesDeps {
  store: ObjectStore;
  /** How DuckDB reaches the bucket: the same endpoint, region and credentials as `store`. */
  duckdb: DuckDbS3Options;
  /** Parent of the per-run scratch dir (DuckDB spills there past its memory limit); os.tmpdir(). */
  scratchDir?: string;
}

/**
 * DuckDB's S3 settings from the process config: the same endpoint, region and key pair the
 * S3ObjectStore uses (so DuckDB reads the bucket the store lists), plus the httpfs file.
 */
export function duckDbS3OptionsFrom(config: Pick<Config, 'aws' | 'duckdb'>): DuckDbS3Options {
  return {
    region: config.aws.region,
    httpfsExtension: config.duckdb.httpfsExtension,
    endpoint: config.aws.s3Endpoint,
    credentials: config.aws.credentials,
  };
}

/** Heartbeats on a clock: the analytics are one long DuckDB run with no natural checkpoints. */
const HEARTBEAT_EVERY_MS = 2_000;

export const BAD_CLEAN_MANIFEST = 'BadCleanManifest';
export const ANALYTICS_SETUP_FAILED = 'AnalyticsSetupFailed';

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export function createAnalyticsActivities(deps: AnalyticsActivitiesDeps) {
  const { store } = deps;

  /**
   * The committed files of every partition of `table` as `s3://` URLs: exactly what the
   * manifests list, so staged parts and files of replaced runs in the same prefix are never read.
   */
  async function committedFiles(
    bucket: string,
    table: Table,
  ): Promise<{ urls: string[]; partitions: number }> {
    const urls: string[] = [];
    let partitions = 0;
    for await (const o of store.list({ bucket, prefix: cleanTablePrefix(table) })) {
      if (cleanManifestDay(table, o.key) === undefined) continue;
      const body = await store.get({ bucket, key: o.key });
      // Gone between list and get: the partition was torn down meanwhile, so it is not committed.
      if (!body) continue;
      // A manifest no retry can fix: fail for good, naming it, rather than retry all night.
      const bad = (reason: string) =>
        ApplicationFailure.nonRetryable(
          `s3://${bucket}/${o.key} is not a usable clean manifest: ${reason}. Rerun that day's ` +
            'nightly batch (it rewrites the manifest) or remove the partition',
          BAD_CLEAN_MANIFEST,
        );
      let manifest;
      try {
        manifest = parseCleanManifest(text(body));
      } catch (err) {
        throw bad((err as Error).message);
      }
      if (manifest.table !== table) throw bad(`it is for table ${manifest.table}`);
      for (const file of manifest.files) {
        const url = s3Url(bucket, file.key);
        try {
          parquetPathSql(url); // refuses glob characters: DuckDB would read other files
        } catch (err) {
          throw bad((err as Error).message);
        }
        urls.push(url);
      }
      partitions++;
    }
    return { urls, partitions };
  }

  return {
    /** Whether a day's nightly run finished: its analytics manifest exists. */
    async dayFinished(input: { bucket: string; date: string }): Promise<boolean> {
      return (
        (await store.head({ bucket: input.bucket, key: analyticsManifestKey(input.date) })) !==
        undefined
      );
    },

    async runAnalytics(input: RunAnalyticsInput): Promise<RunAnalyticsResult> {
      const ctx = Context.current();
      ctx.heartbeat();
      const clock = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      const dir = await mkdtemp(path.join(deps.scratchDir ?? tmpdir(), 'pinpipe-analytics-'));
      try {
        const inputs = { pin: [] as string[], geo: [] as string[], user: [] as string[] };
        const partitions = { pin: 0, geo: 0, user: 0 };
        for (const table of TABLES) {
          const committed = await committedFiles(input.bucket, table);
          inputs[table] = committed.urls;
          partitions[table] = committed.partitions;
        }
        let results;
        try {
          results = await runDuckDbAnalytics(inputs, {
            s3: deps.duckdb,
            tempDirectory: path.join(dir, 'duckdb.tmp'),
            signal: ctx.cancellationSignal,
          });
        } catch (err) {
          if (err instanceof DuckDbSetupError) {
            throw ApplicationFailure.nonRetryable(err.message, ANALYTICS_SETUP_FAILED);
          }
          throw err;
        }
        const queries = [];
        for (const r of results) {
          const key = analyticsQueryKey(input.date, r.query);
          await store.put({
            bucket: input.bucket,
            key,
            body: JSON.stringify(toQueryJson(r), null, 2),
            contentType: 'application/json',
          });
          queries.push({ query: r.query, rows: r.rows.length, key });
        }
        const reportKey = analyticsReportKey(input.date);
        await store.put({
          bucket: input.bucket,
          key: reportKey,
          body: renderReport(results, { date: input.date, pipelineId: input.pipelineId }),
          contentType: 'text/html; charset=utf-8',
        });
        const manifestKey = analyticsManifestKey(input.date);
        // Written last: its presence is what dayFinished (and the backfill) take as "done".
        await store.put({
          bucket: input.bucket,
          key: manifestKey,
          body: JSON.stringify(
            {
              date: input.date,
              generatedAt: new Date().toISOString(),
              partitions,
              queries,
              report: reportKey,
            },
            null,
            2,
          ),
          contentType: 'application/json',
        });
        return { manifestKey, reportKey, queries, partitions };
      } finally {
        clearInterval(clock);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export type AnalyticsActivities = ReturnType<typeof createAnalyticsActivities>;

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { columnDefinitionsSql } from '../analytics/clean-schema';
import { openDuckDb } from '../analytics/duckdb-session';
import { writeCleanParquet, type CleanRow } from '../analytics/parquet-writer';
import { renderReport } from '../analytics/report-html';
import { runAnalytics as runDuckDbAnalytics } from '../analytics/run-analytics';
import { cleanRecord } from '../domain/cleaning';
import {
  analyticsManifestKey,
  analyticsPrefix,
  cleanFileKey,
  cleanManifestKey,
  cleanPartitionPrefix,
  cleanQuarantineKey,
  cleanStagingPrefix,
  parseCleanManifest,
  type CleanManifest,
} from '../domain/clean-zone';
import { DEFAULT_GATES, GateTally, rowCountGate, type GateResult } from '../domain/quality-gates';
import { parseRaw } from '../domain/raw-schemas';
import { rawDayPrefix } from '../domain/raw-zone';
import { TABLES, topicFor, type Table } from '../domain/tables';
import type { ObjectStore } from '../ports/object-store';

/**
 * The nightly batch's side effects: list a day's raw objects, clean them into checkpointed
 * Parquet parts, commit a partition (distinct rows, gates, manifest swap), run the analytics.
 * DuckDB works on local files (no network extensions), so parts travel through a scratch dir.
 */

export interface ListRawDayInput {
  bucket: string;
  pipelineId: string;
  table: Table;
  date: string;
}
export interface ListRawDayResult {
  inputs: string[];
  bytes: number;
}

export interface CleanPartitionInput {
  bucket: string;
  table: Table;
  date: string;
  /** Names this run's files; a rerun gets a new one. */
  run: string;
  inputs: string[];
  /** Raw objects per checkpointed part. */
  objectsPerPart?: number;
}
export interface CleanCounts {
  rawRecords: number;
  rowsIn: number;
  quarantined: number;
}
export interface CleanPartitionResult {
  parts: string[];
  quarantineParts: string[];
  counts: CleanCounts;
  gateState: { checked: number; failed: number[] };
}

export interface CommitPartitionInput extends CleanPartitionResult {
  bucket: string;
  table: Table;
  date: string;
  run: string;
  inputs: string[];
}
export interface CommitPartitionResult {
  manifestKey: string;
  files: { key: string; rows: number; bytes: number }[];
  counts: CleanManifest['counts'];
  gates: GateResult[];
  /** Files of earlier runs of this day that the swap made unreachable and this run removed. */
  replaced: number;
}

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

export const QUALITY_GATE_FAILED = 'QualityGateFailed';

interface Checkpoint extends CleanPartitionResult {
  nextInput: number;
}

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

export function createNightlyActivities(deps: {
  store: ObjectStore;
  scratchDir?: string;
  /** The expectations per table; DEFAULT_GATES unless a deployment tightens them. */
  gates?: typeof DEFAULT_GATES;
}) {
  const { store } = deps;
  const gatesOf = <T extends Table>(table: T) => (deps.gates ?? DEFAULT_GATES)[table];
  const scratch = () => mkdtemp(path.join(deps.scratchDir ?? tmpdir(), 'pinpipe-nightly-'));

  async function download(bucket: string, key: string, dir: string, name: string): Promise<string> {
    const body = await store.get({ bucket, key });
    if (!body) throw new Error(`s3://${bucket}/${key} vanished while the run was using it`);
    const file = path.join(dir, name);
    await writeFile(file, body);
    return file;
  }

  async function listKeys(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of store.list({ bucket, prefix })) keys.push(o.key);
    return keys;
  }

  return {
    async listRawDay(input: ListRawDayInput): Promise<ListRawDayResult> {
      if (!(await store.bucketExists(input.bucket))) {
        throw ApplicationFailure.nonRetryable(
          `bucket ${input.bucket} does not exist: provision the pipeline first (npx pinpipe provision)`,
          'BucketNotFound',
        );
      }
      const prefix = rawDayPrefix(topicFor(input.pipelineId, input.table), input.date);
      const inputs: string[] = [];
      let bytes = 0;
      for await (const o of store.list({ bucket: input.bucket, prefix })) {
        if (!o.key.endsWith('.json')) continue;
        inputs.push(o.key);
        bytes += o.size;
      }
      return { inputs, bytes };
    },

    async cleanPartition(input: CleanPartitionInput): Promise<CleanPartitionResult> {
      const ctx = Context.current();
      const perPart = input.objectsPerPart ?? 20;
      const resumed = ctx.info.heartbeatDetails as Checkpoint | undefined;
      const state: Checkpoint = resumed ?? {
        nextInput: 0,
        parts: [],
        quarantineParts: [],
        counts: { rawRecords: 0, rowsIn: 0, quarantined: 0 },
        gateState: { checked: 0, failed: [] },
      };
      const tally = new GateTally(gatesOf(input.table));
      if (resumed) tally.restore(resumed.gateState);
      const staging = cleanStagingPrefix(input.table, input.date, input.run);
      const dir = await scratch();
      try {
        while (state.nextInput < input.inputs.length) {
          const batch = input.inputs.slice(state.nextInput, state.nextInput + perPart);
          const n = state.parts.length + state.quarantineParts.length;
          const quarantine: string[] = [];
          const counts = { ...state.counts };
          // Rows stream from S3 objects into the Parquet writer, one raw object in memory at a time.
          async function* rows(): AsyncGenerator<CleanRow> {
            for (const key of batch) {
              const body = await store.get({ bucket: input.bucket, key });
              if (!body) throw new Error(`raw object ${key} listed but gone`);
              const lines = text(body).split('\n');
              for (let i = 0; i < lines.length; i++) {
                const line = lines[i]!;
                if (line === '') continue;
                counts.rawRecords++;
                const reject = (reason: string) => {
                  counts.quarantined++;
                  quarantine.push(
                    JSON.stringify({ source: key, line: i + 1, reason, value: line }),
                  );
                };
                let value: unknown;
                try {
                  value = JSON.parse(line);
                } catch (err) {
                  reject(`not JSON: ${(err as Error).message}`);
                  continue;
                }
                const parsed = parseRaw(input.table, value);
                if (!parsed.ok) {
                  reject(`schema: ${parsed.reason}`);
                  continue;
                }
                let row: CleanRow;
                try {
                  row = cleanRecord(input.table, parsed.record);
                } catch (err) {
                  reject(`cleaning: ${(err as Error).message}`);
                  continue;
                }
                const dropped = tally.check(row);
                if (dropped.length > 0) {
                  reject(dropped.join('; '));
                  continue;
                }
                counts.rowsIn++;
                yield row;
              }
            }
          }
          const file = path.join(dir, `part-${n}.parquet`);
          await writeCleanParquet(input.table, rows(), file, { scratchDir: dir });
          const partKey = `${staging}part-${String(n).padStart(5, '0')}.parquet`;
          await store.put({ bucket: input.bucket, key: partKey, body: await readFile(file) });
          await rm(file, { force: true });
          state.parts.push(partKey);
          if (quarantine.length > 0) {
            const qKey = `${staging}quarantine-${String(n).padStart(5, '0')}.json`;
            await store.put({
              bucket: input.bucket,
              key: qKey,
              body: `${quarantine.join('\n')}\n`,
              contentType: 'application/x-ndjson',
            });
            state.quarantineParts.push(qKey);
          }
          state.counts = counts;
          state.nextInput += batch.length;
          state.gateState = tally.snapshot();
          ctx.heartbeat(state);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      return {
        parts: state.parts,
        quarantineParts: state.quarantineParts,
        counts: state.counts,
        gateState: tally.snapshot(),
      };
    },

    async commitPartition(input: CommitPartitionInput): Promise<CommitPartitionResult> {
      const dir = await scratch();
      const db = await openDuckDb({ tempDirectory: path.join(dir, 'duckdb.tmp') });
      try {
        const files: string[] = [];
        for (const [i, key] of input.parts.entries()) {
          files.push(await download(input.bucket, key, dir, `part-${i}.parquet`));
        }
        const c = db.connection;
        await c.run(`CREATE TABLE staged (${columnDefinitionsSql(input.table)})`);
        if (files.length > 0) {
          const list = files.map((f) => `'${f.replace(/'/g, "''")}'`).join(', ');
          await c.run(`INSERT INTO staged SELECT * FROM read_parquet([${list}])`);
        }
        // Exact duplicate rows within the day are removed; ordered so a rerun writes the same file.
        const final = path.join(dir, 'final.parquet');
        await c.run(
          `COPY (SELECT DISTINCT * FROM staged ORDER BY ALL) TO '${final.replace(/'/g, "''")}' (FORMAT parquet)`,
        );
        const counted = await c.runAndReadAll(
          `SELECT count(*)::INTEGER AS n FROM read_parquet('${final.replace(/'/g, "''")}')`,
        );
        const rowsOut = Number(counted.getRowObjects()[0]!.n);
        const counts = {
          rawRecords: input.counts.rawRecords,
          rowsOut,
          quarantined: input.counts.quarantined,
          duplicates: input.counts.rowsIn - rowsOut,
        };
        const tally = new GateTally(gatesOf(input.table));
        tally.restore(input.gateState);
        const gates = [...tally.results(), rowCountGate(counts)];
        const staging = cleanStagingPrefix(input.table, input.date, input.run);
        const failed = gates.filter((g) => g.status === 'failed');
        if (failed.length > 0) {
          await store.put({
            bucket: input.bucket,
            key: `${staging}_gates.json`,
            body: JSON.stringify({ counts, gates }, null, 2),
            contentType: 'application/json',
          });
          throw ApplicationFailure.create({
            type: QUALITY_GATE_FAILED,
            nonRetryable: true,
            message:
              `${input.table} ${input.date}: quality gate failed: ` +
              failed
                .map((g) => `${g.name} (${g.failed} of ${g.checked} rows: ${g.description})`)
                .join('; '),
            details: [gates],
          });
        }

        const fileKey = cleanFileKey(input.table, input.date, input.run, 0);
        const body = await readFile(final);
        await store.put({
          bucket: input.bucket,
          key: fileKey,
          body,
          contentType: 'application/vnd.apache.parquet',
        });
        if (input.quarantineParts.length > 0) {
          const lines: string[] = [];
          for (const key of input.quarantineParts) {
            const q = await store.get({ bucket: input.bucket, key });
            if (q) lines.push(text(q).trimEnd());
          }
          await store.put({
            bucket: input.bucket,
            key: cleanQuarantineKey(input.table, input.date, input.run),
            body: `${lines.join('\n')}\n`,
            contentType: 'application/x-ndjson',
          });
        }
        const manifest: CleanManifest = {
          table: input.table,
          date: input.date,
          run: input.run,
          committedAt: new Date().toISOString(),
          files: [{ key: fileKey, rows: rowsOut, bytes: (await stat(final)).size }],
          inputs: input.inputs,
          counts,
          gates,
        };
        const manifestKey = cleanManifestKey(input.table, input.date);
        // The commit point: readers switch to this run's files in one write.
        await store.put({
          bucket: input.bucket,
          key: manifestKey,
          body: JSON.stringify(manifest, null, 2),
          contentType: 'application/json',
        });
        // Now unreachable: files of earlier runs of this day, and this run's staging.
        const keep = new Set([manifestKey, fileKey]);
        const stale = (
          await listKeys(input.bucket, cleanPartitionPrefix(input.table, input.date))
        ).filter((k) => !keep.has(k));
        for (const k of stale) await store.delete({ bucket: input.bucket, key: k });
        for (const k of await listKeys(input.bucket, staging))
          await store.delete({ bucket: input.bucket, key: k });
        return { manifestKey, files: manifest.files, counts, gates, replaced: stale.length };
      } finally {
        db.close();
        await rm(dir, { recursive: true, force: true });
      }
    },

    /** Whether a day's nightly run finished: its analytics manifest exists. */
    async dayFinished(input: { bucket: string; date: string }): Promise<boolean> {
      return (
        (await store.head({ bucket: input.bucket, key: analyticsManifestKey(input.date) })) !==
        undefined
      );
    },

    async runAnalytics(input: RunAnalyticsInput): Promise<RunAnalyticsResult> {
      const dir = await scratch();
      try {
        const inputs = { pin: [] as string[], geo: [] as string[], user: [] as string[] };
        const partitions = { pin: 0, geo: 0, user: 0 };
        for (const table of TABLES) {
          for await (const o of store.list({
            bucket: input.bucket,
            prefix: `clean/${table}/dt=`,
          })) {
            if (!o.key.endsWith('/_manifest.json')) continue;
            const body = await store.get({ bucket: input.bucket, key: o.key });
            if (!body) continue;
            const manifest = parseCleanManifest(text(body));
            partitions[table]++;
            for (const f of manifest.files) {
              const name = `${table}-${inputs[table].length}.parquet`;
              inputs[table].push(await download(input.bucket, f.key, dir, name));
            }
          }
        }
        const results = await runDuckDbAnalytics(inputs, {
          tempDirectory: path.join(dir, 'duckdb.tmp'),
        });
        const prefix = analyticsPrefix(input.date);
        const queries = [];
        for (const r of results) {
          const key = `${prefix}${r.query}.json`;
          await store.put({
            bucket: input.bucket,
            key,
            body: JSON.stringify({ query: r.query, columns: r.columns, rows: r.rows }, null, 2),
            contentType: 'application/json',
          });
          queries.push({ query: r.query, rows: r.rows.length, key });
        }
        const reportKey = `${prefix}report.html`;
        await store.put({
          bucket: input.bucket,
          key: reportKey,
          body: renderReport(results, { date: input.date, pipelineId: input.pipelineId }),
          contentType: 'text/html; charset=utf-8',
        });
        const manifestKey = analyticsManifestKey(input.date);
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
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export type NightlyActivities = ReturnType<typeof createNightlyActivities>;

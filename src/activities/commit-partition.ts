import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { writeDistinctParquet } from '../analytics/distinct-parquet';
import { openDuckDb } from '../analytics/duckdb-session';
import { cleaningPlanSchema } from '../domain/clean-shards';
import {
  cleanFileKey,
  cleanManifestKey,
  cleanPartitionPrefix,
  cleanPlanKey,
  cleanQuarantineKey,
  cleanShardPartKey,
  cleanShardQuarantineKey,
  cleanStagingPrefix,
  parseCleanManifest,
  type CleanManifest,
} from '../domain/clean-zone';
import { DEFAULT_GATES, commitGates, type GateResult } from '../domain/quality-gates';
import type { Table } from '../domain/tables';
import type { ObjectStore } from '../ports/object-store';
import { withHeartbeatClock } from './heartbeat-clock';
import { downloadObject } from './range-download';

export interface CommitPartitionInput {
  bucket: string;
  table: Table;
  date: string;
  run: string;
  /** Every shard 0..shards-1 has staged its part. */
  shards: number;
  counts: { rawRecords: number; rowsIn: number; quarantined: number };
  gateState: { checked: number; failed: number[] };
}
export interface CommitPartitionResult {
  manifestKey: string;
  files: { key: string; rows: number; bytes: number }[];
  counts: CleanManifest['counts'];
  gates: GateResult[];
  /** Files of earlier runs of this day that the swap made unreachable and this run removed. */
  replaced: number;
}

export const QUALITY_GATE_FAILED = 'QualityGateFailed';

/**
 * The commit of one table's day: the staged parts deduplicated together (exact duplicate rows
 * within the day), the gates, then the manifest swap, the commit point. Parts and files move as
 * streams between S3 and scratch files; rows stay inside DuckDB. A retry after the swap finds its
 * own manifest and only finishes the cleanup.
 */
export function createCommitPartition(deps: {
  store: ObjectStore;
  gates: typeof DEFAULT_GATES;
  scratch: () => Promise<string>;
}) {
  const { store } = deps;

  async function removeUnder(bucket: string, prefix: string, keep: Set<string>): Promise<number> {
    const stale: string[] = [];
    for await (const o of store.list({ bucket, prefix })) if (!keep.has(o.key)) stale.push(o.key);
    for (let i = 0; i < stale.length; i += 1000) {
      await store.deleteMany(bucket, stale.slice(i, i + 1000));
    }
    return stale.length;
  }

  async function committedBy(input: CommitPartitionInput): Promise<CleanManifest | undefined> {
    const body = await store.get({
      bucket: input.bucket,
      key: cleanManifestKey(input.table, input.date),
    });
    if (!body) return undefined;
    const manifest = parseCleanManifest(Buffer.from(body).toString('utf8'));
    return manifest.run === input.run ? manifest : undefined;
  }

  return async function commitPartition(
    input: CommitPartitionInput,
  ): Promise<CommitPartitionResult> {
    const progress = { phase: 'starting', parts: 0 };
    return withHeartbeatClock(
      () => progress,
      async () => {
        const manifestKey = cleanManifestKey(input.table, input.date);
        const staging = cleanStagingPrefix(input.table, input.date, input.run);
        const done = await committedBy(input);
        if (done) {
          // Swapped by an earlier attempt that died before reporting: finish its cleanup.
          await removeUnder(input.bucket, staging, new Set());
          return {
            manifestKey,
            files: done.files,
            counts: done.counts,
            gates: done.gates,
            replaced: 0,
          };
        }
        const dir = await deps.scratch();
        const db = await openDuckDb({ tempDirectory: path.join(dir, 'duckdb.tmp') });
        try {
          progress.phase = 'downloading parts';
          const parts: string[] = [];
          for (let shard = 0; shard < input.shards; shard++) {
            const key = cleanShardPartKey(input.table, input.date, input.run, shard);
            const file = path.join(dir, `part-${shard}.parquet`);
            if (!(await downloadObject(store, input.bucket, key, file))) {
              throw new Error(`staged part s3://${input.bucket}/${key} is missing`);
            }
            parts.push(file);
            progress.parts++;
          }
          progress.phase = 'deduplicating';
          const final = path.join(dir, 'final.parquet');
          const rowsOut = await writeDistinctParquet(db.connection, input.table, parts, final);
          const counts = {
            rawRecords: input.counts.rawRecords,
            rowsOut,
            quarantined: input.counts.quarantined,
            duplicates: input.counts.rowsIn - rowsOut,
          };
          const { gates, failure } = commitGates(
            deps.gates[input.table],
            input.gateState,
            counts,
            `${input.table} ${input.date}`,
          );
          if (failure !== undefined) {
            await store.put({
              bucket: input.bucket,
              key: `${staging}_gates.json`,
              body: JSON.stringify({ counts, gates }, null, 2),
              contentType: 'application/json',
            });
            throw ApplicationFailure.create({
              type: QUALITY_GATE_FAILED,
              nonRetryable: true,
              message: failure,
              details: [gates],
            });
          }

          progress.phase = 'uploading';
          const fileKey = cleanFileKey(input.table, input.date, input.run, 0);
          await store.putFile({
            bucket: input.bucket,
            key: fileKey,
            file: final,
            contentType: 'application/vnd.apache.parquet',
          });
          const files = [{ key: fileKey, rows: rowsOut, bytes: (await stat(final)).size }];
          if (input.counts.quarantined > 0) {
            const merged = path.join(dir, 'quarantine.ndjson');
            const sink = createWriteStream(merged);
            for (let shard = 0; shard < input.shards; shard++) {
              const key = cleanShardQuarantineKey(input.table, input.date, input.run, shard);
              const body = await store.getStream({ bucket: input.bucket, key });
              if (!body) continue;
              for await (const chunk of body) if (!sink.write(chunk)) await once(sink, 'drain');
            }
            sink.end();
            await once(sink, 'close');
            await store.putFile({
              bucket: input.bucket,
              key: cleanQuarantineKey(input.table, input.date, input.run),
              file: merged,
              contentType: 'application/x-ndjson',
            });
          }
          const planBody = await store.get({
            bucket: input.bucket,
            key: cleanPlanKey(input.table, input.date, input.run),
          });
          const inputs = planBody
            ? cleaningPlanSchema
                .parse(JSON.parse(Buffer.from(planBody).toString('utf8')))
                .inputs.map((o) => o.key)
            : [];
          const manifest: CleanManifest = {
            table: input.table,
            date: input.date,
            run: input.run,
            committedAt: new Date().toISOString(),
            files,
            inputs,
            counts,
            gates,
          };
          progress.phase = 'swapping the manifest';
          // The commit point: readers switch to this run's files in one write.
          await store.put({
            bucket: input.bucket,
            key: manifestKey,
            body: JSON.stringify(manifest, null, 2),
            contentType: 'application/json',
          });
          progress.phase = 'removing replaced files';
          const replaced = await removeUnder(
            input.bucket,
            cleanPartitionPrefix(input.table, input.date),
            new Set([manifestKey, fileKey]),
          );
          await removeUnder(input.bucket, staging, new Set());
          return { manifestKey, files, counts, gates, replaced };
        } finally {
          db.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  };
}

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  cleanWithSql,
  readableInPlace,
  type CleanSqlInput,
  type SqlExpectation,
} from '../analytics/clean-sql';
import {
  DuckDbSetupError,
  sharedDuckDb,
  type DuckDbS3Options,
  type DuckDbSession,
} from '../analytics/duckdb-session';
import {
  cleaningPlanSchema,
  DEFAULT_SHARD_LIMITS,
  planShards,
  readsInPlace,
  type CleaningPlan,
  type RawObjectRef,
  type ShardLimits,
  type ShardRange,
} from '../domain/clean-shards';
import { cleanPlanKey, cleanShardPartKey, cleanShardQuarantineKey } from '../domain/clean-zone';
import { DEFAULT_GATES } from '../domain/quality-gates';
import { rawDayPrefix } from '../domain/raw-zone';
import { s3Url, topicFor, type Table } from '../domain/tables';
import type { ObjectStore } from '../ports/object-store';
import { withHeartbeatClock } from './heartbeat-clock';
import { downloadRanges } from './range-download';
import { createCommitPartition } from './commit-partition';

/**
 * The nightly cleaning's side effects, in three activities: `planCleaning` lists the day once and
 * writes the plan (the shards) to S3; `cleanShard` cleans one shard in DuckDB SQL and stages its
 * Parquet part, on whichever worker takes it; `commitPartition` (commit-partition.ts) deduplicates
 * across the parts, applies the gates and swaps the manifest. Workflows carry keys and counts only.
 */

export interface PlanCleaningInput {
  bucket: string;
  pipelineId: string;
  table: Table;
  date: string;
  run: string;
  limits?: Partial<ShardLimits>;
}
export interface PlanCleaningResult {
  planKey: string;
  objects: number;
  bytes: number;
  shards: number;
}

export interface CleanShardInput {
  bucket: string;
  table: Table;
  date: string;
  run: string;
  planKey: string;
  shard: number;
}
export interface ShardCounts {
  rawRecords: number;
  rowsIn: number;
  quarantined: number;
  gateState: { checked: number; failed: number[] };
}
export interface CleanShardResult extends ShardCounts {
  shard: number;
  bytes: number;
  /** true when a previous attempt had staged this shard already (nothing was redone). */
  resumed: boolean;
}

export interface CleaningDeps {
  store: ObjectStore;
  scratchDir?: string;
  /** The expectations per table (DEFAULT_GATES by default); a custom one carries its `sql` twin. */
  gates?: { [T in Table]: SqlExpectation<T>[] };
  /** DuckDB memory ceiling per shard in MB (default 256); beyond it DuckDB spills to scratch. */
  shardMemoryMb?: number;
  /**
   * How DuckDB reaches the bucket of `store`. Given, a shard's first attempt has DuckDB read its
   * whole raw objects in place (readsInPlace); retries, and every range without it (in-memory
   * stores), are downloaded to scratch first, so a store DuckDB cannot read costs one attempt.
   */
  readInPlace?: DuckDbS3Options;
}

const COUNTS_METADATA = 'pinpipe-counts';

/** `key bytes a–b` for each range, for messages that say where a failure happened. */
export function describeRanges(ranges: readonly ShardRange[], shown = 3): string {
  const parts = ranges.slice(0, shown).map((r) => `${r.key} bytes ${r.start}–${r.end}`);
  if (ranges.length > shown) parts.push(`and ${ranges.length - shown} more objects`);
  return parts.join(', ');
}

export function createCleaningActivities(deps: CleaningDeps) {
  const { store } = deps;
  const scratch = () => mkdtemp(path.join(deps.scratchDir ?? tmpdir(), 'pinpipe-shard-'));
  // One database for the shards this process runs at once (one per core: the shard queue's
  // slots), opened once: a database per shard cost more CPU than reading its objects.
  const slots = availableParallelism();
  const engine = (s3?: DuckDbS3Options) =>
    sharedDuckDb({
      memoryLimit: `${slots * (deps.shardMemoryMb ?? 256)}MB`,
      tempDirectory: path.join(
        deps.scratchDir ?? tmpdir(),
        `pinpipe-shards-${process.pid}-${randomBytes(4).toString('hex')}.duckdb.tmp`,
      ),
      // No DuckDB worker threads: each shard's query runs on the thread that drives it, so shards
      // run side by side without sharing a scheduler (shared threads spent a quarter of the
      // worker's CPU on locks, measured at 1M events).
      threads: 1,
      // Each raw object is read once (twice only when it has quarantined lines).
      cacheRemoteFiles: false,
      ...(s3 ? { s3 } : {}),
    });
  const engines = { local: engine(), s3: engine(deps.readInPlace) };
  /** Why DuckDB could not be given S3 access, once it was refused (then shards download). */
  let inPlaceRefused: string | undefined;
  // Every shard of a run reads the same plan: keep the last few in memory.
  const plans = new Map<string, Promise<CleaningPlan>>();
  const loadPlan = (bucket: string, key: string): Promise<CleaningPlan> => {
    const id = `${bucket}/${key}`;
    let plan = plans.get(id);
    if (!plan) {
      plan = store.get({ bucket, key }).then((body) => {
        if (!body) {
          throw ApplicationFailure.nonRetryable(
            `cleaning plan s3://${bucket}/${key} is missing: rerun the nightly for this day`,
            'PlanMissing',
          );
        }
        return cleaningPlanSchema.parse(JSON.parse(Buffer.from(body).toString('utf8')));
      });
      plan.catch(() => plans.delete(id));
      plans.set(id, plan);
      if (plans.size > 4) plans.delete(plans.keys().next().value!);
    }
    return plan;
  };

  return {
    async planCleaning(input: PlanCleaningInput): Promise<PlanCleaningResult> {
      if (!(await store.bucketExists(input.bucket))) {
        throw ApplicationFailure.nonRetryable(
          `bucket ${input.bucket} does not exist: provision the pipeline first (npx pinpipe provision)`,
          'BucketNotFound',
        );
      }
      const planKey = cleanPlanKey(input.table, input.date, input.run);
      // A retry reuses the plan it wrote: the run's inputs are fixed once listed.
      const existing = await store.get({ bucket: input.bucket, key: planKey });
      let plan: CleaningPlan;
      if (existing) {
        plan = cleaningPlanSchema.parse(JSON.parse(Buffer.from(existing).toString('utf8')));
      } else {
        const limits = { ...DEFAULT_SHARD_LIMITS, ...input.limits };
        const prefix = rawDayPrefix(topicFor(input.pipelineId, input.table), input.date);
        const inputs: RawObjectRef[] = [];
        await withHeartbeatClock(
          () => ({ listed: inputs.length }),
          async () => {
            for await (const o of store.list({ bucket: input.bucket, prefix })) {
              if (o.key.endsWith('.json')) inputs.push({ key: o.key, size: o.size });
            }
          },
        );
        plan = {
          table: input.table,
          date: input.date,
          run: input.run,
          limits,
          inputs,
          shards: planShards(inputs, limits),
        };
        await store.put({
          bucket: input.bucket,
          key: planKey,
          body: JSON.stringify(plan),
          contentType: 'application/json',
        });
      }
      return {
        planKey,
        objects: plan.inputs.length,
        bytes: plan.inputs.reduce((n, o) => n + o.size, 0),
        shards: plan.shards.length,
      };
    },

    async cleanShard(input: CleanShardInput): Promise<CleanShardResult> {
      const partKey = cleanShardPartKey(input.table, input.date, input.run, input.shard);
      // The checkpoint: a staged part carries its counts, so a retry of a finished shard (the
      // worker died before reporting) moves on instead of cleaning it again.
      const staged = await store.head({ bucket: input.bucket, key: partKey });
      const recorded = staged?.metadata[COUNTS_METADATA];
      if (recorded) {
        return {
          ...(JSON.parse(recorded) as ShardCounts),
          shard: input.shard,
          bytes: 0,
          resumed: true,
        };
      }
      const plan = await loadPlan(input.bucket, input.planKey);
      const ranges = plan.shards[input.shard];
      if (!ranges) {
        throw ApplicationFailure.nonRetryable(
          `shard ${input.shard} is not in plan ${input.planKey} (${plan.shards.length} shards)`,
          'InvalidInput',
        );
      }
      const progress = { phase: 'starting', bytes: 0, range: 0 };
      const where = () => {
        const r = ranges[progress.range];
        return r ? `${r.key} from byte ${r.start}` : describeRanges(ranges);
      };
      try {
        return await withHeartbeatClock(
          () => ({ shard: input.shard, at: where(), ...progress }),
          async () => {
            const dir = await scratch();
            let counts: ShardCounts;
            try {
              const sizes = new Map(plan.inputs.map((o) => [o.key, o.size]));
              const whole = (r: ShardRange) =>
                readsInPlace(r, sizes.get(r.key)) && readableInPlace(s3Url(input.bucket, r.key));
              // A first attempt reads whole objects in place; a retry downloads everything.
              const db = await openSession(
                Context.current().info.attempt === 1 && ranges.some(whole),
              );
              try {
                const inPlace = (r: ShardRange) => db.remote && whole(r);
                progress.phase = 'downloading';
                const copied = ranges.filter((r) => !inPlace(r));
                const files = await downloadRanges(store, input.bucket, copied, dir, progress);
                // In the plan's order: the quarantine lists rejected lines in input order.
                const inputs = ranges.flatMap((r): CleanSqlInput[] =>
                  inPlace(r)
                    ? [{ file: s3Url(input.bucket, r.key), source: r.key, baseOffset: 0 }]
                    : files.filter((f) => f.source === r.key),
                );
                progress.phase = 'cleaning';
                counts = await cleanFiles(db.session, input.table, inputs, dir);
              } finally {
                db.session.close();
              }
              progress.phase = 'staging';
              if (counts.quarantined > 0) {
                await store.putFile({
                  bucket: input.bucket,
                  key: cleanShardQuarantineKey(input.table, input.date, input.run, input.shard),
                  file: path.join(dir, 'quarantine.ndjson'),
                  contentType: 'application/x-ndjson',
                });
              }
              // Last: the part's existence (with its counts) marks the shard done.
              await store.putFile({
                bucket: input.bucket,
                key: partKey,
                file: path.join(dir, 'part.parquet'),
                contentType: 'application/vnd.apache.parquet',
                metadata: { [COUNTS_METADATA]: JSON.stringify(counts) },
              });
              const bytes = ranges.reduce((n, r) => n + r.end - r.start, 0);
              return { ...counts, shard: input.shard, bytes, resumed: false };
            } finally {
              await rm(dir, { recursive: true, force: true });
            }
          },
        );
      } catch (err) {
        throw located(err, `${where()} while ${progress.phase}`);
      }
    },

    commitPartition: createCommitPartition({
      store,
      gates: deps.gates ?? DEFAULT_GATES,
      scratch,
    }),
  };

  /**
   * A session of the shards' database: with S3 access when `remote` is asked for and can be set
   * up. When it cannot (e.g. no key pair and no DuckDB `aws` extension for the credential chain),
   * the shards download their objects instead, and the worker says why once.
   */
  async function openSession(
    remote: boolean,
  ): Promise<{ session: DuckDbSession; remote: boolean }> {
    if (remote && deps.readInPlace !== undefined && inPlaceRefused === undefined) {
      try {
        return { session: await engines.s3.session(), remote: true };
      } catch (err) {
        if (!(err instanceof DuckDbSetupError)) throw err;
        inPlaceRefused = err.message;
        Context.current().log.warn(
          `shards download their raw objects: DuckDB cannot read them in place: ${err.message}`,
        );
      }
    }
    return { session: await engines.local.session(), remote: false };
  }

  async function cleanFiles(
    db: DuckDbSession,
    table: Table,
    inputs: CleanSqlInput[],
    dir: string,
  ): Promise<ShardCounts> {
    const result = await cleanWithSql(db.connection, {
      table,
      inputs,
      parquetOut: path.join(dir, 'part.parquet'),
      quarantineOut: path.join(dir, 'quarantine.ndjson'),
      ...(deps.gates ? { gates: deps.gates[table] } : {}),
    });
    await stat(path.join(dir, 'part.parquet'));
    return result;
  }
}

/** The same failure, its message prefixed with where it happened; retryability unchanged. */
function located(err: unknown, where: string): unknown {
  if (err instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: `${where}: ${err.message}`,
      ...(err.type ? { type: err.type } : {}),
      nonRetryable: err.nonRetryable === true,
      details: err.details ?? [],
    });
  }
  if (err instanceof Error) {
    // Cancellation (heartbeat timeout, worker shutdown) must stay what it is.
    if (Context.current().cancellationSignal.aborted) return err;
    // No cause: the workflow reports the innermost message, which must be this one.
    const wrapped = new Error(`${where}: ${err.message}`);
    wrapped.name = err.name;
    return wrapped;
  }
  return err;
}

export type CleaningActivities = ReturnType<typeof createCleaningActivities>;

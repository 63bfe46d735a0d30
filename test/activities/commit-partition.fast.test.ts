import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import {
  createCleaningActivities,
  type CleanShardResult,
} from '../../src/activities/cleaning-activities';
import {
  QUALITY_GATE_FAILED,
  type CommitPartitionInput,
} from '../../src/activities/commit-partition';
import {
  cleanFileKey,
  cleanManifestKey,
  cleanPlanKey,
  cleanQuarantineKey,
  cleanStagingPrefix,
  parseCleanManifest,
} from '../../src/domain/clean-zone';
import type { GateResult } from '../../src/domain/quality-gates';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { topicFor } from '../../src/domain/tables';
import { pinRecord } from '../helpers/ingest-fixtures';
import { activityAttempt, useScratchDir } from '../fakes/activity-environment';
import { MemoryObjectStore } from '../fakes/memory-object-store';
import { parquetColumn } from '../fakes/parquet';

const PIPELINE = '0a1b2c3d4e5f';
const BUCKET = `user-${PIPELINE}-bucket`;
const TOPIC = topicFor(PIPELINE, 'pin');
const DAY = '2024-03-01';

const pinLine = (seq: number) => JSON.stringify(pinRecord(seq));

describe('activities/commit-partition (fast: in-memory S3, in-process DuckDB)', () => {
  const scratch = useScratchDir('pinpipe-commit-fast-');
  let store: MemoryObjectStore;
  let cleaning: ReturnType<typeof createCleaningActivities>;

  beforeEach(() => {
    store = new MemoryObjectStore({ buckets: [BUCKET] });
    cleaning = createCleaningActivities({ store, scratchDir: scratch() });
  });

  /** Raw objects (one per shard), planned and cleaned: the input of a commit of `run`. */
  async function staged(run: string, objects: string[][]): Promise<CommitPartitionInput> {
    for (const [i, lines] of objects.entries()) {
      await store.put({
        bucket: BUCKET,
        key: rawObjectKey({ topic: TOPIC, partition: 0, startOffset: i * 100, day: DAY }),
        body: lines.map((l) => `${l}\n`).join(''),
      });
    }
    const plan = await activityAttempt().run(cleaning, 'planCleaning', {
      bucket: BUCKET,
      pipelineId: PIPELINE,
      table: 'pin',
      date: DAY,
      run,
      limits: { maxObjectsPerShard: 1 },
    });
    const shards: CleanShardResult[] = [];
    for (let shard = 0; shard < plan.shards; shard++) {
      shards.push(
        await activityAttempt().run(cleaning, 'cleanShard', {
          bucket: BUCKET,
          table: 'pin',
          date: DAY,
          run,
          planKey: plan.planKey,
          shard,
        }),
      );
    }
    const sum = (f: (s: CleanShardResult) => number) => shards.reduce((n, s) => n + f(s), 0);
    return {
      bucket: BUCKET,
      table: 'pin',
      date: DAY,
      run,
      shards: shards.length,
      counts: {
        rawRecords: sum((s) => s.rawRecords),
        rowsIn: sum((s) => s.rowsIn),
        quarantined: sum((s) => s.quarantined),
      },
      gateState: {
        checked: sum((s) => s.gateState.checked),
        failed: shards[0]!.gateState.failed.map((_, i) => sum((s) => s.gateState.failed[i]!)),
      },
    };
  }

  it('deduplicates across shards, applies the gates and swaps the manifest in last', async () => {
    const input = await staged('run000000001', [
      [pinLine(1), pinLine(2), '{"index": 9, broken'],
      [pinLine(2), pinLine(3), pinLine(3)],
    ]);
    const attempt = activityAttempt();
    const result = await attempt.run(cleaning, 'commitPartition', input);

    const fileKey = cleanFileKey('pin', DAY, 'run000000001', 0);
    assert.equal(result.manifestKey, cleanManifestKey('pin', DAY));
    assert.deepEqual(result.counts, { rawRecords: 6, rowsOut: 3, quarantined: 1, duplicates: 2 });
    assert.deepEqual(
      result.files.map((f) => [f.key, f.rows]),
      [[fileKey, 3]],
    );
    assert.ok(result.gates.every((g) => g.status === 'pass'));
    assert.ok(result.gates.some((g) => g.name === 'row_counts_reconcile'));
    assert.deepEqual(
      (await parquetColumn(store, BUCKET, fileKey, 'ind', scratch())).map(Number),
      [1, 2, 3],
    );

    const manifest = parseCleanManifest(store.text(BUCKET, result.manifestKey)!);
    assert.equal(manifest.run, 'run000000001');
    assert.deepEqual(manifest.files, result.files);
    assert.equal(manifest.inputs.length, 2, 'the exact raw objects of the plan');
    const quarantine = store.text(BUCKET, cleanQuarantineKey('pin', DAY, 'run000000001'))!;
    assert.match(quarantine, /broken/);
    assert.deepEqual(store.keys(BUCKET, cleanStagingPrefix('pin', DAY, 'run000000001')), []);
    assert.equal(result.replaced, 0);
    assert.ok(attempt.heartbeats.length > 0);
    assert.deepEqual(await readdir(scratch()), [], 'scratch removed');
  });

  it("a rerun of the day swaps in its own files and removes the replaced run's", async () => {
    const first = await staged('run000000001', [[pinLine(1)]]);
    await activityAttempt().run(cleaning, 'commitPartition', first);
    const second = await staged('run000000002', [[pinLine(1)], [pinLine(4)]]);
    const result = await activityAttempt().run(cleaning, 'commitPartition', second);
    assert.equal(result.replaced, 1);
    assert.deepEqual(store.keys(BUCKET, `clean/pin/dt=${DAY}/`), [
      cleanManifestKey('pin', DAY),
      cleanFileKey('pin', DAY, 'run000000002', 0),
    ]);
    assert.equal(parseCleanManifest(store.text(BUCKET, result.manifestKey)!).run, 'run000000002');
  });

  it('a retry after the swap returns the committed manifest and only finishes the cleanup', async () => {
    const input = await staged('run000000001', [[pinLine(1), pinLine(2)]]);
    const first = await activityAttempt().run(cleaning, 'commitPartition', input);
    const leftover = `${cleanStagingPrefix('pin', DAY, input.run)}part-00000.parquet`;
    await store.put({ bucket: BUCKET, key: leftover, body: 'left by the dead attempt' });
    const manifestBefore = store.object(BUCKET, first.manifestKey)!.etag;
    const reads = store.faults.count('getStream');

    const retry = await activityAttempt({ attempt: 2 }).run(cleaning, 'commitPartition', input);
    assert.deepEqual(retry.files, first.files);
    assert.deepEqual(retry.counts, first.counts);
    assert.equal(retry.replaced, 0);
    assert.equal(store.object(BUCKET, first.manifestKey)!.etag, manifestBefore, 'not rewritten');
    assert.equal(store.faults.count('getStream'), reads, 'no part downloaded again');
    assert.equal(store.object(BUCKET, leftover), undefined, 'staging removed');
  });

  it('fails for good when a fail gate trips, leaving the gates beside the staging and no manifest', async () => {
    const input = await staged('run000000001', [[pinLine(1), pinLine(2)]]);
    // One row of the shards' tallies failed ind_is_integer (a fail gate, no failure allowed).
    input.gateState = {
      ...input.gateState,
      failed: input.gateState.failed.map((f, i) => (i === 0 ? 1 : f)),
    };
    const err = await activityAttempt()
      .run(cleaning, 'commitPartition', input)
      .then(
        () => assert.fail('expected the gate to fail the commit'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, QUALITY_GATE_FAILED);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /ind_is_integer \(1 of 2 rows/);
    const [gates] = err.details as [GateResult[]];
    assert.equal(gates.find((g) => g.name === 'ind_is_integer')?.status, 'failed');
    assert.equal(store.object(BUCKET, cleanManifestKey('pin', DAY)), undefined);
    assert.ok(store.object(BUCKET, `${cleanStagingPrefix('pin', DAY, input.run)}_gates.json`));
  });

  it('fails the reconciliation when the counts do not add up', async () => {
    const input = await staged('run000000001', [[pinLine(1), pinLine(2)]]);
    input.counts = { ...input.counts, rawRecords: input.counts.rawRecords + 1 };
    const err = await activityAttempt()
      .run(cleaning, 'commitPartition', input)
      .then(
        () => assert.fail('expected the reconciliation to fail'),
        (e: unknown) => e as ApplicationFailure,
      );
    assert.equal(err.type, QUALITY_GATE_FAILED);
    assert.match(err.message, /row_counts_reconcile/);
  });

  it('refuses to commit with a staged part missing (retryable), and writes no manifest', async () => {
    const input = await staged('run000000001', [[pinLine(1)]]);
    await assert.rejects(
      activityAttempt().run(cleaning, 'commitPartition', { ...input, shards: 2 }),
      (e: Error) =>
        !(e instanceof ApplicationFailure) && /part-00001.parquet is missing/.test(e.message),
    );
    assert.equal(store.object(BUCKET, cleanManifestKey('pin', DAY)), undefined);
  });

  it('commits an empty day as a file of no rows', async () => {
    const result = await activityAttempt().run(cleaning, 'commitPartition', {
      bucket: BUCKET,
      table: 'pin',
      date: DAY,
      run: 'run000000001',
      shards: 0,
      counts: { rawRecords: 0, rowsIn: 0, quarantined: 0 },
      gateState: { checked: 0, failed: [0, 0, 0, 0] },
    });
    assert.deepEqual(result.counts, { rawRecords: 0, rowsOut: 0, quarantined: 0, duplicates: 0 });
    assert.deepEqual(
      await parquetColumn(store, BUCKET, result.files[0]!.key, 'ind', scratch()),
      [],
    );
    assert.equal(store.object(BUCKET, cleanPlanKey('pin', DAY, 'run000000001')), undefined);
    assert.deepEqual(parseCleanManifest(store.text(BUCKET, result.manifestKey)!).inputs, []);
  });
});

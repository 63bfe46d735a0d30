import assert from 'node:assert/strict';
import { createNightlyActivities } from '../../src/activities/nightly-activities';
import { createSinkActivities } from '../../src/activities/sink-activities';
import { parseCleanManifest } from '../../src/domain/clean-zone';
import { pinRecord } from '../helpers/ingest-fixtures';
import { activityAttempt, useScratchDir } from '../fakes/activity-environment';
import { MemoryKafka } from '../fakes/memory-kafka';
import { MemoryObjectStore } from '../fakes/memory-object-store';
import { parquetColumn } from '../fakes/parquet';

const PIPELINE = '0a1b2c3d4e5f';
const BUCKET = `user-${PIPELINE}-bucket`;
const TOPIC = `${PIPELINE}.pin`;
const DAY = '2024-03-01';
const T0 = Date.parse(`${DAY}T08:00:00Z`);

/**
 * The nightly activities as the worker registers them, fed by the sink: a day's records go from
 * Kafka through the raw zone to a committed clean partition, every service in memory (DuckDB
 * in-process). The analytics' queries need S3 through httpfs and are not run here (see
 * analytics-activities.fast.test.ts for what of them runs without it).
 */
describe('activities/nightly-activities (fast: Kafka → raw → clean, in memory)', () => {
  const scratch = useScratchDir('pinpipe-nightly-fast-', 'all');

  it('registers the cleaning and the analytics activities together', () => {
    const nightly = createNightlyActivities({
      store: new MemoryObjectStore(),
      duckdb: { region: 'us-east-1' },
    });
    assert.deepEqual(Object.keys(nightly).sort(), [
      'cleanShard',
      'commitPartition',
      'dayFinished',
      'planCleaning',
      'runAnalytics',
    ]);
  });

  it('cleans what the sink wrote: every valid record once, duplicates removed, the quarantine apart', async () => {
    const kafka = new MemoryKafka();
    await kafka.ensureTopics([{ name: TOPIC, partitions: 2 }]);
    const store = new MemoryObjectStore({ buckets: [BUCKET] });
    // 40 records on two partitions: 31 distinct pins, 5 repeats (as the source's draw makes),
    // 4 that are not JSON (the sink's quarantine: they never reach the raw zone).
    for (let i = 0; i < 40; i++) {
      const value = i % 10 === 9 ? `{"index": ${i}, broken` : JSON.stringify(pinRecord(i % 34));
      kafka.append(TOPIC, i % 2, [{ value, timestamp: T0 + i * 1000 }]);
    }
    const sink = createSinkActivities({ kafka, store, now: () => T0 + 86_400_000 });
    let sunk = 0;
    for (const partition of [0, 1]) {
      const r = await activityAttempt().run(sink, 'sinkBatch', {
        table: 'pin',
        topic: TOPIC,
        bucket: BUCKET,
        partition,
        fromOffset: 0,
        maxRecords: 7,
        maxBytes: 1 << 20,
        rotateIntervalMs: 60_000,
      });
      assert.equal(r.nextOffset, 20);
      sunk += r.recordsWritten;
    }
    assert.equal(sunk, 36);

    const nightly = createNightlyActivities({
      store,
      scratchDir: scratch(),
      duckdb: { region: 'us-east-1' },
    });
    const run = 'run000000001';
    const plan = await activityAttempt().run(nightly, 'planCleaning', {
      bucket: BUCKET,
      pipelineId: PIPELINE,
      table: 'pin',
      date: DAY,
      run,
      limits: { maxObjectsPerShard: 3 },
    });
    assert.ok(plan.shards >= 2, `several shards (${plan.shards})`);
    const counts = { rawRecords: 0, rowsIn: 0, quarantined: 0 };
    const gateState = { checked: 0, failed: [0, 0, 0, 0] };
    for (let shard = 0; shard < plan.shards; shard++) {
      const r = await activityAttempt().run(nightly, 'cleanShard', {
        bucket: BUCKET,
        table: 'pin',
        date: DAY,
        run,
        planKey: plan.planKey,
        shard,
      });
      counts.rawRecords += r.rawRecords;
      counts.rowsIn += r.rowsIn;
      counts.quarantined += r.quarantined;
      gateState.checked += r.gateState.checked;
      r.gateState.failed.forEach((f, i) => (gateState.failed[i]! += f));
    }
    assert.equal(counts.rawRecords, 36, 'the raw zone holds exactly what the sink counted');
    const committed = await activityAttempt().run(nightly, 'commitPartition', {
      bucket: BUCKET,
      table: 'pin',
      date: DAY,
      run,
      shards: plan.shards,
      counts,
      gateState,
    });
    const valid = [...Array(40).keys()].filter((i) => i % 10 !== 9).map((i) => i % 34);
    const distinct = [...new Set(valid)].sort((a, b) => a - b);
    assert.equal(distinct.length, 31);
    assert.deepEqual(committed.counts, {
      rawRecords: 36,
      rowsOut: 31,
      quarantined: 0,
      duplicates: 5,
    });
    const inds = await parquetColumn(store, BUCKET, committed.files[0]!.key, 'ind', scratch());
    assert.deepEqual(inds.map(Number), distinct);
    const manifest = parseCleanManifest(store.text(BUCKET, committed.manifestKey)!);
    assert.equal(manifest.inputs.length, plan.objects);
    assert.equal(
      await activityAttempt().run(nightly, 'dayFinished', { bucket: BUCKET, date: DAY }),
      false,
      'cleaned, but no analytics yet',
    );
  });
});

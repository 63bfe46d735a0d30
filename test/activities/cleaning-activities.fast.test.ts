import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { ApplicationFailure } from '@temporalio/common';
import {
  createCleaningActivities,
  type CleanShardInput,
  type PlanCleaningInput,
} from '../../src/activities/cleaning-activities';
import { cleaningPlanSchema } from '../../src/domain/clean-shards';
import {
  cleanPlanKey,
  cleanShardPartKey,
  cleanShardQuarantineKey,
} from '../../src/domain/clean-zone';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { topicFor } from '../../src/domain/tables';
import { pinRecord } from '../helpers/ingest-fixtures';
import { activityAttempt, failureOf, useScratchDir } from '../fakes/activity-environment';
import { MemoryObjectStore } from '../fakes/memory-object-store';
import { parquetColumn } from '../fakes/parquet';

const PIPELINE = '0a1b2c3d4e5f';
const BUCKET = `user-${PIPELINE}-bucket`;
const TOPIC = topicFor(PIPELINE, 'pin');
const DAY = '2024-03-01';
const RUN = 'run000000001';

const pinLine = (seq: number) => JSON.stringify(pinRecord(seq));
const rawKey = (partition: number, startOffset: number, day = DAY, topic = TOPIC) =>
  rawObjectKey({ topic, partition, startOffset, day });

describe('activities/cleaning-activities (fast: in-memory S3, in-process DuckDB)', () => {
  const scratch = useScratchDir('pinpipe-cleaning-fast-');
  let store: MemoryObjectStore;
  let cleaning: ReturnType<typeof createCleaningActivities>;

  beforeEach(() => {
    store = new MemoryObjectStore({ buckets: [BUCKET] });
    cleaning = createCleaningActivities({ store, scratchDir: scratch() });
  });

  const planInput = (overrides: Partial<PlanCleaningInput> = {}): PlanCleaningInput => ({
    bucket: BUCKET,
    pipelineId: PIPELINE,
    table: 'pin',
    date: DAY,
    run: RUN,
    ...overrides,
  });

  async function putRaw(key: string, lines: string[]): Promise<number> {
    const body = lines.map((l) => `${l}\n`).join('');
    await store.put({ bucket: BUCKET, key, body });
    return Buffer.byteLength(body);
  }

  describe('planCleaning', () => {
    it('refuses for good a bucket that does not exist', async () => {
      const failure = await failureOf(
        activityAttempt().run(cleaning, 'planCleaning', planInput({ bucket: 'no-such-bucket' })),
      );
      assert.equal(failure.type, 'BucketNotFound');
      assert.equal(failure.nonRetryable, true);
    });

    it("lists the day's raw objects of the table once and writes the plan of shards", async () => {
      const a = await putRaw(rawKey(0, 0), [pinLine(1), pinLine(2)]);
      const b = await putRaw(rawKey(1, 0), [pinLine(3)]);
      const c = await putRaw(rawKey(1, 1), [pinLine(4)]);
      await putRaw(rawKey(0, 9, '2024-03-02'), [pinLine(5)]); // another day
      await putRaw(rawKey(0, 0, DAY, topicFor(PIPELINE, 'geo')), ['{}']); // another table
      await store.put({ bucket: BUCKET, key: `topics/${TOPIC}/dt=${DAY}/notes.txt`, body: 'x' });

      const attempt = activityAttempt();
      const result = await attempt.run(
        cleaning,
        'planCleaning',
        planInput({ limits: { maxObjectsPerShard: 2 } }),
      );
      assert.deepEqual(result, {
        planKey: cleanPlanKey('pin', DAY, RUN),
        objects: 3,
        bytes: a + b + c,
        shards: 2,
      });
      const plan = cleaningPlanSchema.parse(JSON.parse(store.text(BUCKET, result.planKey)!));
      assert.deepEqual(
        plan.inputs.map((i) => i.key),
        [rawKey(0, 0), rawKey(1, 0), rawKey(1, 1)],
      );
      assert.deepEqual(
        plan.shards.map((s) => s.map((r) => r.key)),
        [[rawKey(0, 0), rawKey(1, 0)], [rawKey(1, 1)]],
      );
      assert.equal(plan.limits.maxObjectsPerShard, 2);
      assert.ok(attempt.heartbeats.length > 0, 'heartbeats while listing');
    });

    it('a retry reuses the plan it wrote, even if objects arrived since', async () => {
      await putRaw(rawKey(0, 0), [pinLine(1)]);
      const first = await activityAttempt().run(cleaning, 'planCleaning', planInput());
      const planBefore = store.object(BUCKET, first.planKey)!.etag;
      await putRaw(rawKey(0, 1), [pinLine(2)]);
      const retry = await activityAttempt({ attempt: 2 }).run(
        cleaning,
        'planCleaning',
        planInput(),
      );
      assert.deepEqual(retry, first);
      assert.equal(store.object(BUCKET, first.planKey)!.etag, planBefore, 'plan not rewritten');
    });
  });

  describe('cleanShard', () => {
    const shardInput = (shard: number): CleanShardInput => ({
      bucket: BUCKET,
      table: 'pin',
      date: DAY,
      run: RUN,
      planKey: cleanPlanKey('pin', DAY, RUN),
      shard,
    });

    async function planned(objects: string[][], maxObjectsPerShard = 10) {
      for (const [i, lines] of objects.entries()) await putRaw(rawKey(0, i * 100), lines);
      return activityAttempt().run(
        cleaning,
        'planCleaning',
        planInput({ limits: { maxObjectsPerShard } }),
      );
    }

    it('cleans a shard in DuckDB and stages its part (with its counts) and its quarantine', async () => {
      const broken = '{"index": 7, broken';
      await planned([
        [pinLine(1), pinLine(2), broken, pinLine(2)],
        [pinLine(3), JSON.stringify({ ...pinRecord(4), index: 'x' })],
      ]);
      const attempt = activityAttempt();
      const result = await attempt.run(cleaning, 'cleanShard', shardInput(0));
      assert.equal(result.resumed, false);
      assert.equal(result.rawRecords, 6);
      assert.equal(result.quarantined, 2);
      assert.equal(result.rowsIn, 4, 'every kept line, the repeat included');
      assert.ok(result.bytes > 0);
      assert.deepEqual(await readdir(scratch()), [], 'its scratch directory is removed');

      const partKey = cleanShardPartKey('pin', DAY, RUN, 0);
      const part = store.object(BUCKET, partKey)!;
      assert.deepEqual(
        JSON.parse(part.metadata['pinpipe-counts']!),
        {
          rawRecords: 6,
          rowsIn: 4,
          quarantined: 2,
          gateState: result.gateState,
        },
        'the part carries the counts a retry returns',
      );
      assert.deepEqual(
        (await parquetColumn(store, BUCKET, partKey, 'ind', scratch())).map(Number),
        [1, 2, 3],
      );

      const quarantine = store
        .text(BUCKET, cleanShardQuarantineKey('pin', DAY, RUN, 0))!
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { source: string; offset: number; reason: string });
      assert.deepEqual(
        quarantine.map((q) => q.source),
        [rawKey(0, 0), rawKey(0, 100)],
      );
      const brokenAt = Buffer.byteLength(`${pinLine(1)}\n${pinLine(2)}\n`);
      assert.equal(quarantine[0]!.offset, brokenAt, 'the byte offset of the line in its object');
      assert.ok(quarantine.every((q) => q.reason.length > 0));

      const beat = attempt.heartbeats.at(-1) as { shard: number; phase: string };
      assert.equal(beat.shard, 0);
    });

    it('a retry of a staged shard returns its counts without reading anything again', async () => {
      await planned([[pinLine(1), pinLine(2)]]);
      const first = await activityAttempt().run(cleaning, 'cleanShard', shardInput(0));
      const reads = store.faults.count('getStream');
      const part = store.object(BUCKET, cleanShardPartKey('pin', DAY, RUN, 0))!.etag;

      const retry = await activityAttempt({ attempt: 2 }).run(
        cleaning,
        'cleanShard',
        shardInput(0),
      );
      assert.equal(retry.resumed, true);
      assert.equal(retry.rawRecords, first.rawRecords);
      assert.equal(retry.rowsIn, first.rowsIn);
      assert.deepEqual(retry.gateState, first.gateState);
      assert.equal(store.faults.count('getStream'), reads, 'nothing downloaded');
      assert.equal(store.object(BUCKET, cleanShardPartKey('pin', DAY, RUN, 0))!.etag, part);
    });

    it('refuses for good a shard the plan does not have', async () => {
      await planned([[pinLine(1)]]);
      const failure = await failureOf(activityAttempt().run(cleaning, 'cleanShard', shardInput(5)));
      assert.equal(failure.type, 'InvalidInput');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /shard 5 is not in plan .* \(1 shards\)/);
    });

    it('fails for good on a missing plan, without remembering the miss', async () => {
      const failure = await failureOf(activityAttempt().run(cleaning, 'cleanShard', shardInput(0)));
      assert.equal(failure.type, 'PlanMissing');
      assert.equal(failure.nonRetryable, true);

      await planned([[pinLine(1)]]);
      const later = await activityAttempt().run(cleaning, 'cleanShard', shardInput(0));
      assert.equal(later.rowsIn, 1, 'the plan written since is read');
    });

    it('says which object and phase failed; a vanished object is a retryable error', async () => {
      await planned([[pinLine(1)], [pinLine(2)]]);
      await store.delete({ bucket: BUCKET, key: rawKey(0, 100) });
      const err = await activityAttempt()
        .run(cleaning, 'cleanShard', shardInput(0))
        .then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e as Error,
        );
      assert.ok(!(err instanceof ApplicationFailure), 'retryable: a plain error');
      assert.ok(
        err.message.startsWith(`${rawKey(0, 100)} from byte 0 while downloading: `),
        err.message,
      );
      assert.match(err.message, /is in the plan but gone/);
      assert.equal(store.object(BUCKET, cleanShardPartKey('pin', DAY, RUN, 0)), undefined);
    });

    it("keeps an ApplicationFailure's type and retryability when it adds where", async () => {
      await planned([[pinLine(1)]]);
      store.faults.fail(
        'putFile',
        ApplicationFailure.nonRetryable('access denied', 'AccessDenied'),
      );
      const failure = await failureOf(activityAttempt().run(cleaning, 'cleanShard', shardInput(0)));
      assert.equal(failure.type, 'AccessDenied');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /while staging: access denied$/);
    });

    it('lets an error under cancellation through unchanged', async () => {
      await planned([[pinLine(1)]]);
      store.faults.fail('getStream', new Error('aborted by the worker'));
      const attempt = activityAttempt();
      attempt.env.cancel();
      await assert.rejects(attempt.run(cleaning, 'cleanShard', shardInput(0)), (e: Error) => {
        assert.equal(e.message, 'aborted by the worker', 'not prefixed with where');
        return true;
      });
    });
  });
});

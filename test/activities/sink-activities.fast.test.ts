import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  CONDITIONAL_WRITES_UNPROVEN,
  CONDITIONAL_WRITES_UNSUPPORTED,
} from '../../src/activities/conditional-write-guard';
import {
  createSinkActivities,
  OBJECT_CONFLICT,
  OBJECT_IN_FLIGHT,
  TOPIC_NOT_FOUND,
  UNREADABLE_RECORDS,
  type SinkBatchInput,
  type SinkBatchResult,
} from '../../src/activities/sink-activities';
import { recordSignature, signRuns } from '../../src/adapters/record-signature';
import { quarantineObjectKey, rawObjectKey } from '../../src/domain/raw-zone';
import { UnreadableRecordsError } from '../../src/ports/kafka';
import { pinRecord } from '../helpers/ingest-fixtures';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { MemoryKafka } from '../fakes/memory-kafka';
import { MemoryObjectStore } from '../fakes/memory-object-store';

const PIPELINE = '0a1b2c3d4e5f';
const TOPIC = `${PIPELINE}.pin`;
const BUCKET = `user-${PIPELINE}-bucket`;
const DAY = '2024-03-01';
const T0 = Date.parse(`${DAY}T10:00:00Z`);
/** Well past every record's timestamp: batches are due by age unless a test says otherwise. */
const LATER = T0 + 3_600_000;

const pin = (seq: number) => JSON.stringify(pinRecord(seq));

interface Fixture {
  kafka: MemoryKafka;
  store: MemoryObjectStore;
  clock: { now: number };
  sink: ReturnType<typeof createSinkActivities>;
}

const SIGNING_KEY = 'the key the API and the workers share';

function fixture(partitions = 1): Fixture {
  const kafka = new MemoryKafka();
  void kafka.ensureTopics([{ name: TOPIC, partitions }]);
  const store = new MemoryObjectStore({ buckets: [BUCKET] });
  const clock = { now: LATER };
  const signature = recordSignature(SIGNING_KEY);
  const sink = createSinkActivities({ kafka, store, signature, now: () => clock.now });
  return { kafka, store, clock, sink };
}

/** Appends values as the ingest API produces validated records: one signed run. */
function appendSigned(kafka: MemoryKafka, values: string[], key = SIGNING_KEY) {
  const messages = values.map((value) => ({ value, partition: 0, validated: true }));
  const at = kafka.topics.get(TOPIC)!.partitions[0]!.high;
  return kafka.append(
    TOPIC,
    0,
    signRuns(TOPIC, messages, recordSignature(key)).map((m, i) => ({
      value: m.value as string,
      timestamp: T0 + (at + i) * 1000,
      ...(m.headers ? { headers: m.headers as Record<string, string> } : {}),
    })),
  );
}

function batchInput(overrides: Partial<SinkBatchInput> = {}): SinkBatchInput {
  return {
    table: 'pin',
    topic: TOPIC,
    bucket: BUCKET,
    partition: 0,
    fromOffset: 0,
    maxRecords: 100,
    maxBytes: 1024 * 1024,
    rotateIntervalMs: 60_000,
    ...overrides,
  };
}

/** Appends values at T0 + i seconds. */
function append(kafka: MemoryKafka, values: (string | null | Uint8Array)[], partition = 0) {
  const at = kafka.topics.get(TOPIC)!.partitions[partition]!.high;
  return kafka.append(
    TOPIC,
    partition,
    values.map((value, i) => ({ value, timestamp: T0 + (at + i) * 1000 })),
  );
}

const rawKey = (startOffset: number, partition = 0, day = DAY) =>
  rawObjectKey({ topic: TOPIC, partition, startOffset, day });
const quarantineKey = (startOffset: number, partition = 0) =>
  quarantineObjectKey('pin', { topic: TOPIC, partition, startOffset, day: DAY });

/** Every object of the partition with the offsets its metadata says it holds. */
function objectsOf(store: MemoryObjectStore, partition = 0) {
  return store
    .keys(BUCKET)
    .filter((k) => k.includes(`/partition=${partition}/`))
    .map((key) => {
      const o = store.object(BUCKET, key)!;
      return {
        key,
        first: Number(o.metadata['first-offset']),
        last: Number(o.metadata['last-offset']),
        lines: Buffer.from(o.body).toString('utf8').split('\n').slice(0, -1),
      };
    })
    .sort((a, b) => a.first - b.first);
}

/** Asserts the objects tile [from, to) with no gap and no overlap; returns every line. */
function assertTiles(store: MemoryObjectStore, from: number, to: number): string[] {
  let next = from;
  const lines: string[] = [];
  for (const o of objectsOf(store)) {
    assert.equal(o.first, next, `${o.key} starts where the previous ended`);
    assert.equal(o.lines.length, o.last - o.first + 1, `${o.key} holds one line per offset`);
    next = o.last + 1;
    lines.push(...o.lines);
  }
  assert.equal(next, to);
  return lines;
}

describe('activities/sink-activities (fast: in-memory Kafka and S3)', () => {
  describe('prepareIngest', () => {
    it('refuses a missing topic for good and creates no bucket', async () => {
      const { sink, store } = fixture();
      const attempt = activityAttempt();
      const failure = await failureOf(
        attempt.run(sink, 'prepareIngest', {
          topic: 'nope.pin',
          bucket: 'fresh-bucket',
          groupId: 'g',
        }),
      );
      assert.equal(failure.type, TOPIC_NOT_FOUND);
      assert.equal(failure.nonRetryable, true);
      assert.equal(await store.bucketExists('fresh-bucket'), false);
    });

    it('creates the bucket and returns the partitions and the offsets committed earlier', async () => {
      const { sink, store } = fixture(3);
      const attempt = activityAttempt();
      await attempt.run(sink, 'commitIngestOffsets', {
        groupId: 'g',
        topic: TOPIC,
        offsets: [
          { partition: 2, offset: 7 },
          { partition: 0, offset: 40 },
        ],
      });
      const result = await attempt.run(sink, 'prepareIngest', {
        topic: TOPIC,
        bucket: 'fresh-bucket',
        groupId: 'g',
      });
      assert.equal(result.partitions, 3);
      assert.deepEqual(result.committed, [
        { partition: 0, offset: 40 },
        { partition: 2, offset: 7 },
      ]);
      assert.equal(await store.bucketExists('fresh-bucket'), true);
    });
  });

  describe('sinkBatch', () => {
    it('writes a batch exactly once: a replay of the same offsets adopts, a later call finds nothing', async () => {
      const { sink, kafka, store } = fixture();
      append(
        kafka,
        Array.from({ length: 10 }, (_, i) => pin(i)),
      );
      const first = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.equal(first.flushed, true);
      assert.equal(first.nextOffset, 10);
      assert.equal(first.highWatermark, 10);
      assert.equal(first.recordsWritten, 10);
      assert.equal(first.objectsWritten, 1);
      assert.equal(first.objectsAdopted, 0);
      assert.deepEqual(first.sampleKeys, [rawKey(0)]);
      const lines = assertTiles(store, 0, 10);
      assert.deepEqual(
        lines,
        Array.from({ length: 10 }, (_, i) => pin(i)),
      );
      const written = store.object(BUCKET, rawKey(0))!;
      assert.equal(written.metadata['record-count'], '10');
      assert.equal(written.contentType, 'application/x-ndjson');
      const before = store.snapshot();

      // The workflow never got the result and runs the same batch again.
      const replay = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.equal(replay.nextOffset, 10);
      assert.equal(replay.objectsWritten, 0);
      assert.equal(replay.objectsAdopted, 1);
      assert.equal(replay.recordsWritten, 10, 'the adopted object counts its records');
      assert.deepEqual(store.snapshot(), before, 'nothing rewritten');

      const after = await activityAttempt().run(sink, 'sinkBatch', batchInput({ fromOffset: 10 }));
      assert.equal(after.flushed, false);
      assert.equal(after.nextOffset, 10);
      assert.equal(after.pending, 0);
      assert.deepEqual(store.snapshot(), before);
    });

    it('after a crash, a retry from the same offset adopts what was written and writes the rest once', async () => {
      const { sink, kafka, store } = fixture();
      // raw 0-3, quarantine 4-5, raw 6-9: three objects
      append(kafka, [
        pin(0),
        pin(1),
        pin(2),
        pin(3),
        '{broken',
        'nope',
        pin(6),
        pin(7),
        pin(8),
        pin(9),
      ]);
      // The second object is stored but the worker dies before hearing so.
      store.faults.fail('putIfAbsent', new Error('worker lost'), { phase: 'after', skip: 1 });
      const crashed = activityAttempt();
      await assert.rejects(crashed.run(sink, 'sinkBatch', batchInput()), /worker lost/);
      assert.equal(objectsOf(store).length, 2, 'two objects landed before the crash');

      const retry = await activityAttempt({ attempt: 2 }).run(sink, 'sinkBatch', batchInput());
      assert.equal(retry.nextOffset, 10);
      assert.equal(retry.objectsAdopted, 2);
      assert.equal(retry.objectsWritten, 1);
      assert.equal(retry.recordsWritten, 8);
      assert.equal(retry.quarantined, 2);
      assertTiles(store, 0, 10);
    });

    it('a retry resumes from the heartbeat checkpoint, keeping its counts, and adopts the object in flight', async () => {
      const { sink, kafka, store } = fixture();
      append(kafka, [
        pin(0),
        pin(1),
        pin(2),
        pin(3),
        '{broken',
        'nope',
        pin(6),
        pin(7),
        pin(8),
        pin(9),
      ]);
      store.faults.fail('putIfAbsent', new Error('worker lost'), { phase: 'after', skip: 1 });
      const crashed = activityAttempt();
      await assert.rejects(crashed.run(sink, 'sinkBatch', batchInput()), /worker lost/);
      const checkpoint = crashed.heartbeats.at(-1) as SinkBatchResult;
      // The last beat names only the object that was durable and reported: offsets 0-3.
      assert.equal(checkpoint.nextOffset, 4);
      assert.equal(checkpoint.recordsWritten, 4);
      assert.equal(checkpoint.objectsWritten, 1);

      kafka.reads.length = 0;
      const retry = await activityAttempt({ attempt: 2, heartbeatDetails: checkpoint }).run(
        sink,
        'sinkBatch',
        batchInput(),
      );
      assert.equal(kafka.reads[0]?.fromOffset, 4, 'reads from the checkpoint, not from 0');
      assert.equal(retry.flushed, true);
      assert.equal(retry.nextOffset, 10);
      assert.equal(retry.recordsWritten, 8, '4 from the checkpoint + 4 written now');
      assert.equal(retry.quarantined, 2);
      assert.equal(retry.objectsWritten, 2, '1 from the checkpoint + 1 now');
      assert.equal(retry.objectsAdopted, 1, 'the quarantine object written before the crash');
      assertTiles(store, 0, 10);
    });

    it('ignores a checkpoint that is not past fromOffset (a stale beat)', async () => {
      const { sink, kafka } = fixture();
      append(
        kafka,
        Array.from({ length: 12 }, (_, i) => pin(i)),
      );
      const stale = { nextOffset: 5, recordsWritten: 5, objectsWritten: 1 };
      const result = await activityAttempt({ heartbeatDetails: stale }).run(
        sink,
        'sinkBatch',
        batchInput({ fromOffset: 8 }),
      );
      assert.equal(kafka.reads[0]?.fromOffset, 8);
      assert.equal(result.recordsWritten, 4, 'the stale counts are not added');
      assert.equal(result.nextOffset, 12);
    });

    it('every heartbeat names only offsets already durable in the store', async () => {
      const { sink, kafka, store } = fixture();
      append(kafka, [pin(0), 'x', pin(2), pin(3), null, pin(5)]);
      const attempt = activityAttempt();
      const durableAtBeat: number[] = [];
      const ahead: string[] = [];
      attempt.env.on('heartbeat', (d: { nextOffset: number }) => {
        const covered = objectsOf(store).reduce(
          (next, o) => (o.first === next ? o.last + 1 : next),
          0,
        );
        if (d.nextOffset > covered) ahead.push(`beat ${d.nextOffset} past durable ${covered}`);
        durableAtBeat.push(d.nextOffset);
      });
      await attempt.run(sink, 'sinkBatch', batchInput());
      assert.deepEqual(ahead, []);
      assert.ok(durableAtBeat.includes(6), 'the last beat names the whole batch');
      assert.deepEqual(
        [...durableAtBeat].sort((a, b) => a - b),
        durableAtBeat,
        'checkpoints only move forward',
      );
    });

    it('sends invalid records to quarantine, each line with its reason and source position', async () => {
      const { sink, kafka, store } = fixture();
      const notUtf8 = new Uint8Array([0xff, 0xfe, 0x00]);
      const schemaBad = JSON.stringify({ ...pinRecord(2), index: 'x' });
      append(kafka, [pin(0), '{"index": 1, broken', schemaBad, null, notUtf8, pin(5)]);
      const result = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.equal(result.recordsWritten, 2);
      assert.equal(result.quarantined, 4);
      assert.deepEqual(
        objectsOf(store)
          .map((o) => o.key)
          .sort(),
        [quarantineKey(1), rawKey(0), rawKey(5)].sort(),
      );
      const q = store.object(BUCKET, quarantineKey(1))!;
      assert.equal(q.metadata.kind, 'quarantine');
      const lines = Buffer.from(q.body)
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => [l.topic, l.partition, l.offset]),
        [1, 2, 3, 4].map((o) => [TOPIC, 0, o]),
      );
      assert.match(String(lines[0]!.reason), /^not JSON/);
      assert.equal(lines[0]!.value, '{"index": 1, broken');
      assert.match(String(lines[1]!.reason), /^schema: /);
      assert.equal(lines[1]!.value, schemaBad, 'the value as produced');
      assert.match(String(lines[2]!.reason), /no value/);
      assert.match(String(lines[3]!.reason), /not UTF-8/);
      assert.equal(lines[3]!.value, `base64:${Buffer.from(notUtf8).toString('base64')}`);
      assert.equal(lines[0]!.timestamp, new Date(T0 + 1000).toISOString());
    });

    it('splits a batch that crosses UTC midnight into one object per day', async () => {
      const { sink, kafka, store, clock } = fixture();
      const midnight = Date.parse('2024-03-02T00:00:00Z');
      clock.now = midnight + 3_600_000;
      kafka.append(TOPIC, 0, [
        { value: pin(0), timestamp: midnight - 2000 },
        { value: pin(1), timestamp: midnight - 1 },
        { value: pin(2), timestamp: midnight },
      ]);
      await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.deepEqual(store.keys(BUCKET), [rawKey(0), rawKey(2, 0, '2024-03-02')]);
    });

    it('waits while a batch is neither full nor old enough, and says how long', async () => {
      const { sink, kafka, store, clock } = fixture();
      append(kafka, [pin(0), pin(1), pin(2)]);
      clock.now = T0 + 20_000; // the oldest record is 20 s old, the interval is 60 s
      const waiting = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.equal(waiting.flushed, false);
      assert.equal(waiting.pending, 3);
      assert.equal(waiting.waitMs, 40_000);
      assert.equal(waiting.nextOffset, 0);
      assert.deepEqual(store.keys(BUCKET), []);

      const full = await activityAttempt().run(sink, 'sinkBatch', batchInput({ maxRecords: 3 }));
      assert.equal(full.flushed, true, 'a full batch is due at once');
      assert.equal(full.nextOffset, 3);
    });

    it('force writes whatever is there (the flush signal)', async () => {
      const { sink, kafka, store, clock } = fixture();
      append(kafka, [pin(0), pin(1)]);
      clock.now = T0;
      const forced = await activityAttempt().run(sink, 'sinkBatch', batchInput({ force: true }));
      assert.equal(forced.flushed, true);
      assert.equal(forced.nextOffset, 2);
      assert.deepEqual(store.keys(BUCKET), [rawKey(0)]);
    });

    it('keeps writing batches while a backlog lasts, within its time budget', async () => {
      const { sink, kafka, store } = fixture();
      append(
        kafka,
        Array.from({ length: 30 }, (_, i) => pin(i)),
      );
      const drained = await activityAttempt().run(
        sink,
        'sinkBatch',
        batchInput({ maxRecords: 10 }),
      );
      assert.equal(drained.nextOffset, 30);
      assert.equal(drained.objectsWritten, 3);
      assertTiles(store, 0, 30);

      const other = fixture();
      append(
        other.kafka,
        Array.from({ length: 30 }, (_, i) => pin(i)),
      );
      const oneBatch = await activityAttempt().run(
        other.sink,
        'sinkBatch',
        batchInput({ maxRecords: 10, budgetMs: 0 }),
      );
      assert.equal(oneBatch.nextOffset, 10, 'a spent budget stops after one batch');
      assert.equal(oneBatch.highWatermark, 30);
    });

    it('stops after the batch in hand when cancelled, reporting what is durable', async () => {
      const { sink, kafka, store } = fixture();
      append(
        kafka,
        Array.from({ length: 30 }, (_, i) => pin(i)),
      );
      const attempt = activityAttempt();
      attempt.env.once('heartbeat', () => attempt.env.cancel());
      const result = await attempt.run(sink, 'sinkBatch', batchInput({ maxRecords: 10 }));
      assert.equal(attempt.env.context.cancellationSignal.aborted, true);
      assert.equal(result.nextOffset, 10);
      assert.equal(result.highWatermark, 30);
      assertTiles(store, 0, 10);
    });

    it('counts offsets lost to retention, and not offsets that held no data records', async () => {
      const { sink, kafka, store } = fixture();
      append(
        kafka,
        Array.from({ length: 6 }, (_, i) => pin(i)),
      );
      kafka.truncate(TOPIC, 0, 4); // retention deleted 0-3 before the sink read them
      const attempt = activityAttempt();
      const lost = await attempt.run(sink, 'sinkBatch', batchInput());
      assert.equal(lost.skipped, 4);
      assert.equal(lost.nextOffset, 6);
      assert.deepEqual(store.keys(BUCKET), [rawKey(4)]);
      assert.ok(
        attempt.logger.messages('WARN').some((m) => /lost to retention/.test(m)),
        'the loss is logged',
      );

      kafka.skip(TOPIC, 0, 2); // 6-7: a transaction's markers
      append(kafka, [pin(8), pin(9)]);
      const markers = await activityAttempt().run(sink, 'sinkBatch', batchInput({ fromOffset: 6 }));
      assert.equal(markers.skipped, 0);
      assert.equal(markers.nextOffset, 10);
      assert.deepEqual(store.keys(BUCKET), [rawKey(4), rawKey(8)]);
    });

    it('fails for good, naming the offset, on records no retry can read', async () => {
      const { sink, kafka } = fixture();
      kafka.faults.fail(
        'readPartition',
        new UnreadableRecordsError(`${TOPIC}/0 at offset 17: zstd level 99`, TOPIC, 0, 17),
      );
      const failure = await failureOf(activityAttempt().run(sink, 'sinkBatch', batchInput()));
      assert.equal(failure.type, UNREADABLE_RECORDS);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /offset 17/);
    });

    it('lets other read errors through as they are (retryable)', async () => {
      const { sink, kafka } = fixture();
      kafka.faults.fail('readPartition', new Error('broker not available'));
      await assert.rejects(
        activityAttempt().run(sink, 'sinkBatch', batchInput()),
        (err: Error) => !(err instanceof ApplicationFailure) && /broker not/.test(err.message),
      );
    });
  });

  describe('sinkBatch: runs the ingest API signed', () => {
    // Not a pin: a record the sink would quarantine, unless its signature says the API checked it.
    const notAPin = '{"trusted":"because the API signed it"}';

    it('writes a signed run as the API produced it, without validating it again', async () => {
      const { sink, kafka, store } = fixture();
      appendSigned(kafka, [pin(0), notAPin, pin(2)]);
      append(kafka, [notAPin]); // the same bytes, unsigned: validated, so quarantined
      const r = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.deepEqual([r.recordsWritten, r.quarantined, r.nextOffset], [3, 1, 4]);
      const [raw] = objectsOf(store).filter((o) => o.key === rawKey(0));
      assert.deepEqual(raw!.lines, [pin(0), notAPin, pin(2)]);
      assert.equal(store.object(BUCKET, rawKey(0))!.metadata['record-count'], '3');
      assert.ok(store.object(BUCKET, quarantineKey(3)));
    });

    it('validates a run signed with another key', async () => {
      const { sink, kafka, store } = fixture();
      appendSigned(kafka, [pin(0), notAPin], 'a key an outside producer made up, long enough');
      const r = await activityAttempt().run(sink, 'sinkBatch', batchInput());
      assert.deepEqual([r.recordsWritten, r.quarantined], [1, 1]);
      assert.ok(store.object(BUCKET, quarantineKey(1)));
    });

    it('writes the rest of a run once when an adopted object ends inside it', async () => {
      const { sink, kafka, store } = fixture();
      const values = Array.from({ length: 10 }, (_, i) => (i === 7 ? notAPin : pin(i)));
      appendSigned(kafka, values);
      // An earlier run read 4 records (a smaller batch), wrote them and was lost.
      store.faults.fail('putIfAbsent', new Error('worker lost'), { phase: 'after' });
      const earlier = activityAttempt().run(sink, 'sinkBatch', batchInput({ maxRecords: 4 }));
      await assert.rejects(earlier, /worker lost/);
      assert.deepEqual(
        objectsOf(store).map((o) => [o.first, o.last]),
        [[0, 3]],
      );
      const retry = await activityAttempt({ attempt: 2 }).run(sink, 'sinkBatch', batchInput());
      assert.deepEqual([retry.objectsAdopted, retry.objectsWritten, retry.nextOffset], [1, 1, 10]);
      assert.deepEqual(assertTiles(store, 0, 10), values);
    });
  });

  describe('sinkBatch: conditional writes', () => {
    for (const mode of ['ignored', 'refused'] as const) {
      it(`writes nothing where the server's If-None-Match support is ${mode} (retryable)`, async () => {
        const { sink, kafka, store } = fixture();
        store.conditionalWrites = mode;
        append(kafka, [pin(0)]);
        const failure = await failureOf(activityAttempt().run(sink, 'sinkBatch', batchInput()));
        assert.equal(failure.type, CONDITIONAL_WRITES_UNSUPPORTED);
        assert.equal(failure.nonRetryable, false);
        assert.deepEqual(store.keys(BUCKET), []);
      });
    }

    it('probes once per bucket when supported, and asks again after a probe got no verdict', async () => {
      const { sink, kafka, store } = fixture();
      store.conditionalWrites = 'unreachable';
      append(kafka, [pin(0), pin(1)]);
      const failure = await failureOf(activityAttempt().run(sink, 'sinkBatch', batchInput()));
      assert.equal(failure.type, CONDITIONAL_WRITES_UNPROVEN);
      assert.equal(failure.nonRetryable, false);
      assert.deepEqual(store.keys(BUCKET), []);

      store.conditionalWrites = 'supported';
      await activityAttempt().run(sink, 'sinkBatch', batchInput({ maxRecords: 1 }));
      await activityAttempt().run(sink, 'sinkBatch', batchInput({ fromOffset: 1 }));
      assert.equal(
        store.faults.count('probeConditionalWrites'),
        2,
        'one error, then one verdict kept',
      );
      assertTiles(store, 0, 2);
    });

    it('retries (writing nothing) while another write of the key is in flight, then lands', async () => {
      const { sink, kafka, store } = fixture();
      append(kafka, [pin(0), pin(1)]);
      store.inFlight.add(`${BUCKET}/${rawKey(0)}`);
      const failure = await failureOf(activityAttempt().run(sink, 'sinkBatch', batchInput()));
      assert.equal(failure.type, OBJECT_IN_FLIGHT);
      assert.equal(failure.nonRetryable, false);
      assert.deepEqual(store.keys(BUCKET), []);

      store.inFlight.clear(); // the other write failed: the retry writes the object itself
      const retry = await activityAttempt({ attempt: 2 }).run(sink, 'sinkBatch', batchInput());
      assert.equal(retry.objectsWritten, 1);
      assertTiles(store, 0, 2);
    });

    it('refuses for good to adopt an object at its key that pinpipe did not write', async () => {
      const { sink, kafka, store } = fixture();
      append(kafka, [pin(0)]);
      await store.put({ bucket: BUCKET, key: rawKey(0), body: 'someone else\n' });
      const failure = await failureOf(activityAttempt().run(sink, 'sinkBatch', batchInput()));
      assert.equal(failure.type, OBJECT_CONFLICT);
      assert.equal(failure.nonRetryable, true);
      assert.equal(store.text(BUCKET, rawKey(0)), 'someone else\n', 'left as it was');
    });
  });

  it('commitIngestOffsets records the group offsets prepareIngest later returns', async () => {
    const { sink, kafka } = fixture(2);
    const attempt = activityAttempt();
    await attempt.run(sink, 'commitIngestOffsets', {
      groupId: 'sink',
      topic: TOPIC,
      offsets: [{ partition: 1, offset: 12 }],
    });
    await attempt.run(sink, 'commitIngestOffsets', {
      groupId: 'sink',
      topic: TOPIC,
      offsets: [{ partition: 1, offset: 20 }],
    });
    assert.deepEqual(await kafka.fetchGroupOffsets('sink', TOPIC), [{ partition: 1, offset: 20 }]);
  });
});

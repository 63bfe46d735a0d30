import assert from 'node:assert/strict';
import { KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import { stackConfig, uniqueName } from '../helpers/stack';

describe('KafkajsKafka against the local Kafka broker', () => {
  const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
  const topic = uniqueName('adapter-test');

  before(async () => {
    assert.deepEqual(await kafka.ensureTopics([{ name: topic, partitions: 3 }]), {
      created: [topic],
    });
  });

  after(async () => {
    await kafka.deleteTopics([topic]);
    await kafka.disconnect();
  });

  it('ensureTopics is idempotent and partitionCount sees the topic', async () => {
    assert.deepEqual(await kafka.ensureTopics([{ name: topic, partitions: 3 }]), { created: [] });
    assert.equal(await kafka.partitionCount(topic), 3);
    assert.equal(await kafka.partitionCount(uniqueName('missing')), undefined);
    assert.ok((await kafka.listTopics()).includes(topic));
  });

  it('produce reports each record offset in input order, consecutive per partition', async () => {
    const values = Array.from({ length: 10 }, (_, i) => JSON.stringify({ i }));
    const produced = await kafka.produce(
      topic,
      values.map((value, i) => ({ value, partition: i % 2 })),
    );
    assert.equal(produced.length, 10);
    assert.deepEqual(
      produced.filter((p) => p.partition === 0).map((p) => p.offset),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      produced.filter((p) => p.partition === 1).map((p) => p.offset),
      [0, 1, 2, 3, 4],
    );
    const keyed = await kafka.produce(topic, [
      { key: 'same', value: 'a' },
      { key: 'same', value: 'b' },
    ]);
    assert.equal(keyed[0]!.partition, keyed[1]!.partition, 'one key, one partition');
    assert.equal(keyed[1]!.offset, keyed[0]!.offset + 1);
  });

  it('readPartition reads from an explicit offset up to a count', async () => {
    const read = await kafka.readPartition({
      topic,
      partition: 0,
      fromOffset: 2,
      maxRecords: 2,
      maxWaitMs: 10_000,
    });
    assert.deepEqual(
      read.records.map((r) => r.offset),
      [2, 3],
    );
    assert.deepEqual(
      read.records.map((r) => Buffer.from(r.value!).toString()),
      ['{"i":4}', '{"i":6}'],
    );
    assert.equal(read.nextOffset, 4);
    assert.ok(read.highWatermark >= 5);
    assert.ok(read.records.every((r) => r.timestamp > Date.now() - 600_000));
  });

  it('readPartition returns what there is after the wait, and nothing past the end', async () => {
    const marks = await kafka.watermarks(topic);
    const p2 = marks.find((m) => m.partition === 2)!;
    const started = Date.now();
    const read = await kafka.readPartition({
      topic,
      partition: 2,
      fromOffset: p2.high,
      maxRecords: 100,
      maxWaitMs: 800,
    });
    assert.deepEqual(read.records, []);
    assert.equal(read.nextOffset, p2.high);
    assert.ok(Date.now() - started >= 750, 'waited for new records');
    await assert.rejects(
      kafka.readPartition({
        topic,
        partition: 2,
        fromOffset: p2.high + 5,
        maxRecords: 1,
        maxWaitMs: 100,
      }),
      /past the end/,
    );
  });

  it('readPartition stops at a byte budget', async () => {
    const big = 'x'.repeat(1000);
    await kafka.produce(
      topic,
      Array.from({ length: 20 }, () => ({ value: big, partition: 2 })),
    );
    const marks = await kafka.watermarks(topic);
    const read = await kafka.readPartition({
      topic,
      partition: 2,
      fromOffset: marks.find((m) => m.partition === 2)!.high - 20,
      maxRecords: 1000,
      maxBytes: 5000,
      maxWaitMs: 10_000,
    });
    assert.equal(read.records.length, 5);
  });

  it('commits and fetches consumer-group offsets (what lag tools read)', async () => {
    const group = uniqueName('adapter-group');
    assert.deepEqual(await kafka.fetchGroupOffsets(group, topic), []);
    await kafka.commitGroupOffsets(group, topic, [
      { partition: 0, offset: 5 },
      { partition: 1, offset: 3 },
    ]);
    assert.deepEqual(await kafka.fetchGroupOffsets(group, topic), [
      { partition: 0, offset: 5 },
      { partition: 1, offset: 3 },
    ]);
    await kafka.commitGroupOffsets(group, topic, [{ partition: 0, offset: 7 }]);
    assert.deepEqual(await kafka.fetchGroupOffsets(group, topic), [
      { partition: 0, offset: 7 },
      { partition: 1, offset: 3 },
    ]);
  });

  it('watermarks list every partition with low and high', async () => {
    const marks = await kafka.watermarks(topic);
    assert.deepEqual(
      marks.map((m) => m.partition),
      [0, 1, 2],
    );
    assert.equal(marks[0]!.low, 0);
    assert.ok(marks[0]!.high >= 5);
  });

  it('produce to a missing topic fails clearly', async () => {
    await assert.rejects(kafka.produce(uniqueName('nope'), [{ value: 'x' }]), /does not exist/);
  });
});

describe('KafkajsKafka after a topic it produced to is deleted', () => {
  it('keeps producing to other topics', async () => {
    const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
    const [gone, kept] = [uniqueName('deleted'), uniqueName('kept')];
    try {
      await kafka.ensureTopics([
        { name: gone, partitions: 1 },
        { name: kept, partitions: 1 },
      ]);
      await kafka.produce(gone, [{ value: 'a' }]);
      await kafka.deleteTopics([gone]);
      assert.deepEqual(await kafka.produce(kept, [{ value: 'b' }]), [{ partition: 0, offset: 0 }]);
    } finally {
      await kafka.deleteTopics([kept]);
      await kafka.disconnect();
    }
  });
});

describe('KafkajsKafka after another process deletes a topic it asked about', () => {
  // kafkajs's admin refreshes metadata for every topic it was ever asked about: a topic another
  // process deleted once failed every later call of a long-running worker (prepareIngest of any
  // pipeline, 20 attempts, then the ingestion failed).
  it('still answers partition counts, watermarks and group offsets of the other topics', async () => {
    const worker = KafkajsKafka.fromOptions(stackConfig().kafka);
    const other = KafkajsKafka.fromOptions(stackConfig().kafka);
    const [gone, kept] = [uniqueName('deleted-elsewhere'), uniqueName('kept')];
    try {
      await other.ensureTopics([
        { name: gone, partitions: 1 },
        { name: kept, partitions: 2 },
      ]);
      assert.equal(await worker.partitionCount(gone), 1);
      assert.equal((await worker.watermarks(gone)).length, 1);
      await other.deleteTopics([gone]);
      assert.equal(await worker.partitionCount(kept), 2);
      assert.deepEqual(
        (await worker.watermarks(kept)).map((w) => [w.partition, w.high]),
        [
          [0, 0],
          [1, 0],
        ],
      );
      assert.deepEqual(await worker.fetchGroupOffsets(uniqueName('group'), kept), []);
      assert.equal(await worker.partitionCount(gone), undefined);
    } finally {
      await other.deleteTopics([kept]);
      await Promise.all([worker.disconnect(), other.disconnect()]);
    }
  });
});

describe('KafkajsKafka.readPartition untilCaughtUp', () => {
  it('returns as soon as it has read up to the high watermark, and at once when there is nothing', async () => {
    const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
    const topic = uniqueName('caught-up');
    try {
      await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      await kafka.produce(topic, [{ value: '1' }, { value: '2' }, { value: '3' }]);
      const read = await kafka.readPartition({
        topic,
        partition: 0,
        fromOffset: 1,
        maxRecords: 100,
        maxWaitMs: 60_000,
        untilCaughtUp: true,
      });
      assert.deepEqual(
        read.records.map((r) => r.offset),
        [1, 2],
      );
      const empty = await kafka.readPartition({
        topic,
        partition: 0,
        fromOffset: 3,
        maxRecords: 100,
        maxWaitMs: 60_000,
        untilCaughtUp: true,
      });
      assert.deepEqual(empty.records, []);
      assert.equal(empty.nextOffset, 3);
    } finally {
      await kafka.deleteTopics([topic]);
      await kafka.disconnect();
    }
  });
});

describe('KafkajsKafka concurrent produce (group commit)', () => {
  it('gives every record of concurrent calls its own offset, where its value really is', async () => {
    const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
    const topic = uniqueName('coalesce');
    try {
      await kafka.ensureTopics([{ name: topic, partitions: 2 }]);
      const calls = Array.from({ length: 20 }, (_, c) =>
        Array.from({ length: 50 }, (_, i) => ({ value: `c${c}-r${i}`, partition: (c + i) % 2 })),
      );
      const results = await Promise.all(calls.map((records) => kafka.produce(topic, records)));
      const where = new Map<string, string>();
      results.forEach((offsets, c) =>
        offsets.forEach((o, i) => where.set(`${o.partition}:${o.offset}`, calls[c]![i]!.value)),
      );
      assert.equal(where.size, 1000, 'no two records share an offset');
      for (const partition of [0, 1]) {
        const read = await kafka.readPartition({
          topic,
          partition,
          fromOffset: 0,
          maxRecords: 500,
          maxWaitMs: 10_000,
        });
        assert.equal(read.records.length, 500);
        for (const r of read.records) {
          assert.equal(Buffer.from(r.value!).toString(), where.get(`${partition}:${r.offset}`));
        }
      }
    } finally {
      await kafka.deleteTopics([topic]);
      await kafka.disconnect();
    }
  });

  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`produces ${compression} batches (KAFKA_COMPRESSION) that its own reader reads back`, async () => {
      const kafka = KafkajsKafka.fromOptions({ ...stackConfig().kafka, compression });
      const topic = uniqueName(`codec-${compression}`);
      try {
        await kafka.ensureTopics([{ name: topic, partitions: 1 }]);
        // Repetitive values compress well: a batch that did not would be stored as it came.
        const values = Array.from({ length: 200 }, (_, i) =>
          JSON.stringify({ i, pad: 'x'.repeat(200) }),
        );
        await kafka.produce(
          topic,
          values.map((value) => ({ value, partition: 0 })),
        );
        const read = await kafka.readPartition({
          topic,
          partition: 0,
          fromOffset: 0,
          maxRecords: 1_000,
          maxWaitMs: 10_000,
          untilCaughtUp: true,
        });
        assert.deepEqual(
          read.records.map((r) => Buffer.from(r.value!).toString()),
          values,
        );
      } finally {
        await kafka.deleteTopics([topic]);
        await kafka.disconnect();
      }
    });
  }
});

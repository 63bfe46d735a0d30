import assert from 'node:assert/strict';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { CompressionTypes, ConfigResourceTypes } from 'kafkajs';
import { createKafka, KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import { PlatformaticReader } from '../../src/adapters/platformatic-reader';
import type { ReadPartitionInput } from '../../src/ports/kafka';
import { stackConfig, uniqueName } from '../helpers/stack';

/**
 * readPartition on @platformatic/kafka against the real broker (the sink's reader; the
 * hand-written kafka-wire/ reader it replaced had the same tests): exact offsets, every record once and in order, budgets, the stop at the high watermark, what other
 * producers write (keys, headers, tombstones, gzip/snappy/lz4/zstd, transactions), retention gaps.
 */
describe('PlatformaticReader against the local Kafka broker', function () {
  this.timeout(60_000);
  const config = stackConfig().kafka;
  const port = KafkajsKafka.fromOptions(config);
  const kafka = createKafka(config);
  const topics: string[] = [];
  const readers: PlatformaticReader[] = [];

  async function topic(partitions = 1, configs?: Record<string, string>): Promise<string> {
    const name = uniqueName('plt-reader');
    topics.push(name);
    await port.ensureTopics([{ name, partitions, ...(configs ? { configs } : {}) }]);
    return name;
  }

  function reader(fetchBytes = 4 * 1024 * 1024): PlatformaticReader {
    const r = new PlatformaticReader({
      brokers: config.brokers,
      clientId: 'plt-reader-test',
      fetchBytes,
    });
    readers.push(r);
    return r;
  }

  /** A read as the sink does it: up to maxRecords, returning once caught up. */
  const read = (
    r: PlatformaticReader,
    name: string,
    fromOffset: number,
    maxRecords: number,
    more: Partial<ReadPartitionInput> = {},
  ) =>
    r.readPartition({
      topic: name,
      partition: 0,
      fromOffset,
      maxRecords,
      maxBytes: 1024 * 1024,
      maxWaitMs: 5_000,
      untilCaughtUp: true,
      ...more,
    });

  const text = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString());

  after(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await port.deleteTopics(topics);
    await port.disconnect();
  });

  it('returns every offset once, in order, from an exact offset, holding at most one fetch ahead', async () => {
    const name = await topic();
    const total = 3_000;
    for (let from = 0; from < total; from += 100) {
      await port.produce(
        name,
        Array.from({ length: 100 }, (_, i) => ({ value: JSON.stringify({ i: from + i }) })),
      );
    }
    // Small fetches (about 300 records): many fetches, and a read often ends inside one.
    const r = reader(4 * 1024);
    const offsets: number[] = [];
    for (let next = 0, size = 1; next < total; size = (size * 7) % 400 || 1) {
      const got = await read(r, name, next, size);
      assert.ok(
        got.records.length > 0 && got.records.length <= size,
        `read at ${next} got ${got.records.length}`,
      );
      for (const rec of got.records) {
        assert.deepEqual(JSON.parse(text(rec.value)!), { i: rec.offset });
      }
      offsets.push(...got.records.map((x) => x.offset));
      next = got.nextOffset;
      assert.equal(next, got.records.at(-1)!.offset + 1);
      assert.equal(got.highWatermark, total);
      assert.ok(r.buffered(name, 0) <= 400, `holds ${r.buffered(name, 0)} records ahead`);
    }
    assert.deepEqual(
      offsets,
      Array.from({ length: total }, (_, i) => i),
    );
  });

  it('reads again from an earlier offset (a retried batch) and gets the same records', async () => {
    const name = await topic();
    await port.produce(
      name,
      Array.from({ length: 50 }, (_, i) => ({ value: `v${i}` })),
    );
    const r = reader();
    const shown = (x: Awaited<ReturnType<typeof read>>) =>
      x.records.map((rec) => [rec.offset, text(rec.value)]);
    const first = await read(r, name, 10, 20);
    await read(r, name, 30, 20);
    const again = await read(r, name, 10, 20);
    assert.deepEqual(shown(again), shown(first));
    assert.equal(again.records[0]!.offset, 10);
    assert.equal(again.nextOffset, 30);
  });

  it('stops at a record budget and at a byte budget', async () => {
    const name = await topic();
    await port.produce(
      name,
      Array.from({ length: 20 }, () => ({ value: 'x'.repeat(1000) })),
    );
    const r = reader();
    const byCount = await read(r, name, 2, 2, { untilCaughtUp: false });
    assert.deepEqual(
      byCount.records.map((x) => x.offset),
      [2, 3],
    );
    assert.equal(byCount.nextOffset, 4);
    assert.equal(byCount.highWatermark, 20);
    const byBytes = await read(r, name, 0, 1000, { maxBytes: 5000 });
    assert.equal(byBytes.records.length, 5);
    assert.equal(byBytes.nextOffset, 5);
    assert.ok(byBytes.records.every((x) => x.size === 1000));
  });

  it('returns at the high watermark seen at the start, at once when there is nothing, and refuses offsets past the end', async () => {
    const name = await topic();
    await port.produce(name, [{ value: '1' }, { value: '2' }, { value: '3' }]);
    const r = reader();
    const started = Date.now();
    const got = await read(r, name, 1, 100, { maxWaitMs: 60_000 });
    assert.deepEqual(
      got.records.map((x) => x.offset),
      [1, 2],
    );
    assert.equal(got.highWatermark, 3);
    const empty = await read(r, name, 3, 100, { maxWaitMs: 60_000 });
    assert.deepEqual(empty.records, []);
    assert.equal(empty.nextOffset, 3);
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
    await assert.rejects(read(r, name, 8, 1), /offset 8 is past the end of .*high watermark 3/);
    await assert.rejects(read(r, name, 0, 1, { partition: 4 }), /partition 4 does not exist/);
  });

  it('without untilCaughtUp, waits for the whole wait and returns nothing past the end', async () => {
    const name = await topic();
    await port.produce(name, [{ value: 'a' }]);
    const r = reader();
    const started = Date.now();
    const got = await read(r, name, 1, 100, { untilCaughtUp: false, maxWaitMs: 800 });
    assert.deepEqual(got.records, []);
    assert.equal(got.nextOffset, 1);
    assert.ok(Date.now() - started >= 750, 'waited for new records');
  });

  it('a read past the end waits for records that arrive meanwhile', async () => {
    const name = await topic();
    const r = reader();
    const waiting = read(r, name, 0, 10, { untilCaughtUp: false, maxWaitMs: 2_000 });
    await new Promise((res) => setTimeout(res, 300));
    await port.produce(name, [{ value: 'late' }]);
    const got = await waiting;
    assert.deepEqual(
      got.records.map((x) => text(x.value)),
      ['late'],
    );
  });

  it('reads what a kafkajs producer wrote: keys, headers, tombstones, gzip batches', async () => {
    const name = await topic();
    const producer = kafka.producer();
    await producer.connect();
    const messages = [
      { key: 'k1', value: '{"a":1}', headers: { source: 'test', n: '1' } },
      { key: null, value: null },
      { key: 'k3', value: 'é', headers: { source: 'test' } },
    ];
    await producer.send({ topic: name, messages });
    await producer.send({ topic: name, messages, compression: CompressionTypes.GZIP });
    await producer.disconnect();
    const got = await read(reader(), name, 0, 100);
    assert.deepEqual(
      got.records.map((x) => ({
        offset: x.offset,
        key: x.key,
        value: text(x.value),
        headers: x.headers,
      })),
      [...messages, ...messages].map((m, offset) => ({
        offset,
        key: m.key,
        value: m.value,
        headers: m.headers,
      })),
    );
    assert.deepEqual(
      got.records.map((x) => x.size),
      [9, 0, 4, 9, 0, 4],
    );
    const now = Date.now();
    assert.ok(
      got.records.every((x) => Math.abs(now - x.timestamp) < 60_000),
      'CreateTime in ms',
    );
  });

  it('leaves out records of aborted transactions, and goes past the markers', async () => {
    const name = await topic();
    const producer = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    // Two aborted transactions of one producer in one fetch: a filter keyed by producer alone
    // (one range each) lets the first through.
    for (const [i, outcome] of ['abort', 'commit', 'abort', 'commit'].entries()) {
      const tx = await producer.transaction();
      await tx.send({
        topic: name,
        messages: [{ value: `${outcome}-${i}-a` }, { value: `${outcome}-${i}-b` }],
      });
      await (outcome === 'abort' ? tx.abort() : tx.commit());
    }
    await producer.disconnect();
    await port.produce(name, [{ value: 'after' }]);
    const end = (await port.watermarks(name))[0]!.high;
    const r = reader();
    const got = await read(r, name, 0, 100);
    assert.deepEqual(
      got.records.map((x) => text(x.value)),
      ['commit-1-a', 'commit-1-b', 'commit-3-a', 'commit-3-b', 'after'],
    );
    assert.equal(got.nextOffset, end);
    // From inside the second aborted transaction, and one batch per fetch (markers alone).
    const small = reader(1);
    const tail: string[] = [];
    for (let next = 7; next < end;) {
      const step = await read(small, name, next, 100);
      tail.push(...step.records.map((x) => text(x.value)!));
      next = step.nextOffset;
    }
    assert.deepEqual(tail, ['commit-3-a', 'commit-3-b', 'after']);
  });

  it('goes on from the first offset Kafka still has when retention removed the rest', async () => {
    const name = await topic();
    await port.produce(
      name,
      Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })),
    );
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [name] });
    await admin.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '12' }] });
    await admin.disconnect();
    const got = await read(reader(), name, 0, 100);
    assert.deepEqual(
      got.records.map((x) => x.offset),
      [12, 13, 14, 15, 16, 17, 18, 19],
    );
    assert.equal(got.nextOffset, 20);
  });

  for (const compression of ['gzip', 'snappy', 'lz4'] as const) {
    it(`reads ${compression} batches written by @platformatic/kafka's producer`, async () => {
      const name = await topic();
      const producer = new Producer({
        clientId: 'plt-reader-test-producer',
        bootstrapBrokers: config.brokers,
        serializers: stringSerializers,
      });
      try {
        for (let batch = 0; batch < 3; batch++) {
          await producer.send({
            compression,
            messages: Array.from({ length: 50 }, (_, i) => ({
              topic: name,
              partition: 0,
              key: `k${batch * 50 + i}`,
              value: JSON.stringify({ i: batch * 50 + i, pad: 'p'.repeat(100) }),
              headers: { codec: compression },
            })),
          });
        }
      } finally {
        await producer.close();
      }
      const got = await read(reader(), name, 25, 1000);
      assert.equal(got.records.length, 125);
      for (const [n, rec] of got.records.entries()) {
        assert.equal(rec.offset, 25 + n);
        assert.equal(rec.key, `k${rec.offset}`);
        assert.equal((JSON.parse(text(rec.value)!) as { i: number }).i, rec.offset);
        assert.deepEqual(rec.headers, { codec: compression });
      }
    });
  }

  /** Sets a topic's compression.type and waits until the broker says it applies it. */
  async function compressOnBroker(name: string, codec: string): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const resource = { type: ConfigResourceTypes.TOPIC, name };
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ ...resource, configEntries: [{ name: 'compression.type', value: codec }] }],
      });
      for (const deadline = Date.now() + 10_000; ;) {
        const described = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ ...resource, configNames: ['compression.type'] }],
        });
        const value = described.resources[0]?.configEntries[0]?.configValue;
        if (value === codec) return;
        if (Date.now() > deadline) throw new Error(`compression.type of ${name} is ${value}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await admin.disconnect();
    }
  }

  for (const codec of ['snappy', 'lz4', 'zstd'] as const) {
    // zstd on Node 20 through kafka-codecs.ts (fzstd); node:zlib's from Node 22.15.
    it(`reads what the broker stored as ${codec}`, async () => {
      // Five uncompressed records, then the topic switched to broker-side compression: the
      // broker rewrites what a plain kafkajs producer sends into ${codec} batches.
      const name = await topic();
      await port.produce(
        name,
        Array.from({ length: 5 }, (_, i) => ({ value: `plain-${i}` })),
      );
      await compressOnBroker(name, codec);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: name,
        messages: Array.from({ length: 5 }, (_, i) => ({ value: `${codec}-${i}`.repeat(20) })),
      });
      await producer.disconnect();
      const r = reader();
      const got = await read(r, name, 3, 100);
      assert.deepEqual(
        got.records.map((x) => [x.offset, text(x.value)]),
        [
          [3, 'plain-3'],
          [4, 'plain-4'],
          ...Array.from({ length: 5 }, (_, i) => [5 + i, `${codec}-${i}`.repeat(20)]),
        ],
      );
    });
  }
});

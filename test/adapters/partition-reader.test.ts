import assert from 'node:assert/strict';
import { KafkajsKafka, createKafka } from '../../src/adapters/kafkajs-kafka';
import { PartitionReader } from '../../src/adapters/partition-reader';
import { stackConfig, uniqueName } from '../helpers/stack';

/**
 * The sink's long-lived reader against the real broker: prefetch stays bounded by what the
 * reads ask for (so a worker's memory does not grow with the backlog), and reading on after a
 * pause returns every offset once, in order.
 */
describe('PartitionReader against the local Kafka broker', function () {
  this.timeout(60_000);
  const port = KafkajsKafka.fromOptions(stackConfig().kafka);
  const topic = uniqueName('reader-test');
  const total = 3_000;
  let reader: PartitionReader;

  before(async () => {
    await port.ensureTopics([{ name: topic, partitions: 1 }]);
    const values = Array.from({ length: total }, (_, i) => ({ value: JSON.stringify({ i }) }));
    for (let from = 0; from < total; from += 100) {
      await port.produce(topic, values.slice(from, from + 100));
    }
    // Small record batches (100 per produce) and small fetches: the bound, not the fetch
    // size, is what stops the prefetch.
    reader = new PartitionReader(createKafka(stackConfig().kafka), topic, 0, [], {
      maxBufferBytes: 16 * 1024 * 1024,
      fetchBytes: 4 * 1024,
    });
  });

  after(async () => {
    await reader?.close();
    await port.deleteTopics([topic]);
    await port.disconnect();
  });

  const read = (fromOffset: number, maxRecords: number) =>
    reader.read({ fromOffset, maxRecords, maxBytes: 1024 * 1024, maxWaitMs: 10_000 });

  it('prefetches about two reads ahead, not the whole backlog', async () => {
    const first = await read(0, 100);
    assert.deepEqual(
      first.map((r) => r.offset),
      Array.from({ length: 100 }, (_, i) => i),
    );
    // Give the consumer time to fetch everything it would without the bound.
    await new Promise((r) => setTimeout(r, 2_000));
    assert.ok(reader.buffered > 0, 'it does prefetch');
    // Two reads' worth, plus at most one fetch that was in flight when it paused.
    assert.ok(reader.buffered < 2 * 100 + 400, `buffered ${reader.buffered} of ${total - 100}`);
  });

  it('reading on returns every offset once, in order, across pauses and resumes', async () => {
    const offsets: number[] = [];
    let next = 100;
    while (next < total) {
      const records = await read(next, 250);
      assert.ok(records.length > 0, `a read at ${next} returned nothing`);
      offsets.push(...records.map((r) => r.offset));
      next = records.at(-1)!.offset + 1;
    }
    assert.deepEqual(
      offsets,
      Array.from({ length: total - 100 }, (_, i) => i + 100),
    );
  });
});

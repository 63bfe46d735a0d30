import assert from 'node:assert/strict';
import { CompressionTypes } from 'kafkajs';
import { createKafka, KafkajsKafka } from '../../../src/adapters/kafkajs-kafka';
import { FetchReader } from '../../../src/adapters/kafka-wire/fetch-reader';
import { stackConfig, uniqueName } from '../../helpers/stack';

/**
 * The sink's reader against the real broker: exact offsets, every record once and in order,
 * memory bounded by one fetch, what other producers write (keys, headers, tombstones, gzip,
 * transactions) read as Kafka means it, and retention gaps skipped.
 */
describe('FetchReader against the local Kafka broker', function () {
  this.timeout(60_000);
  const config = stackConfig().kafka;
  const port = KafkajsKafka.fromOptions(config);
  const kafka = createKafka(config);
  const topics: string[] = [];
  const readers: FetchReader[] = [];

  async function topic(partitions = 1): Promise<string> {
    const name = uniqueName('fetch-reader');
    topics.push(name);
    await port.ensureTopics([{ name, partitions }]);
    return name;
  }

  function reader(name: string, fetchBytes = 4 * 1024 * 1024): FetchReader {
    const r = new FetchReader(
      {
        clientId: 'fetch-reader-test',
        locateLeader: () => {
          const [host, p] = config.brokers[0]!.split(':');
          return Promise.resolve({ host: host!, port: Number(p) });
        },
        lowWatermark: async (t, p) =>
          (await port.watermarks(t)).find((m) => m.partition === p)!.low,
      },
      name,
      0,
      { fetchBytes },
    );
    readers.push(r);
    return r;
  }

  /** Reads up to maxRecords, returning early once `end` (when given) is reached. */
  const read = (r: FetchReader, fromOffset: number, maxRecords: number, end?: number) =>
    r.read({
      fromOffset,
      maxRecords,
      maxBytes: 1024 * 1024,
      maxWaitMs: 5_000,
      ...(end === undefined ? {} : { returnAtOffset: end }),
    });

  after(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await port.deleteTopics(topics);
    await port.disconnect();
  });

  it('returns every offset once, in order, holding at most one fetch ahead', async () => {
    const name = await topic();
    const total = 3_000;
    for (let from = 0; from < total; from += 100) {
      await port.produce(
        name,
        Array.from({ length: 100 }, (_, i) => ({ value: JSON.stringify({ i: from + i }) })),
      );
    }
    // Small fetches (about 300 records): many fetches, and a read often ends inside one.
    const r = reader(name, 4 * 1024);
    const offsets: number[] = [];
    for (let next = 0, size = 1; next < total; size = (size * 7) % 400 || 1) {
      const records = await read(r, next, size, total);
      assert.ok(
        records.length > 0 && records.length <= size,
        `read at ${next} got ${records.length}`,
      );
      for (const rec of records) {
        assert.deepEqual(JSON.parse(Buffer.from(rec.value!).toString()), { i: rec.offset });
      }
      offsets.push(...records.map((x) => x.offset));
      next = records.at(-1)!.offset + 1;
      assert.ok(r.buffered <= 400, `holds ${r.buffered} records ahead`);
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
    const r = reader(name);
    const first = await read(r, 10, 20);
    await read(r, 30, 20);
    const again = await read(r, 10, 20);
    assert.deepEqual(
      again.map((x) => [x.offset, Buffer.from(x.value!).toString()]),
      first.map((x) => [x.offset, Buffer.from(x.value!).toString()]),
    );
    assert.equal(again[0]!.offset, 10);
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
    const records = await read(reader(name), 0, 100, 6);
    assert.deepEqual(
      records.map((x) => ({
        offset: x.offset,
        key: x.key,
        value: x.value === null ? null : Buffer.from(x.value).toString(),
        headers: x.headers,
      })),
      [...messages, ...messages].map((m, offset) => ({
        offset,
        key: m.key,
        value: m.value,
        headers: m.headers,
      })),
    );
    const now = Date.now();
    assert.ok(
      records.every((x) => Math.abs(now - x.timestamp) < 60_000),
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
    const aborted = await producer.transaction();
    await aborted.send({ topic: name, messages: [{ value: 'aborted-1' }, { value: 'aborted-2' }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic: name, messages: [{ value: 'committed' }] });
    await committed.commit();
    await producer.disconnect();
    await port.produce(name, [{ value: 'after' }]);
    const end = (await port.watermarks(name))[0]!.high;
    const records = await read(reader(name), 0, 100, end);
    assert.deepEqual(
      records.map((x) => Buffer.from(x.value!).toString()),
      ['committed', 'after'],
    );
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
    const records = await read(reader(name), 0, 100, 20);
    assert.deepEqual(
      records.map((x) => x.offset),
      [12, 13, 14, 15, 16, 17, 18, 19],
    );
  });

  it('a read past the end waits for records that arrive meanwhile', async () => {
    const name = await topic();
    const r = reader(name);
    const waiting = read(r, 0, 10, 1);
    await new Promise((res) => setTimeout(res, 300));
    await port.produce(name, [{ value: 'late' }]);
    const records = await waiting;
    assert.deepEqual(
      records.map((x) => Buffer.from(x.value!).toString()),
      ['late'],
    );
  });
});

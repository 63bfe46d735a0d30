import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { compressionsAlgorithms } from '@platformatic/kafka';
import {
  type Codec,
  DEFAULT_MAX_BATCH_BYTES,
  installKafkaCodecs,
  kafkajsCompression,
} from '../../src/adapters/kafka-codecs';
import { createKafka, KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import { PlatformaticReader } from '../../src/adapters/platformatic-reader';
import { COMPRESSIONS, type Compression } from '../../src/kafka-settings';
import { type ConsumedRecord, UnreadableRecordsError } from '../../src/ports/kafka';
import { kafkaJavaValue, runKafkaJava } from '../helpers/java-kafka';
import { stackConfig, uniqueName } from '../helpers/stack';

/**
 * Every codec between pinpipe and a client that is not pinpipe, on the local broker:
 * - records Kafka's Java producer wrote with compression.type=none|gzip|snappy|lz4|zstd (snappy
 *   in xerial's framing, lz4 in 64 KiB blocks, zstd without a content size) come back from
 *   PlatformaticReader once each, in order, byte for byte;
 * - records kafkajs produced with kafkajsCompression(codec) come back the same from
 *   PlatformaticReader, and from Kafka's Java consumer (what a Java sink downstream would see).
 */
describe('Kafka codecs between pinpipe and other clients (local broker)', function () {
  this.timeout(240_000);
  const config = stackConfig().kafka;
  const port = KafkajsKafka.fromOptions(config);
  const kafka = createKafka(config);
  const topics: string[] = [];
  const reader = new PlatformaticReader({ brokers: config.brokers, clientId: 'codec-interop' });
  const library = compressionsAlgorithms as unknown as Record<
    Codec,
    { decompressSync: (b: Buffer) => Buffer }
  >;

  after(async () => {
    await reader.close();
    await port.deleteTopics(topics);
    await port.disconnect();
  });

  async function createTopics(names: string[]): Promise<void> {
    topics.push(...names);
    await port.ensureTopics(names.map((name) => ({ name, partitions: 1 })));
  }

  /**
   * Every record of partition 0 from offset 0 through PlatformaticReader, and how many batches
   * of the codec the library decoded on the way (through the bounded decoders).
   */
  async function readAll(
    topic: string,
    count: number,
    codec: Compression,
  ): Promise<{ records: ConsumedRecord[]; batches: number }> {
    const entry = codec === 'none' ? undefined : library[codec];
    const installed = entry?.decompressSync;
    let batches = 0;
    if (entry && installed) {
      entry.decompressSync = (b) => {
        batches++;
        return installed(b);
      };
    }
    try {
      const records: ConsumedRecord[] = [];
      for (let offset = 0; offset < count;) {
        const got = await reader.readPartition({
          topic,
          partition: 0,
          fromOffset: offset,
          maxRecords: 1000,
          maxBytes: 4 * 1024 * 1024,
          maxWaitMs: 5_000,
          untilCaughtUp: true,
        });
        if (got.records.length === 0) break;
        records.push(...got.records);
        offset = got.nextOffset;
      }
      return { records, batches };
    } finally {
      if (entry && installed) entry.decompressSync = installed;
    }
  }

  function assertExact(
    codec: Compression,
    got: { records: ConsumedRecord[]; batches: number },
    count: number,
  ) {
    assert.equal(got.records.length, count, `${codec}: records read`);
    for (const [i, r] of got.records.entries()) {
      assert.equal(r.offset, i, `${codec}: offset of record ${i}`);
      assert.equal(r.key, `k${i}`, `${codec}: key at offset ${i}`);
      const value = r.value === null ? null : Buffer.from(r.value).toString('utf8');
      assert.equal(value, kafkaJavaValue(codec, i), `${codec}: value at offset ${i}`);
    }
    if (codec !== 'none') {
      // Real batches of that codec: several, each holding many records.
      assert.ok(got.batches >= 2, `${codec}: ${got.batches} compressed batches decoded`);
      assert.ok(got.batches < count / 10, `${codec}: ${got.batches} batches for ${count} records`);
    }
  }

  describe("Kafka's Java producer → PlatformaticReader", () => {
    const prefix = uniqueName('codec-java');
    const count = 3_000;

    before(async function () {
      this.timeout(180_000);
      await createTopics(COMPRESSIONS.map((c) => `${prefix}-${c}`));
      const printed = await runKafkaJava([
        'produce',
        config.brokers[0]!,
        prefix,
        String(count),
        ...COMPRESSIONS,
      ]);
      assert.equal(printed.trim().split('\n').length, COMPRESSIONS.length, printed);
    });

    for (const codec of COMPRESSIONS) {
      it(`reads what it wrote with compression.type=${codec}: every record once, in order, exact`, async () => {
        assertExact(codec, await readAll(`${prefix}-${codec}`, count, codec), count);
      });
    }
  });

  describe('kafkajs with kafkajsCompression → PlatformaticReader and the Java consumer', () => {
    const prefix = uniqueName('codec-kafkajs');
    const count = 2_000;
    const topicOf = (c: Compression) => `${prefix}-${c}`;

    before(async function () {
      this.timeout(120_000);
      await createTopics(COMPRESSIONS.map(topicOf));
      const producer = kafka.producer();
      await producer.connect();
      try {
        for (const codec of COMPRESSIONS) {
          // Sends of 250 records: a batch each, the 160 KB records among them.
          for (let from = 0; from < count; from += 250) {
            await producer.send({
              topic: topicOf(codec),
              compression: kafkajsCompression(codec),
              messages: Array.from({ length: Math.min(250, count - from) }, (_, i) => ({
                partition: 0,
                key: `k${from + i}`,
                value: kafkaJavaValue(codec, from + i),
              })),
            });
          }
        }
      } finally {
        await producer.disconnect();
      }
    });

    for (const codec of COMPRESSIONS) {
      it(`PlatformaticReader reads kafkajs's ${codec} batches: every record once, in order, exact`, async () => {
        assertExact(codec, await readAll(topicOf(codec), count, codec), count);
      });
    }

    it("Kafka's Java consumer reads kafkajs's batches of every codec, exact", async function () {
      this.timeout(120_000);
      const printed = await runKafkaJava([
        'consume',
        config.brokers[0]!,
        String(count),
        ...COMPRESSIONS.map(topicOf),
      ]);
      const lines = printed.trim().split('\n');
      for (const codec of COMPRESSIONS) {
        const got = lines.filter((l) => l.startsWith(`${topicOf(codec)}\t`));
        const expected = Array.from({ length: count }, (_, i) => {
          const sha = createHash('sha256').update(kafkaJavaValue(codec, i)).digest('hex');
          return `${topicOf(codec)}\t${i}\tk${i}\t${sha}`;
        });
        assert.deepEqual(got, expected, codec);
      }
    });
  });
  describe('the cap, through the reader', () => {
    afterEach(() => installKafkaCodecs({ maxBatchBytes: DEFAULT_MAX_BATCH_BYTES }));

    for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
      it(`reports a ${codec} batch over the cap as unreadable, at its offset`, async () => {
        // Five records uncompressed, then one batch of ~300 KB: over a cap of 64 KiB.
        const name = uniqueName(`codec-cap-${codec}`);
        await createTopics([name]);
        const producer = kafka.producer();
        await producer.connect();
        try {
          const small = Array.from({ length: 5 }, (_, i) => ({
            partition: 0,
            value: `small-${i}`,
          }));
          await producer.send({ topic: name, messages: small });
          await producer.send({
            topic: name,
            compression: kafkajsCompression(codec),
            messages: Array.from({ length: 300 }, (_, i) => ({
              partition: 0,
              value: kafkaJavaValue(codec, i).padEnd(1000, '.'),
            })),
          });
        } finally {
          await producer.disconnect();
        }
        installKafkaCodecs({ maxBatchBytes: 64 * 1024 });
        const capped = new PlatformaticReader({ brokers: config.brokers, clientId: 'codec-cap' });
        const readFrom = (fromOffset: number) =>
          capped.readPartition({
            topic: name,
            partition: 0,
            fromOffset,
            maxRecords: 1000,
            maxWaitMs: 5_000,
            untilCaughtUp: true,
          });
        try {
          // What comes before the bad batch is read (the sink writes it)...
          const before = await readFrom(3);
          assert.deepEqual(
            before.records.map((r) => r.offset),
            [3, 4],
          );
          assert.equal(before.nextOffset, 5);
          // ...and a read that starts at it fails there, for good.
          await assert.rejects(readFrom(5), (err: unknown) => {
            assert.ok(err instanceof UnreadableRecordsError, String(err));
            assert.deepEqual([err.topic, err.partition, err.offset], [name, 0, 5]);
            assert.match(err.message, new RegExp(`${codec} batch .*past the cap of 65536 bytes`));
            return true;
          });
        } finally {
          await capped.close();
        }
      });
    }
  });
});

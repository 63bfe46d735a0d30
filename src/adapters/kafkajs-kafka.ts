import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import { FetchReader } from './kafka-wire/fetch-reader';
import { ProduceCoalescer } from './produce-coalescer';
import type {
  ConsumedRecord,
  KafkaPort,
  OutgoingRecord,
  PartitionWatermark,
  ProducedOffset,
  ReadPartitionInput,
  ReadPartitionResult,
  TopicSpec,
} from '../ports/kafka';

export interface KafkajsOptions {
  brokers: string[];
  clientId: string;
  /** How long cached partition metadata is trusted before the next produce refreshes it. */
  metadataTtlMs?: number;
}

export function createKafka(options: KafkajsOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    // Failures surface as exceptions to the caller; kafkajs's own logs of retried errors are noise.
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { initialRetryTime: 200, retries: 5 },
  });
}

const readerKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function isUnknownTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/**
 * Kafka over kafkajs, except for partition reads. One admin and one idempotent producer (behind
 * a group-commit coalescer) are created lazily and reused. Reads go through one long-lived
 * FetchReader per partition: Fetch requests at exact offsets straight to the leader, decoded
 * by kafka-wire/ rather than by a kafkajs consumer. kafkajs has no manual assignment (a reader
 * had to be a consumer of a throwaway group) and its per-record decoding cost the sink as much
 * as a whole plain kafkajs consumer does. Reads need no committed state and never disturb the
 * ingestion consumer group.
 */
export class KafkajsKafka implements KafkaPort {
  private admin?: Promise<Admin>;
  private producer?: Promise<Producer>;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, { at: number; partitions: PartitionMetadata[] }>();
  private readonly readers = new Map<string, FetchReader>();
  private topicDeletes: Promise<unknown> = Promise.resolve();
  private readonly coalescer = new ProduceCoalescer((batch) => this.sendBatch(batch));
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: {
      clientId?: string;
      metadataTtlMs?: number;
      readerIdleMs?: number;
    } = {},
  ) {}

  static fromOptions(options: KafkajsOptions): KafkajsKafka {
    return new KafkajsKafka(createKafka(options), options);
  }

  async ensureTopics(topics: TopicSpec[]): Promise<{ created: string[] }> {
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor ?? 1,
          configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    return { created: missing.map((t) => t.name) };
  }

  async listTopics(): Promise<string[]> {
    const admin = await this.getAdmin();
    return (await admin.listTopics()).filter((t) => !t.startsWith('__'));
  }

  /**
   * One delete at a time: kafkajs's admin refreshes metadata for every topic it has seen after
   * a delete, so two overlapping deletes make each other fail with "does not host this
   * topic-partition" and retry for seconds (then report a topic they did delete as absent).
   */
  deleteTopics(names: string[]): Promise<void> {
    const run = this.topicDeletes.then(() => this.deleteTopicsNow(names));
    this.topicDeletes = run.catch(() => undefined);
    return run;
  }

  private async deleteTopicsNow(names: string[]): Promise<void> {
    const admin = await this.getAdmin();
    const existing = new Set(await admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length > 0) {
      try {
        await admin.deleteTopics({ topics: present });
      } catch (err) {
        // The delete may have gone through before a metadata refresh failed: gone is done.
        const left = new Set(await admin.listTopics());
        if (present.some((n) => left.has(n))) throw err;
      }
    }
    for (const n of names) this.metadata.delete(n);
    const readers = [...this.readers.values()].filter((r) => names.includes(r.topic));
    await Promise.all(readers.map((r) => this.dropReader(r)));
    // kafkajs's producer keeps every topic it ever sent to in its metadata refreshes, and one
    // deleted topic makes all later sends fail: start a fresh producer.
    if (present.length > 0) await this.resetProducer();
  }

  async increasePartitions(topic: string, count: number): Promise<void> {
    const admin = await this.getAdmin();
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
    this.metadata.delete(topic);
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    const partitions = await this.partitionsOf(topic, true);
    return partitions?.length;
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<ProducedOffset[]> {
    if (records.length === 0) return [];
    const partitionMetadata = await this.partitionsOf(topic, false);
    if (!partitionMetadata) throw new Error(`topic ${topic} does not exist`);
    // Choose partitions here, not inside kafkajs, so each record's offset can be reported back:
    // one send writes one batch per partition, so offsets within a partition are consecutive.
    const messages = records.map((r) => {
      const key = r.key ?? null;
      const partition =
        r.partition ??
        this.partitioner({
          topic,
          partitionMetadata,
          message: { key, value: r.value },
        });
      if (partition < 0 || partition >= partitionMetadata.length) {
        throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
      }
      return { key, value: r.value, partition, ...(r.headers ? { headers: r.headers } : {}) };
    });
    return this.coalescer.produce(topic, messages);
  }

  /** One request for everything queued; a deleted topic once written to resets the producer. */
  private async sendBatch(topicMessages: TopicMessages[]): Promise<RecordMetadata[]> {
    try {
      return await (await this.getProducer()).sendBatch({ topicMessages, acks: -1 });
    } catch (err) {
      if (!isUnknownTopic(err)) throw err;
      // Another process may have deleted a topic this producer once wrote to (see deleteTopics).
      await this.resetProducer();
      return (await this.getProducer()).sendBatch({ topicMessages, acks: -1 });
    }
  }

  async watermarks(topic: string): Promise<PartitionWatermark[]> {
    const admin = await this.getAdmin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    const { topic, partition, fromOffset, maxRecords, maxWaitMs } = input;
    const maxBytes = input.maxBytes ?? Number.POSITIVE_INFINITY;
    const high = await this.highWatermarkBelow(topic, partition, fromOffset);
    if (fromOffset > high) {
      throw new RangeError(
        `offset ${fromOffset} is past the end of ${topic}/${partition} (high watermark ${high})`,
      );
    }
    const empty = { records: [] as ConsumedRecord[], nextOffset: fromOffset, highWatermark: high };
    if (maxRecords <= 0) return empty;
    if (input.untilCaughtUp && fromOffset >= high) return empty;

    const reader = this.readerFor(topic, partition);
    let records: ConsumedRecord[];
    try {
      records = await reader.read({
        fromOffset,
        maxRecords,
        maxBytes,
        maxWaitMs,
        ...(input.untilCaughtUp ? { returnAtOffset: high } : {}),
      });
    } catch (err) {
      await this.dropReader(reader);
      throw err;
    }
    const last = records[records.length - 1];
    const nextOffset = last ? last.offset + 1 : fromOffset;
    return {
      records,
      nextOffset,
      highWatermark: Math.max(high, nextOffset, reader.highWatermark ?? 0),
    };
  }

  /**
   * A high watermark to read against. While a reader's last fetch saw records past the offset,
   * that is recent enough (a backlog drains with no extra round trip per read); otherwise, and
   * before saying a partition is caught up or an offset is past its end, ask Kafka.
   */
  private async highWatermarkBelow(
    topic: string,
    partition: number,
    fromOffset: number,
  ): Promise<number> {
    const known = this.readers.get(readerKey(topic, partition))?.highWatermark;
    if (known !== undefined && fromOffset < known) return known;
    return (await this.watermarkOf(topic, partition)).high;
  }

  private async watermarkOf(topic: string, partition: number): Promise<PartitionWatermark> {
    const mark = (await this.watermarks(topic)).find((m) => m.partition === partition);
    if (!mark) throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
    return mark;
  }

  private readerFor(topic: string, partition: number): FetchReader {
    const key = readerKey(topic, partition);
    let reader = this.readers.get(key);
    if (reader?.failed) {
      void this.dropReader(reader);
      reader = undefined;
    }
    if (!reader) {
      reader = new FetchReader(
        {
          clientId: this.options.clientId ?? 'pinpipe',
          locateLeader: (t, p) => this.leaderOf(t, p),
          lowWatermark: async (t, p) => (await this.watermarkOf(t, p)).low,
        },
        topic,
        partition,
        { fetchBytes: 4 * 1024 * 1024 },
      );
      this.readers.set(key, reader);
      this.sweeper ??= setInterval(() => void this.sweepIdleReaders(), 15_000).unref();
    }
    return reader;
  }

  private async dropReader(reader: FetchReader): Promise<void> {
    const key = readerKey(reader.topic, reader.partition);
    if (this.readers.get(key) === reader) this.readers.delete(key);
    await reader.close();
  }

  /** Readers cost a connection and a buffer each: close the ones no batch has used lately. */
  private async sweepIdleReaders(): Promise<void> {
    const idleSince = Date.now() - (this.options.readerIdleMs ?? 60_000);
    const idle = [...this.readers.values()].filter((r) => r.lastUsed < idleSince);
    await Promise.all(idle.map((r) => this.dropReader(r)));
  }

  /** The host and port of a partition's leader, from fresh metadata (asked after failures). */
  private async leaderOf(
    topic: string,
    partition: number,
  ): Promise<{ host: string; port: number }> {
    const admin = await this.getAdmin();
    const [meta, cluster] = await Promise.all([
      admin.fetchTopicMetadata({ topics: [topic] }),
      admin.describeCluster(),
    ]);
    const leader = meta.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
    const broker = cluster.brokers.find((b) => b.nodeId === leader);
    if (!broker) throw new Error(`no leader is known for ${topic}/${partition} (leader ${leader})`);
    return { host: broker.host, port: broker.port };
  }

  /**
   * Records offsets for a group that has no live members (pinpipe's ledger lives in the
   * workflow; this copy exists so standard lag tools see progress). Mirrors kafkajs's
   * admin.setOffsets, with a short fetch wait: that one waits a full default fetch (5 s).
   */
  async commitGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ProducedOffset[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    const consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 20,
      allowAutoTopicCreation: false,
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const { state } = await consumer.describeGroup();
      if (!['Empty', 'Dead', 'Unknown'].includes(state)) {
        throw new Error(`consumer group ${groupId} has running members (state ${state})`);
      }
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.FETCH, () => resolve());
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({ eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() })
          .catch(reject);
        consumer.pause([{ topic }]);
        // A seek on a running auto-committing consumer commits the offset it seeks to.
        for (const o of offsets)
          consumer.seek({ topic, partition: o.partition, offset: String(o.offset) });
      });
      await consumer.stop();
    } finally {
      await consumer.disconnect();
    }
  }

  async fetchGroupOffsets(groupId: string, topic: string): Promise<ProducedOffset[]> {
    const admin = await this.getAdmin();
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? [])
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
      .filter((p) => p.offset >= 0)
      .sort((a, b) => a.partition - b.partition);
  }

  async disconnect(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    const closing: Promise<void>[] = [...this.readers.values()].map((r) => this.dropReader(r));
    if (this.producer) closing.push(this.producer.then((p) => p.disconnect()));
    if (this.admin) closing.push(this.admin.then((a) => a.disconnect()));
    this.producer = undefined;
    this.admin = undefined;
    await Promise.allSettled(closing);
  }

  private async partitionsOf(
    topic: string,
    fresh: boolean,
  ): Promise<PartitionMetadata[] | undefined> {
    const cached = this.metadata.get(topic);
    const ttl = this.options.metadataTtlMs ?? 10_000;
    if (!fresh && cached && Date.now() - cached.at < ttl) return cached.partitions;
    const admin = await this.getAdmin();
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      this.metadata.delete(topic);
      return undefined;
    }
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = meta.topics[0]?.partitions ?? [];
    partitions.sort((a, b) => a.partitionId - b.partitionId);
    this.metadata.set(topic, { at: Date.now(), partitions });
    return partitions;
  }

  private async resetProducer(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    if (old) await old.then((p) => p.disconnect()).catch(() => undefined);
  }

  private getAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((err: unknown) => {
      this.admin = undefined;
      throw err;
    });
    return this.admin;
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.producer = undefined;
      throw err;
    });
    return this.producer;
  }
}

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
import { KAFKA_PRODUCE_TIMING } from '../kafka-produce-timing';
import type { KafkaSettings } from '../kafka-settings';
import { kafkajsCompression } from './kafka-codecs';
import { kafkajsSecurity, platformaticSecurity } from './kafka-security';
import { PlatformaticReader } from './platformatic-reader';
import { ProduceCoalescer } from './produce-coalescer';
import type {
  KafkaPort,
  OutgoingRecord,
  PartitionWatermark,
  ProducedOffset,
  ReadPartitionInput,
  ReadPartitionResult,
  TopicSpec,
} from '../ports/kafka';

export type KafkajsOptions = Pick<KafkaSettings, 'brokers' | 'clientId'> &
  Partial<Omit<KafkaSettings, 'brokers' | 'clientId'>> & {
    /** How long cached partition metadata is trusted before the next produce refreshes it. */
    metadataTtlMs?: number;
    /** Partition readers unused this long are closed. */
    readerIdleMs?: number;
  };

export function createKafka(options: KafkajsOptions): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...(options.security ? kafkajsSecurity(options.security, options.region ?? 'us-east-1') : {}),
    // Failures surface as exceptions to the caller; kafkajs's own logs of retried errors are noise.
    logLevel: logLevel.NOTHING,
    // Bounded, so the ingest API's produce deadline outlasts them (kafka-produce-timing.ts).
    connectionTimeout: KAFKA_PRODUCE_TIMING.connectionTimeoutMs,
    requestTimeout: KAFKA_PRODUCE_TIMING.requestTimeoutMs,
    retry: KAFKA_PRODUCE_TIMING.retry,
  });
}

function isUnknownTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/**
 * Kafka over kafkajs, except for partition reads. One admin and one idempotent producer (behind
 * a group-commit coalescer) are created lazily and reused. Reads go through @platformatic/kafka
 * (PlatformaticReader): Fetch requests at exact offsets straight to the leader. kafkajs has no
 * manual assignment (a reader had to be a consumer of a throwaway group) and its per-record
 * decoding cost the sink as much as a whole plain kafkajs consumer does. Reads need no committed
 * state and never disturb the ingestion consumer group. Both clients get the same TLS and SASL.
 */
export class KafkajsKafka implements KafkaPort {
  private admin?: Promise<Admin>;
  private producer?: Promise<Producer>;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, { at: number; partitions: PartitionMetadata[] }>();
  private readonly reader: PlatformaticReader;
  private readonly compression: ReturnType<typeof kafkajsCompression>;
  private topicDeletes: Promise<unknown> = Promise.resolve();
  private readonly coalescer = new ProduceCoalescer((batch) => this.sendBatch(batch));

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkajsOptions,
  ) {
    this.compression = kafkajsCompression(options.compression ?? 'none');
    this.reader = new PlatformaticReader({
      brokers: options.brokers,
      clientId: options.clientId,
      ...(options.security
        ? platformaticSecurity(options.security, options.region ?? 'us-east-1')
        : {}),
      ...(options.readerIdleMs !== undefined ? { readerIdleMs: options.readerIdleMs } : {}),
    });
  }

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
    await this.reader.forgetTopics(names);
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
      return await (
        await this.getProducer()
      ).sendBatch({
        topicMessages,
        acks: -1,
        timeout: KAFKA_PRODUCE_TIMING.ackTimeoutMs,
        compression: this.compression,
      });
    } catch (err) {
      if (!isUnknownTopic(err)) throw err;
      // Another process may have deleted a topic this producer once wrote to (see deleteTopics).
      await this.resetProducer();
      return (await this.getProducer()).sendBatch({
        topicMessages,
        acks: -1,
        timeout: KAFKA_PRODUCE_TIMING.ackTimeoutMs,
        compression: this.compression,
      });
    }
  }

  async watermarks(topic: string): Promise<PartitionWatermark[]> {
    const admin = await this.getAdmin();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    return this.reader.readPartition(input);
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
    const closing: Promise<void>[] = [this.reader.close()];
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
        // Without it kafkajs retries an idempotent producer's send without end.
        retry: KAFKA_PRODUCE_TIMING.retry,
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

import type { Admin, Kafka, PartitionMetadata } from 'kafkajs';
import type { KafkaAdmin, PartitionWatermark, TopicSpec } from '../ports/kafka';

export interface KafkajsAdminOptions {
  /** How long cached partition metadata is trusted before the next produce refreshes it. */
  metadataTtlMs?: number;
  /**
   * Called after each deleteTopics, still inside its turn (deletes run one at a time), with the
   * names asked for and whether any of them existed: the readers and the producer forget them.
   */
  afterDelete?: (names: string[], deletedAny: boolean) => Promise<void>;
}

/** True when kafkajs (or the error it wraps) says a topic or partition is unknown to Kafka. */
export function isUnknownTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

/**
 * Topics, partitions and watermarks over one kafkajs admin client, created lazily and reused.
 * It also keeps the partition metadata the producer chooses partitions from (partitionsOf),
 * dropped when a topic is deleted or grows.
 */
export class KafkajsAdmin implements KafkaAdmin {
  private admin?: Promise<Admin>;
  private readonly metadata = new Map<string, { at: number; partitions: PartitionMetadata[] }>();
  private topicDeletes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkajsAdminOptions = {},
  ) {}

  async ensureTopics(topics: TopicSpec[]): Promise<{ created: string[] }> {
    const admin = await this.client();
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
    const admin = await this.client();
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
    const admin = await this.client();
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
    await this.options.afterDelete?.(names, present.length > 0);
  }

  async increasePartitions(topic: string, count: number): Promise<void> {
    const admin = await this.client();
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
    this.metadata.delete(topic);
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    const partitions = await this.partitionsOf(topic, true);
    return partitions?.length;
  }

  async watermarks(topic: string): Promise<PartitionWatermark[]> {
    const offsets = await this.withClient((admin) => admin.fetchTopicOffsets(topic));
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  /**
   * A topic's partitions by id, or undefined when it does not exist: from the cache unless
   * `fresh` or older than metadataTtlMs.
   */
  async partitionsOf(topic: string, fresh: boolean): Promise<PartitionMetadata[] | undefined> {
    const cached = this.metadata.get(topic);
    const ttl = this.options.metadataTtlMs ?? 10_000;
    if (!fresh && cached && Date.now() - cached.at < ttl) return cached.partitions;
    const admin = await this.client();
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      this.metadata.delete(topic);
      return undefined;
    }
    const meta = await this.withClient((a) => a.fetchTopicMetadata({ topics: [topic] }));
    const partitions = meta.topics[0]?.partitions ?? [];
    partitions.sort((a, b) => a.partitionId - b.partitionId);
    this.metadata.set(topic, { at: Date.now(), partitions });
    return partitions;
  }

  /**
   * A call on the admin client, made once more on a fresh client when Kafka says a topic is
   * unknown: kafkajs refreshes metadata for every topic the client was ever asked about, so one
   * that another process deleted since fails every later call, whatever topic it is about.
   */
  async withClient<T>(call: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await call(await this.client());
    } catch (err) {
      if (!isUnknownTopic(err)) throw err;
      await this.disconnect().catch(() => undefined);
      return call(await this.client());
    }
  }

  /** The connected admin client (connected on first use; a failed connect is tried again). */
  client(): Promise<Admin> {
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

  async disconnect(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    if (admin) await admin.then((a) => a.disconnect());
  }
}

import { Kafka, logLevel } from 'kafkajs';
import type { KafkaSettings } from '../kafka-settings';
import type {
  KafkaPort,
  OutgoingRecord,
  PartitionWatermark,
  ProducedOffset,
  ReadPartitionInput,
  ReadPartitionResult,
  TopicSpec,
} from '../ports/kafka';
import { KAFKA_PRODUCE_TIMING } from './kafka-produce-timing';
import { kafkajsSecurity, platformaticSecurity } from './kafka-security';
import { KafkajsAdmin } from './kafkajs-admin';
import { KafkajsGroups } from './kafkajs-groups';
import { KafkajsProducer } from './kafkajs-producer';
import { PlatformaticReader } from './platformatic-reader';
import { recordSignature } from './record-signature';

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

/** The partition reader for the same cluster, with the same TLS and SASL. */
export function createReader(options: KafkajsOptions): PlatformaticReader {
  return new PlatformaticReader({
    brokers: options.brokers,
    clientId: options.clientId,
    ...(options.security
      ? platformaticSecurity(options.security, options.region ?? 'us-east-1')
      : {}),
    ...(options.readerIdleMs !== undefined ? { readerIdleMs: options.readerIdleMs } : {}),
  });
}

/**
 * All of Kafka, for composition roots: each role in a file of its own, this class only wires
 * them together and owns their connections.
 *
 * - admin (kafkajs-admin.ts): topics, partitions, watermarks, and the partition metadata cache;
 * - producer (kafkajs-producer.ts): the idempotent producer behind a group-commit coalescer;
 * - reader (platformatic-reader.ts): partition reads through @platformatic/kafka, Fetch requests
 *   at exact offsets straight to the leader. kafkajs has no manual assignment (a reader had to
 *   be a consumer of a throwaway group) and its per-record decoding cost the sink as much as a
 *   whole plain kafkajs consumer does. Reads need no committed state and never disturb the
 *   ingestion consumer group;
 * - groups (kafkajs-groups.ts): consumer group offsets, for lag tools.
 *
 * Clients are created lazily and reused; both libraries get the same TLS and SASL. Deleting a
 * topic drops its cached metadata and readers, and starts a fresh producer.
 */
export class KafkajsKafka implements KafkaPort {
  readonly admin: KafkajsAdmin;
  readonly producer: KafkajsProducer;
  readonly reader: PlatformaticReader;
  readonly groups: KafkajsGroups;

  constructor(kafka: Kafka, options: KafkajsOptions) {
    this.admin = new KafkajsAdmin(kafka, {
      ...(options.metadataTtlMs !== undefined ? { metadataTtlMs: options.metadataTtlMs } : {}),
      afterDelete: async (names, deletedAny) => {
        await this.reader.forgetTopics(names);
        if (deletedAny) await this.producer.reset();
      },
    });
    this.producer = new KafkajsProducer(
      kafka,
      (topic) => this.admin.partitionsOf(topic, false),
      options.compression,
      options.signingKey ? recordSignature(options.signingKey) : undefined,
    );
    this.reader = createReader(options);
    this.groups = new KafkajsGroups(kafka, (call) => this.admin.withClient(call));
  }

  static fromOptions(options: KafkajsOptions): KafkajsKafka {
    return new KafkajsKafka(createKafka(options), options);
  }

  ensureTopics(topics: TopicSpec[]): Promise<{ created: string[] }> {
    return this.admin.ensureTopics(topics);
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  deleteTopics(names: string[]): Promise<void> {
    return this.admin.deleteTopics(names);
  }

  increasePartitions(topic: string, count: number): Promise<void> {
    return this.admin.increasePartitions(topic, count);
  }

  partitionCount(topic: string): Promise<number | undefined> {
    return this.admin.partitionCount(topic);
  }

  watermarks(topic: string): Promise<PartitionWatermark[]> {
    return this.admin.watermarks(topic);
  }

  produce(topic: string, records: OutgoingRecord[]): Promise<ProducedOffset[]> {
    return this.producer.produce(topic, records);
  }

  readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    return this.reader.readPartition(input);
  }

  commitGroupOffsets(groupId: string, topic: string, offsets: ProducedOffset[]): Promise<void> {
    return this.groups.commitGroupOffsets(groupId, topic, offsets);
  }

  fetchGroupOffsets(groupId: string, topic: string): Promise<ProducedOffset[]> {
    return this.groups.fetchGroupOffsets(groupId, topic);
  }

  async disconnect(): Promise<void> {
    await Promise.allSettled([
      this.reader.close(),
      this.producer.disconnect(),
      this.admin.disconnect(),
    ]);
  }
}

/** Kafka as the activities and the API see it. Offsets are numbers (safe below 2^53). */

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface OutgoingRecord {
  key?: string | null;
  value: string;
  /** Explicit partition; otherwise the default partitioner (murmur2 of the key, else round robin). */
  partition?: number;
  headers?: Record<string, string>;
  /**
   * The ingest API validated it: with a signing key, the producer signs it (in runs) so the sink
   * writes it without validating it again. Only the key makes this trusted, not the flag.
   */
  validated?: boolean;
}

export interface ProducedOffset {
  partition: number;
  offset: number;
}

export interface ConsumedRecord {
  offset: number;
  /** Record timestamp, epoch milliseconds (CreateTime or LogAppendTime as the topic says). */
  timestamp: number;
  key: string | null;
  /** Raw bytes: decoding (and rejecting what is not JSON) is the caller's business. */
  value: Uint8Array | null;
  size: number;
  /** Record headers, decoded as UTF-8. */
  headers?: Record<string, string>;
}

/**
 * Records at `offset` that no retry will ever read (an unsupported compression codec or record
 * format): readPartition throws this so the caller can stop retrying and say so.
 */
export class UnreadableRecordsError extends Error {
  override name = 'UnreadableRecordsError';
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface ReadPartitionInput {
  topic: string;
  partition: number;
  fromOffset: number;
  /** Stop after this many records. */
  maxRecords: number;
  /** Stop once the values read add up to at least this many bytes. */
  maxBytes?: number;
  /** Return what has arrived (possibly nothing) after this long. */
  maxWaitMs: number;
  /** Also return as soon as everything up to the high watermark seen at the start is read. */
  untilCaughtUp?: boolean;
}

export interface ReadPartitionResult {
  records: ConsumedRecord[];
  /** The offset after the last record returned (fromOffset when none). */
  nextOffset: number;
  highWatermark: number;
}

export interface PartitionWatermark {
  partition: number;
  low: number;
  high: number;
}

/** Topics and partitions: what provisioning, teardown and the ingest API's lookups need. */
export interface KafkaAdmin {
  /** Creates missing topics; existing ones are left as they are. Returns the names it created. */
  ensureTopics(topics: TopicSpec[]): Promise<{ created: string[] }>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: string[]): Promise<void>;
  /** Raises a topic's partition count (Kafka cannot lower it). */
  increasePartitions(topic: string, count: number): Promise<void>;
  /** Partition count of a topic, or undefined when it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  watermarks(topic: string): Promise<PartitionWatermark[]>;
}

export interface KafkaProducer {
  /** Idempotent producer, acks=all. Returns each record's partition and offset, in input order. */
  produce(topic: string, records: OutgoingRecord[]): Promise<ProducedOffset[]>;
}

export interface KafkaReader {
  readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult>;
}

/** Consumer group offsets, kept so standard lag tools see the sink's progress. */
export interface KafkaGroups {
  commitGroupOffsets(groupId: string, topic: string, offsets: ProducedOffset[]): Promise<void>;
  fetchGroupOffsets(groupId: string, topic: string): Promise<ProducedOffset[]>;
}

/** All of Kafka, for composition roots (which own the connections) and fakes. */
export interface KafkaPort extends KafkaAdmin, KafkaProducer, KafkaReader, KafkaGroups {
  disconnect(): Promise<void>;
}

import type {
  ConsumedRecord,
  KafkaPort,
  OutgoingRecord,
  PartitionWatermark,
  ProducedOffset,
  ReadPartitionInput,
  ReadPartitionResult,
  TopicSpec,
} from '../../src/ports/kafka';
import { awsError, Faults } from './faults';

interface Partition {
  /** Records still retained, in offset order (offsets may skip: transaction markers). */
  records: ConsumedRecord[];
  /** The first offset retained. */
  low: number;
  /** The next offset to be written. */
  high: number;
}

interface Topic {
  spec: TopicSpec;
  partitions: Partition[];
}

export type KafkaMethod = keyof KafkaPort;

const encoder = new TextEncoder();

/**
 * KafkaPort in memory: topics of partitions, each a log with low and high watermarks; retention
 * (`truncate`) raises the low watermark, and a read from below it starts at the first record
 * retained, as the real reader does; offsets without records (transaction markers, `skip`) are
 * stepped over. Reads never wait: they return what is there. Consumer group offsets are kept.
 */
export class MemoryKafka implements KafkaPort {
  readonly topics = new Map<string, Topic>();
  readonly groups = new Map<string, Map<string, Map<number, number>>>();
  readonly faults = new Faults<KafkaMethod>();
  /** Timestamp of produced records; `append` takes one per record. */
  now: () => number = Date.now;
  disconnected = 0;
  /** Every read asked for, in order. */
  readonly reads: ReadPartitionInput[] = [];
  private roundRobin = 0;

  // ---- helpers for tests -----------------------------------------------------------------

  /** Appends records with the timestamps given (produce stamps them with `now`). */
  append(
    topic: string,
    partition: number,
    records: {
      value: string | Uint8Array | null;
      timestamp?: number;
      key?: string | null;
      headers?: Record<string, string>;
    }[],
  ): ProducedOffset[] {
    const p = this.partitionOf(topic, partition);
    return records.map((r) => {
      const value = typeof r.value === 'string' ? encoder.encode(r.value) : r.value;
      const offset = p.high++;
      p.records.push({
        offset,
        timestamp: r.timestamp ?? this.now(),
        key: r.key ?? null,
        value,
        size: value?.length ?? 0,
        ...(r.headers ? { headers: r.headers } : {}),
      });
      return { partition, offset };
    });
  }

  /** Offsets that hold no data record (a commit marker, an aborted transaction). */
  skip(topic: string, partition: number, count: number): void {
    this.partitionOf(topic, partition).high += count;
  }

  /** Retention: records below `low` are deleted. */
  truncate(topic: string, partition: number, low: number): void {
    const p = this.partitionOf(topic, partition);
    p.low = Math.min(Math.max(p.low, low), p.high);
    p.records = p.records.filter((r) => r.offset >= p.low);
  }

  // ---- KafkaPort ---------------------------------------------------------------------------

  ensureTopics(topics: TopicSpec[]): Promise<{ created: string[] }> {
    return this.faults.run('ensureTopics', () => {
      const created: string[] = [];
      for (const spec of topics) {
        if (this.topics.has(spec.name)) continue;
        this.topics.set(spec.name, {
          spec: { ...spec },
          partitions: Array.from({ length: spec.partitions }, () => ({
            records: [],
            low: 0,
            high: 0,
          })),
        });
        created.push(spec.name);
      }
      return { created };
    });
  }

  listTopics(): Promise<string[]> {
    return this.faults.run('listTopics', () => [...this.topics.keys()].sort());
  }

  deleteTopics(names: string[]): Promise<void> {
    return this.faults.run('deleteTopics', () => {
      for (const n of names) this.topics.delete(n);
    });
  }

  increasePartitions(topic: string, count: number): Promise<void> {
    return this.faults.run('increasePartitions', () => {
      const t = this.topicOf(topic);
      if (count <= t.partitions.length) {
        throw awsError(
          'InvalidPartitionsError',
          `topic ${topic} has ${t.partitions.length} partitions; cannot go to ${count}`,
        );
      }
      while (t.partitions.length < count) t.partitions.push({ records: [], low: 0, high: 0 });
      t.spec.partitions = count;
    });
  }

  partitionCount(topic: string): Promise<number | undefined> {
    return this.faults.run('partitionCount', () => this.topics.get(topic)?.partitions.length);
  }

  produce(topic: string, records: OutgoingRecord[]): Promise<ProducedOffset[]> {
    return this.faults.run('produce', () => {
      const t = this.topicOf(topic);
      return records.map((r) => {
        const partition = r.partition ?? this.roundRobin++ % t.partitions.length;
        const headers = r.headers ? { headers: r.headers } : {};
        return this.append(topic, partition, [
          { value: r.value, key: r.key ?? null, ...headers },
        ])[0]!;
      });
    });
  }

  readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    this.reads.push({ ...input });
    return this.faults.run('readPartition', () => {
      const p = this.partitionOf(input.topic, input.partition);
      if (input.fromOffset > p.high) {
        throw new RangeError(
          `offset ${input.fromOffset} is past the end of ${input.topic}/${input.partition} (high watermark ${p.high})`,
        );
      }
      const maxBytes = input.maxBytes ?? Number.POSITIVE_INFINITY;
      const records: ConsumedRecord[] = [];
      let bytes = 0;
      for (const r of p.records) {
        if (r.offset < input.fromOffset) continue;
        if (records.length >= input.maxRecords || (records.length > 0 && bytes >= maxBytes)) break;
        records.push({ ...r });
        bytes += r.size;
      }
      const last = records[records.length - 1];
      return {
        records,
        nextOffset: last ? last.offset + 1 : input.fromOffset,
        highWatermark: p.high,
      };
    });
  }

  watermarks(topic: string): Promise<PartitionWatermark[]> {
    return this.faults.run('watermarks', () =>
      this.topicOf(topic).partitions.map((p, partition) => ({
        partition,
        low: p.low,
        high: p.high,
      })),
    );
  }

  commitGroupOffsets(groupId: string, topic: string, offsets: ProducedOffset[]): Promise<void> {
    return this.faults.run('commitGroupOffsets', () => {
      this.topicOf(topic);
      const byTopic = this.groups.get(groupId) ?? new Map<string, Map<number, number>>();
      const byPartition = byTopic.get(topic) ?? new Map<number, number>();
      for (const o of offsets) byPartition.set(o.partition, o.offset);
      byTopic.set(topic, byPartition);
      this.groups.set(groupId, byTopic);
    });
  }

  fetchGroupOffsets(groupId: string, topic: string): Promise<ProducedOffset[]> {
    return this.faults.run('fetchGroupOffsets', () =>
      [...(this.groups.get(groupId)?.get(topic)?.entries() ?? [])]
        .map(([partition, offset]) => ({ partition, offset }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  disconnect(): Promise<void> {
    return this.faults.run('disconnect', () => void this.disconnected++);
  }

  // ---- internals ---------------------------------------------------------------------------

  private topicOf(topic: string): Topic {
    const t = this.topics.get(topic);
    if (!t) throw awsError('UnknownTopicOrPartition', `topic ${topic} does not exist`);
    return t;
  }

  private partitionOf(topic: string, partition: number): Partition {
    const p = this.topicOf(topic).partitions[partition];
    if (!p) throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
    return p;
  }
}

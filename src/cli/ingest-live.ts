import { partitionLag } from '../domain/ingest-input';
import { ingestGroupId } from '../domain/workflow-ids';
import type { KafkaAdmin, KafkaGroups, PartitionWatermark, ProducedOffset } from '../ports/kafka';
import type { IngestProgress } from '../workflows/ingest-topic';

/**
 * Lag as of now. The workflow's own high watermark moves only when a sinkBatch activity
 * returns, so records waiting in an open batch (or for a workflow that is not running) do not
 * show in it; Kafka's high watermark, read at the time of asking, does.
 */
export interface LivePartition {
  partition: number;
  /** Kafka's high watermark when asked. */
  highWatermark: number;
  nextOffset: number;
  /**
   * `workflow`: the workflow's ledger. `group`: the partition is not in a ledger (no workflow,
   * or a partition added since it started): the ingestion consumer group's offset, else 0,
   * which is where the next run starts.
   */
  nextOffsetFrom: 'workflow' | 'group';
  /** highWatermark − nextOffset, never below 0. */
  lag: number;
}

export interface LiveFigures {
  topic: string;
  /** When Kafka was asked (ISO-8601). */
  readAt: string;
  lag: number;
  partitions: LivePartition[];
}

/** Pure: each live partition against the ledger, else against the group's committed offset. */
export function liveFigures(
  topic: string,
  progress: IngestProgress | undefined,
  marks: PartitionWatermark[],
  committed: ProducedOffset[],
  readAt: Date,
): LiveFigures {
  const partitions = marks.map((m): LivePartition => {
    const ledger = progress?.partitions.find((p) => p.partition === m.partition);
    const nextOffset = ledger
      ? ledger.nextOffset
      : (committed.find((c) => c.partition === m.partition)?.offset ?? 0);
    return {
      partition: m.partition,
      highWatermark: m.high,
      nextOffset,
      nextOffsetFrom: ledger ? 'workflow' : 'group',
      lag: partitionLag({ nextOffset, highWatermark: m.high }),
    };
  });
  return {
    topic,
    readAt: readAt.toISOString(),
    lag: partitions.reduce((sum, p) => sum + p.lag, 0),
    partitions,
  };
}

/**
 * Reads the live figures of one topic. Call it after querying the workflow: both offsets only
 * grow, so a high watermark read later is never behind the next offset it is compared with.
 */
export async function readLiveFigures(
  kafka: KafkaAdmin & KafkaGroups,
  topic: string,
  progress: IngestProgress | undefined,
): Promise<LiveFigures> {
  const readAt = new Date();
  const marks = await kafka.watermarks(topic);
  const tracked = new Set(progress?.partitions.map((p) => p.partition));
  // The group is only asked when some partition is not in the ledger.
  const committed = marks.every((m) => tracked.has(m.partition))
    ? []
    : await kafka.fetchGroupOffsets(ingestGroupId(topic), topic);
  return liveFigures(topic, progress, marks, committed, readAt);
}

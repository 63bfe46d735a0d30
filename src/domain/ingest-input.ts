/**
 * The ingestTopic workflow's input: the table to ingest, the sink's tunables and, after a
 * continue-as-new, the offset ledger it carries. Validated in the workflow so a bad start fails
 * at once with a message naming the field.
 */

import { z } from 'zod';
import { PIPELINE_ID_PATTERN, TABLES, bucketFor, topicFor } from './tables';
import { formatZodIssues } from './zod-messages';

const MiB = 1024 * 1024;

export const partitionLedgerSchema = z.object({
  /** The next offset to write: everything below it is durable in the raw zone or quarantine. */
  nextOffset: z.int().min(0),
  highWatermark: z.int().min(0).default(0),
  recordsWritten: z.int().min(0).default(0),
  objectsWritten: z.int().min(0).default(0),
  quarantined: z.int().min(0).default(0),
  /** Offsets retention deleted before the sink read them: never in the raw zone. */
  lostToRetention: z.int().min(0).default(0),
  lastFlushAt: z.string().nullable().default(null),
});
export type PartitionLedger = z.infer<typeof partitionLedgerSchema>;

export const ingestTopicInputSchema = z.object({
  pipelineId: z.string().regex(PIPELINE_ID_PATTERN, 'expected 12 lowercase hex characters'),
  table: z.enum(TABLES),
  /** Defaults to the pipeline's bucket, `user-<id>-bucket`. */
  bucket: z.string().min(3).max(63).optional(),
  /** Flush a partition's batch at this many records... */
  maxRecords: z.int().min(1).max(1_000_000).default(10_000),
  /** ...or at this many bytes of values... */
  maxBytes: z
    .int()
    .min(1024)
    .max(256 * MiB)
    .default(16 * MiB),
  /** ...or once its oldest record is this old, whichever comes first. */
  rotateIntervalMs: z
    .int()
    .min(100)
    .max(24 * 3600_000)
    .default(30_000),
  /** How often an idle partition looks for new records (a workflow timer: no worker slot). */
  idlePollMs: z.int().min(50).max(600_000).default(2_000),
  /**
   * While offsets move, copy them to the Kafka consumer group at most this often, so standard
   * lag tools follow along (the ledger in the workflow stays the source of truth).
   */
  groupCommitIntervalMs: z.int().min(100).max(3_600_000).default(10_000),
  /** Continue as new once history reaches this many events (or the server suggests it). */
  maxHistoryEvents: z.int().min(200).max(40_000).default(5_000),
  /** Runs before this one (continue-as-new), for the progress view. */
  run: z.int().min(0).default(0),
  /** Offsets carried across continue-as-new, by partition number. */
  ledger: z.record(z.string().regex(/^\d+$/), partitionLedgerSchema).default({}),
});

export type IngestTopicInput = z.input<typeof ingestTopicInputSchema>;
export type IngestTopicSettings = z.output<typeof ingestTopicInputSchema> & {
  topic: string;
  bucket: string;
};

export type ParseIngestInput =
  { ok: true; settings: IngestTopicSettings } | { ok: false; reason: string };

export function parseIngestTopicInput(input: unknown): ParseIngestInput {
  const parsed = ingestTopicInputSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, reason: formatZodIssues(parsed.error.issues, { root: 'input' }) };
  }
  const s = parsed.data;
  return {
    ok: true,
    settings: {
      ...s,
      topic: topicFor(s.pipelineId, s.table),
      bucket: s.bucket ?? bucketFor(s.pipelineId),
    },
  };
}

/** Lag of one partition: records in Kafka not yet in the raw zone. */
export function partitionLag(l: Pick<PartitionLedger, 'nextOffset' | 'highWatermark'>): number {
  return Math.max(0, l.highWatermark - l.nextOffset);
}

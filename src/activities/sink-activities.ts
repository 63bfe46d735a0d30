import { ApplicationFailure, Context } from '@temporalio/activity';
import type { RecordSignature } from '../ports/record-signature';
import { classifyBatch } from '../domain/signed-groups';
import {
  cutRun,
  entryEnd,
  segmentBody,
  flushDecision,
  type KafkaRecordLike,
  quarantineObjectKey,
  rawObjectKey,
  takeSegment,
  type Segment,
} from '../domain/raw-zone';
import type { Table } from '../domain/tables';
import {
  type KafkaAdmin,
  type KafkaGroups,
  type KafkaReader,
  type ProducedOffset,
  type ReadPartitionInput,
  type ReadPartitionResult,
  UnreadableRecordsError,
} from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import { conditionalWriteGuard } from './conditional-write-guard';
import { withHeartbeatClock } from './heartbeat-clock';
import { LinesPool } from './lines-pool';

/**
 * The sink: Kafka partition → NDJSON objects in the raw zone (and quarantine), exactly once.
 * Keys derive from (topic, partition, start offset, day); writes are conditional; an object
 * that already exists for a start offset is adopted (its metadata says where it ends), so a
 * retry after a crash at any point writes nothing twice and skips nothing.
 */

export interface PrepareIngestInput {
  topic: string;
  bucket: string;
  groupId: string;
}
export interface PrepareIngestResult {
  partitions: number;
  /** Offsets committed to the Kafka group by earlier runs: durable progress to resume from. */
  committed: ProducedOffset[];
}

export interface SinkBatchInput {
  table: Table;
  topic: string;
  bucket: string;
  partition: number;
  fromOffset: number;
  maxRecords: number;
  maxBytes: number;
  rotateIntervalMs: number;
  /** Write whatever is there now, full batch or not (used by the `flush` signal). */
  force?: boolean;
  /** Keep writing batches while a backlog lasts, up to this long (default 5 s). */
  budgetMs?: number;
}

/** The counts a sink batch adds up: in its result, and in the checkpoint a retry resumes from. */
export interface SinkTallies {
  recordsWritten: number;
  quarantined: number;
  objectsWritten: number;
  objectsAdopted: number;
  bytesWritten: number;
  /**
   * Offsets Kafka no longer had when they were read (retention deleted them first): lost to the
   * raw zone, so the workflow keeps the count in its ledger and says so. 0 in normal operation.
   * Offsets without data records (transaction markers, aborted transactions) are not counted.
   */
  skipped: number;
}

const TALLY_FIELDS = [
  'recordsWritten',
  'quarantined',
  'objectsWritten',
  'objectsAdopted',
  'bytesWritten',
  'skipped',
] as const satisfies readonly (keyof SinkTallies)[];

/** The tallies of `from`, 0 for any it lacks (an older checkpoint). */
function talliesOf(from: Partial<SinkTallies>): SinkTallies {
  return Object.fromEntries(TALLY_FIELDS.map((k) => [k, from[k] ?? 0])) as unknown as SinkTallies;
}

export interface SinkBatchResult extends SinkTallies {
  flushed: boolean;
  /** Everything below is durable (raw zone or quarantine). */
  nextOffset: number;
  highWatermark: number;
  /** When not flushed: how long until the pending batch is due. */
  waitMs?: number;
  pending: number;
  /** A few of the keys written, for the activity result in the Web UI; never records. */
  sampleKeys: string[];
}

export interface CommitIngestOffsetsInput {
  groupId: string;
  topic: string;
  offsets: ProducedOffset[];
}

export const OBJECT_CONFLICT = 'RawObjectConflict';
/** Retryable: the server refused our write for a key whose object it does not show (yet). */
export const OBJECT_IN_FLIGHT = 'RawObjectInFlight';
export const UNREADABLE_RECORDS = 'UnreadableRecords';
export const TOPIC_NOT_FOUND = 'TopicNotFound';

const READ_WAIT_MS = 2_000;
const DEFAULT_BUDGET_MS = 5_000;

/** What an attempt reports as durable while it runs; a retry resumes from it. */
interface SinkCheckpoint extends SinkTallies {
  nextOffset: number;
}

/** The checkpoint an attempt reports: everything below `nextOffset` is durable. */
function checkpointOf(nextOffset: number, result: SinkBatchResult): SinkCheckpoint {
  return { nextOffset, ...talliesOf(result) };
}

function lastCheckpoint(fromOffset: number): SinkCheckpoint | undefined {
  const details = Context.current().info.heartbeatDetails as Partial<SinkCheckpoint> | undefined;
  if (typeof details?.nextOffset !== 'number' || details.nextOffset <= fromOffset) return undefined;
  return { nextOffset: details.nextOffset, ...talliesOf(details) };
}

export function createSinkActivities(deps: {
  kafka: KafkaAdmin & KafkaReader & KafkaGroups;
  store: ObjectStore;
  /** Runs the ingest API signed and that verify are written without validating them again. */
  signature?: RecordSignature;
  now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  // Exactly-once rests on If-None-Match: *: proven per bucket before the first write, not assumed.
  const requireConditionalWrites = conditionalWriteGuard(deps.store);
  const linesPool = new LinesPool();

  /** A read; records no retry can ever read fail the activity for good, saying where. */
  async function read(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    try {
      return await deps.kafka.readPartition(input);
    } catch (err) {
      if (!(err instanceof UnreadableRecordsError)) throw err;
      throw ApplicationFailure.nonRetryable(
        `cannot read ${err.message}; the partition's ingestion stops at that offset`,
        UNREADABLE_RECORDS,
      );
    }
  }

  /** Writes one segment, or adopts the object already there; returns the offset after it. */
  async function writeSegment(
    input: SinkBatchInput,
    segment: Segment,
  ): Promise<{
    next: number;
    adopted: boolean;
    key: string;
    bytes: number;
    records: number;
    kind: string;
  }> {
    const position = {
      topic: input.topic,
      partition: input.partition,
      startOffset: segment.firstOffset,
      day: segment.day,
    };
    const key =
      segment.kind === 'raw' ? rawObjectKey(position) : quarantineObjectKey(input.table, position);
    const { body, count } = segmentBody(segment);
    await requireConditionalWrites(input.bucket);
    const put = await deps.store.putIfAbsent({
      bucket: input.bucket,
      key,
      body,
      contentType: 'application/x-ndjson',
      metadata: {
        'first-offset': String(segment.firstOffset),
        'last-offset': String(segment.lastOffset),
        'record-count': String(count),
        topic: input.topic,
        partition: String(input.partition),
        kind: segment.kind,
      },
    });
    if (put.status === 'created') {
      return {
        next: segment.lastOffset + 1,
        adopted: false,
        key,
        bytes: body.length,
        records: count,
        kind: segment.kind,
      };
    }
    const head = await deps.store.head({ bucket: input.bucket, key });
    if (!head) {
      // 409 ConditionalRequestConflict (another conditional write of the key is in flight), or
      // 412 while that write is not yet visible to a read: nothing to adopt yet, and nothing
      // wrong either. The retry reads again from the last durable offset and either writes the
      // object (the other write failed) or finds it and adopts it (the other write landed).
      throw ApplicationFailure.retryable(
        `s3://${input.bucket}/${key}: the server refused the conditional write (another write of ` +
          'the key is in flight) but does not show the object yet; retrying from offset ' +
          `${segment.firstOffset}, which adopts the object if that write lands`,
        OBJECT_IN_FLIGHT,
      );
    }
    const last = Number(head.metadata['last-offset']);
    if (!Number.isInteger(last) || last < segment.firstOffset) {
      throw ApplicationFailure.nonRetryable(
        `s3://${input.bucket}/${key} exists but has no valid last-offset metadata; ` +
          'it was not written by pinpipe: move it aside and the sink will rewrite it',
        OBJECT_CONFLICT,
      );
    }
    // Written by an earlier attempt whose result never reached the workflow: count it now.
    return {
      next: last + 1,
      adopted: true,
      key,
      bytes: head.size,
      records: Number(head.metadata['record-count'] ?? 0),
      kind: head.metadata.kind ?? segment.kind,
    };
  }

  /**
   * Of the offsets [from, first) a read stepped over, those below the partition's low watermark
   * now: retention deleted them before they were read. The rest of such a gap holds no data
   * records (transaction markers, aborted transactions), so it is not a loss. Logged here; the
   * workflow adds the count to its ledger.
   */
  async function lostToRetention(
    input: SinkBatchInput,
    from: number,
    first: number,
    ctx: Context,
  ): Promise<number> {
    const low =
      (await deps.kafka.watermarks(input.topic)).find((w) => w.partition === input.partition)
        ?.low ?? from;
    const lost = Math.max(0, Math.min(low, first) - from);
    if (lost > 0) {
      ctx.log.warn('offsets lost to retention before the sink read them', {
        topic: input.topic,
        partition: input.partition,
        fromOffset: from,
        toOffset: from + lost - 1,
        lost,
      });
    }
    return lost;
  }

  /** Classifies a batch and writes its segments in order; returns the offset after them. */
  async function writeBatch(
    input: SinkBatchInput,
    records: readonly KafkaRecordLike[],
    from: number,
    result: SinkBatchResult,
    ctx: Context,
  ): Promise<number> {
    const signature = deps.signature;
    const classified = await classifyBatch(
      input.table,
      input.topic,
      input.partition,
      records,
      signature && ((lines, ranges) => signature.verifyRanges(input.topic, lines, ranges)),
      (size) => linesPool.take(size),
    );
    const first = classified[0]!.offset;
    if (first > from) result.skipped += await lostToRetention(input, from, first, ctx);
    let cursor = from;
    let i = 0;
    while (i < classified.length) {
      while (i < classified.length && entryEnd(classified[i]!) < cursor) i++;
      if (i >= classified.length) break;
      const entry = classified[i]!;
      // An object adopted before it ended inside a signed run: write the rest of the run.
      if (entry.kind === 'signed' && entry.offset < cursor) {
        classified[i] = cutRun(entry, records, cursor);
      }
      const { segment } = takeSegment(classified, i);
      // A large object can take longer to upload than the heartbeat timeout: beat on a clock
      // during the write, with the last durable checkpoint (never the object in flight).
      const durable = checkpointOf(cursor, result);
      const written = await withHeartbeatClock(
        () => durable,
        () => writeSegment(input, segment),
      );
      if (written.adopted) result.objectsAdopted++;
      else result.objectsWritten++;
      if (result.sampleKeys.length < 5) result.sampleKeys.push(written.key);
      if (written.kind === 'raw') result.recordsWritten += written.records;
      else result.quarantined += written.records;
      result.bytesWritten += written.bytes;
      // An adopted object can end before or after the segment: go on from where it ends (the
      // loop's head skips what it covers and cuts a signed run it ends inside).
      cursor = written.next;
      ctx.heartbeat(checkpointOf(cursor, result));
    }
    // Every object of the batch is written: its signed lines' buffer is free again.
    for (const e of classified) if (e.kind === 'signed') linesPool.give(e.body.buffer);
    return cursor;
  }

  return {
    async prepareIngest(input: PrepareIngestInput): Promise<PrepareIngestResult> {
      const partitions = await deps.kafka.partitionCount(input.topic);
      if (partitions === undefined) {
        throw ApplicationFailure.nonRetryable(
          `topic ${input.topic} does not exist: provision the pipeline first ` +
            '(npx pinpipe provision) or create the topic',
          TOPIC_NOT_FOUND,
        );
      }
      await deps.store.ensureBucket(input.bucket);
      const committed = await deps.kafka.fetchGroupOffsets(input.groupId, input.topic);
      return { partitions, committed };
    },

    async sinkBatch(input: SinkBatchInput): Promise<SinkBatchResult> {
      const ctx = Context.current();
      const started = now();
      const budgetMs = input.budgetMs ?? DEFAULT_BUDGET_MS;
      // A retry resumes after the objects its previous attempt reported as durable.
      const checkpoint = lastCheckpoint(input.fromOffset);
      let cursor = checkpoint?.nextOffset ?? input.fromOffset;
      const result: SinkBatchResult = {
        // A resumed attempt already made its checkpoint durable: that counts as a flush.
        flushed: checkpoint !== undefined,
        nextOffset: cursor,
        highWatermark: cursor,
        pending: 0,
        recordsWritten: checkpoint?.recordsWritten ?? 0,
        quarantined: checkpoint?.quarantined ?? 0,
        objectsWritten: checkpoint?.objectsWritten ?? 0,
        objectsAdopted: checkpoint?.objectsAdopted ?? 0,
        bytesWritten: checkpoint?.bytesWritten ?? 0,
        skipped: checkpoint?.skipped ?? 0,
        sampleKeys: [],
      };
      // Batch after batch while a backlog lasts, within a time budget: fewer round trips to
      // the workflow, and the reader keeps streaming. Each object is durable (and heartbeated)
      // before the next is read, so a crash anywhere loses nothing and repeats nothing.
      const readFrom = (fromOffset: number) => {
        const reading = read({
          topic: input.topic,
          partition: input.partition,
          fromOffset,
          maxRecords: input.maxRecords,
          maxBytes: input.maxBytes,
          maxWaitMs: READ_WAIT_MS,
          untilCaughtUp: true,
        });
        reading.catch(() => undefined); // surfaces where it is awaited
        return { fromOffset, reading };
      };
      let next = readFrom(cursor);
      for (;;) {
        // A batch read ahead from where the write before it ended (an adopted object can end
        // past its batch: then read again from there).
        if (next.fromOffset !== cursor) next = readFrom(cursor);
        const batch = await next.reading;
        result.highWatermark = batch.highWatermark;
        const bytes = batch.records.reduce((sum, r) => sum + r.size, 0);
        const decision =
          input.force && !result.flushed
            ? ({ flush: true } as const)
            : flushDecision(
                {
                  records: batch.records.length,
                  bytes,
                  oldestTimestamp: batch.records[0]?.timestamp,
                },
                input,
                now(),
              );
        if (batch.records.length === 0 || !decision.flush) {
          result.pending = batch.records.length;
          if (!decision.flush) result.waitMs = decision.waitMs;
          break;
        }
        // Read the next batch while this one is written: the writes stay one after the other
        // (each durable before the next starts), only the waiting on Kafka and S3 overlaps.
        const more = batch.nextOffset < batch.highWatermark && now() - started < budgetMs;
        if (more) next = readFrom(batch.nextOffset);
        cursor = await writeBatch(input, batch.records, cursor, result, ctx);
        result.flushed = true;
        result.nextOffset = cursor;
        if (cursor >= batch.highWatermark || now() - started >= budgetMs) break;
        if (ctx.cancellationSignal.aborted) break;
      }
      return result;
    },

    async commitIngestOffsets(input: CommitIngestOffsetsInput): Promise<void> {
      await deps.kafka.commitGroupOffsets(input.groupId, input.topic, input.offsets);
    },
  };
}

export type SinkActivities = ReturnType<typeof createSinkActivities>;

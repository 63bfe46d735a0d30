import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SinkActivities, SinkBatchResult } from '../activities/sink-activities';
import {
  parseIngestTopicInput,
  partitionLag,
  type IngestTopicInput,
  type IngestTopicSettings,
  type PartitionLedger,
} from '../domain/ingest-input';
import { markdownTable } from '../domain/markdown-table';
import { rawTopicPrefix } from '../domain/raw-zone';
import { ingestGroupId } from '../domain/workflow-ids';
import { activityProfiles } from './activity-profiles';
import { IngestLag, PipelineId, PipelineTable } from './search-attributes';

export type { IngestTopicInput } from '../domain/ingest-input';

export interface PartitionProgress extends PartitionLedger {
  partition: number;
  lag: number;
}

export interface IngestProgress {
  pipelineId: string;
  table: string;
  topic: string;
  bucket: string;
  partitions: PartitionProgress[];
  totals: {
    lag: number;
    recordsWritten: number;
    objectsWritten: number;
    quarantined: number;
    lostToRetention: number;
  };
  /**
   * Partitions whose Kafka group offset differed from the carried ledger when this run began
   * (someone reset the group): reported, never followed; the ledger is the source of truth.
   */
  groupDifferences?: { partition: number; ledgerOffset: number; groupOffset: number }[];
  /** Runs of this workflow so far (continue-as-new), counting this one. */
  run: number;
}

export type IngestTopicResult = IngestProgress;

export const progressQuery = defineQuery<IngestProgress>('progress');
/** Write every partition's pending records now, full batch or not. */
export const flushSignal = defineSignal('flush');
/** Finish the batches in flight, commit offsets, and complete. */
export const stopSignal = defineSignal('stop');

const { prepareIngest, commitIngestOffsets } = proxyActivities<SinkActivities>(
  activityProfiles.quickIo,
);
const { sinkBatch } = proxyActivities<SinkActivities>(activityProfiles.sink);

/**
 * Long-running ingestion of one table: Kafka topic → S3 raw zone, exactly once. The offset
 * ledger lives here; a partition's offset advances only when sinkBatch reports the objects
 * durable. Partitions run independently; idle ones wait on timers (no worker slot held).
 */
export async function ingestTopic(rawInput: IngestTopicInput): Promise<IngestTopicResult> {
  const parsed = parseIngestTopicInput(rawInput);
  if (!parsed.ok) {
    throw ApplicationFailure.nonRetryable(
      `invalid ingestTopic input: ${parsed.reason}`,
      'InvalidInput',
    );
  }
  const s: IngestTopicSettings = parsed.settings;
  const groupId = ingestGroupId(s.topic);
  const run = s.run + 1;

  upsertSearchAttributes([
    { key: PipelineId, value: s.pipelineId },
    { key: PipelineTable, value: s.table },
  ]);

  // Handlers first: a query that arrives while prepareIngest runs must find them.
  const ledger = new Map<number, PartitionLedger>();
  const groupDifferences: NonNullable<IngestProgress['groupDifferences']> = [];
  const force = new Set<number>();
  let stopRequested = false;
  const progress = (): IngestProgress => {
    const rows = [...ledger.entries()].map(([partition, l]) => ({
      partition,
      ...l,
      lag: partitionLag(l),
    }));
    const sum = (f: (r: PartitionProgress) => number) => rows.reduce((a, r) => a + f(r), 0);
    return {
      pipelineId: s.pipelineId,
      table: s.table,
      topic: s.topic,
      bucket: s.bucket,
      partitions: rows,
      totals: {
        lag: sum((r) => r.lag),
        recordsWritten: sum((r) => r.recordsWritten),
        objectsWritten: sum((r) => r.objectsWritten),
        quarantined: sum((r) => r.quarantined),
        lostToRetention: sum((r) => r.lostToRetention),
      },
      ...(groupDifferences.length > 0 ? { groupDifferences } : {}),
      run,
    };
  };
  setHandler(progressQuery, progress);
  setHandler(flushSignal, () => {
    for (const p of ledger.keys()) force.add(p);
  });
  setHandler(stopSignal, () => {
    stopRequested = true;
  });

  const { partitions, committed } = await prepareIngest({
    topic: s.topic,
    bucket: s.bucket,
    groupId,
  });
  // patched: histories recorded before it followed the group whenever it was ahead.
  const seedOnce = patched('group-offset-seeds-empty-ledger-only');
  for (let p = 0; p < partitions; p++) {
    const carried = s.ledger[String(p)];
    const fromGroup = committed.find((c) => c.partition === p)?.offset;
    let nextOffset: number;
    if (!seedOnce) nextOffset = Math.max(carried?.nextOffset ?? 0, fromGroup ?? 0);
    else if (carried === undefined) nextOffset = fromGroup ?? 0;
    else {
      // A reset of the group (to latest, to a date) must not skip data silently: say so.
      nextOffset = carried.nextOffset;
      if (fromGroup !== undefined && fromGroup !== carried.nextOffset) {
        groupDifferences.push({
          partition: p,
          ledgerOffset: carried.nextOffset,
          groupOffset: fromGroup,
        });
        log.warn('the Kafka group offset differs from the ledger; the ledger is kept', {
          topic: s.topic,
          partition: p,
          ledgerOffset: carried.nextOffset,
          groupOffset: fromGroup,
        });
      }
    }
    ledger.set(p, {
      nextOffset,
      highWatermark: carried?.highWatermark ?? 0,
      recordsWritten: carried?.recordsWritten ?? 0,
      objectsWritten: carried?.objectsWritten ?? 0,
      quarantined: carried?.quarantined ?? 0,
      lostToRetention: carried?.lostToRetention ?? 0,
      lastFlushAt: carried?.lastFlushAt ?? null,
    });
  }

  // IngestLag is indexed by the server: refresh it when it reaches zero or leaves it, and
  // otherwise at most every few seconds, not on every batch of a fast-moving backlog.
  let lastLagShown = -1;
  let lastLagAt = 0;
  const publish = () => {
    const now = progress();
    setCurrentDetails(renderDetails(now));
    const lag = now.totals.lag;
    const crossedZero = (lag === 0) !== (lastLagShown === 0);
    // patched: histories recorded before the throttle upserted on every change (and replay).
    const throttled = patched('throttle-ingest-lag-upsert');
    const due = !throttled || crossedZero || Date.now() - lastLagAt >= 5_000;
    if (lag !== lastLagShown && due) {
      lastLagShown = lag;
      lastLagAt = Date.now();
      upsertSearchAttributes([{ key: IngestLag, value: lag }]);
    }
  };
  publish();

  const historyFull = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= s.maxHistoryEvents;
  const shouldExit = () => stopRequested || historyFull();

  const apply = (p: number, r: SinkBatchResult) => {
    const l = ledger.get(p)!;
    // Monotonic: a stale result can never move the ledger backwards.
    l.nextOffset = Math.max(l.nextOffset, r.nextOffset);
    l.highWatermark = Math.max(r.highWatermark, l.nextOffset);
    if (r.skipped > 0) {
      l.lostToRetention += r.skipped;
      log.warn('offsets lost to retention before the sink read them', {
        topic: s.topic,
        partition: p,
        lost: r.skipped,
        lostSoFar: l.lostToRetention,
      });
    }
    if (r.flushed) {
      l.recordsWritten += r.recordsWritten;
      l.objectsWritten += r.objectsWritten + r.objectsAdopted;
      l.quarantined += r.quarantined;
      l.lastFlushAt = new Date().toISOString();
    }
  };

  async function runPartition(p: number): Promise<void> {
    let idlePolls = 0;
    while (!shouldExit()) {
      const l = ledger.get(p)!;
      const forced = force.delete(p);
      const r = await sinkBatch.executeWithOptions(
        { ...activityProfiles.sink, summary: `${s.topic}/${p} from offset ${l.nextOffset}` },
        [
          {
            table: s.table,
            topic: s.topic,
            bucket: s.bucket,
            partition: p,
            fromOffset: l.nextOffset,
            maxRecords: s.maxRecords,
            maxBytes: s.maxBytes,
            rotateIntervalMs: s.rotateIntervalMs,
            force: forced,
          },
        ],
      );
      apply(p, r);
      publish();
      if (r.waitMs === undefined && l.nextOffset < l.highWatermark) {
        idlePolls = 0;
        continue; // a backlog the activity left within its budget: keep draining
      }
      let waitMs: number;
      if (r.pending > 0) {
        idlePolls = 0;
        waitMs = Math.max(50, r.waitMs ?? s.idlePollMs); // until the partial batch is due
      } else {
        // Nothing new: back off up to the rotate interval, on a timer, holding no slot.
        waitMs = Math.min(s.idlePollMs * 2 ** Math.min(idlePolls, 10), s.rotateIntervalMs);
        idlePolls++;
      }
      await condition(() => force.has(p) || shouldExit(), waitMs);
    }
  }

  const commit = () =>
    commitIngestOffsets({
      groupId,
      topic: s.topic,
      offsets: [...ledger.entries()].map(([partition, l]) => ({ partition, offset: l.nextOffset })),
    }).catch((err: unknown) => {
      // The ledger here is the source of truth; the group copy is for lag tools only.
      log.warn('could not commit offsets to the Kafka group', { error: String(err) });
    });

  // While offsets move, a copy goes to the Kafka group every groupCommitIntervalMs; an idle
  // topic waits on a condition, not a timer, so it adds nothing to history.
  const offsetsKey = () => [...ledger.values()].map((l) => l.nextOffset).join(',');
  async function commitWhileRunning(): Promise<void> {
    let committedKey = offsetsKey();
    for (;;) {
      await condition(() => shouldExit() || offsetsKey() !== committedKey);
      if (shouldExit()) return;
      await condition(shouldExit, s.groupCommitIntervalMs);
      if (shouldExit()) return;
      committedKey = offsetsKey();
      await commit();
    }
  }

  try {
    // patched: histories recorded before the periodic commit only committed at the end.
    const committer = patched('periodic-group-commit') ? [commitWhileRunning()] : [];
    await Promise.all([...[...ledger.keys()].map((p) => runPartition(p)), ...committer]);
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(commit);
    }
    throw err;
  }
  await commit();

  if (stopRequested) return progress();
  const carried: Record<string, PartitionLedger> = {};
  for (const [p, l] of ledger) carried[String(p)] = l;
  return continueAsNew<typeof ingestTopic>({ ...rawInput, ledger: carried, run });
}

function renderDetails(p: IngestProgress): string {
  const header =
    `**${p.topic}** → s3://${p.bucket}/${rawTopicPrefix(p.topic)} · lag **${p.totals.lag}** · ` +
    `written ${p.totals.recordsWritten} records in ${p.totals.objectsWritten} objects · ` +
    `quarantined ${p.totals.quarantined} · ` +
    (p.totals.lostToRetention > 0
      ? `**lost to retention ${p.totals.lostToRetention}** (deleted by Kafka before they were read) · `
      : '') +
    `run ${p.run}\n\n` +
    (p.groupDifferences ?? [])
      .map(
        (d) =>
          `⚠ partition ${d.partition}: the Kafka group says offset ${d.groupOffset}, the ledger ` +
          `${d.ledgerOffset}; the ledger is kept (reset the ledger, not the group, to skip data)\n\n`,
      )
      .join('');
  return (
    header +
    markdownTable(
      [
        'partition',
        'next offset',
        'high watermark',
        'lag',
        'records',
        'objects',
        'quarantined',
        'lost to retention',
        'last flush',
      ],
      p.partitions.map((r) => [
        r.partition,
        r.nextOffset,
        r.highWatermark,
        r.lag,
        r.recordsWritten,
        r.objectsWritten,
        r.quarantined,
        r.lostToRetention,
        r.lastFlushAt ?? '-',
      ]),
    )
  );
}

import {
  ActivityFailure,
  ApplicationFailure,
  continueAsNew,
  TimeoutFailure,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightlyActivities } from '../activities/nightly-activities';
import type { CommitPartitionResult } from '../activities/commit-partition';
import type { ShardCounts } from '../activities/cleaning-activities';
import type { ShardLimits } from '../domain/clean-shards';
import { isDataDate } from '../domain/clean-zone';
import { markdownTable } from '../domain/markdown-table';
import type { Table } from '../domain/tables';
import { shardTaskQueue } from '../domain/workflow-ids';
import { activityProfiles } from './activity-profiles';
import { rootMessage } from './failure-message';
import { DataDate, PipelineId, PipelineStatus, PipelineTable } from './search-attributes';

export interface CleaningOptions extends Partial<ShardLimits> {
  /** Shards in flight at once for this table, on any worker of the queue (default 4). */
  shardWindow?: number;
  /** Shards per run of cleanTable before it continues as new (default SHARDS_PER_RUN). */
  shardsPerRun?: number;
}

export interface CleanTableInput {
  pipelineId: string;
  bucket: string;
  table: Table;
  date: string;
  /** Names this run's files (the parent's run id): a rerun writes new files, then swaps. */
  run: string;
  cleaning?: CleaningOptions;
  /** Carried across continue-as-new: where the previous run of this workflow stopped. */
  resume?: {
    planKey: string;
    shards: number;
    objects: number;
    nextShard: number;
    totals: ShardCounts;
  };
}

export interface CleanTableResult extends CommitPartitionResult {
  table: Table;
  date: string;
  inputs: number;
  shards: number;
}

/** Shards one run of this workflow schedules before it continues as new (history stays small). */
export const SHARDS_PER_RUN = 500;

const { planCleaning } = proxyActivities<NightlyActivities>(activityProfiles.longIo);
const { commitPartition } = proxyActivities<NightlyActivities>({
  ...activityProfiles.longIo,
  retry: { ...activityProfiles.longIo.retry, nonRetryableErrorTypes: ['QualityGateFailed'] },
});

const emptyTotals = (): ShardCounts => ({
  rawRecords: 0,
  rowsIn: 0,
  quarantined: 0,
  gateState: { checked: 0, failed: [] },
});

function add(totals: ShardCounts, s: ShardCounts): void {
  totals.rawRecords += s.rawRecords;
  totals.rowsIn += s.rowsIn;
  totals.quarantined += s.quarantined;
  totals.gateState.checked += s.gateState.checked;
  s.gateState.failed.forEach((f, i) => {
    totals.gateState.failed[i] = (totals.gateState.failed[i] ?? 0) + f;
  });
}

/**
 * One table, one day: the plan (the day's raw objects cut into shards of bounded bytes, kept in
 * S3), the shards cleaned by any worker on the queue through a sliding window, then the commit
 * (distinct rows, quality gates, manifest swap). A shard that keeps failing fails this workflow
 * with the table, object and byte position; a failing gate with the gate's reason. Siblings are
 * unaffected either way.
 */
export async function cleanTable(input: CleanTableInput): Promise<CleanTableResult> {
  if (!isDataDate(input.date)) {
    throw ApplicationFailure.nonRetryable(
      `date: expected YYYY-MM-DD, got ${input.date}`,
      'InvalidInput',
    );
  }
  upsertSearchAttributes([
    { key: PipelineId, value: input.pipelineId },
    { key: PipelineTable, value: input.table },
    { key: DataDate, value: input.date },
    { key: PipelineStatus, value: 'running' },
  ]);
  const show = (step: string) =>
    setCurrentDetails(`**${input.table}** · ${input.date} · run ${input.run}\n\n${step}`);
  const fail = (message: string, type: string, details: unknown[] = []): never => {
    upsertSearchAttributes([{ key: PipelineStatus, value: 'failed' }]);
    show(`**failed**: ${message}`);
    throw ApplicationFailure.create({ message, type, nonRetryable: true, details });
  };

  // Shards go to the companion queue, where each worker holds only as many as it has cores.
  const { cleanShard } = proxyActivities<NightlyActivities>({
    ...activityProfiles.shard,
    taskQueue: shardTaskQueue(workflowInfo().taskQueue),
  });
  const { shardWindow = 4, shardsPerRun = SHARDS_PER_RUN, ...limits } = input.cleaning ?? {};
  let plan = input.resume;
  if (!plan) {
    show('listing the raw objects of the day and cutting them into shards');
    const planned = await planCleaning({
      bucket: input.bucket,
      pipelineId: input.pipelineId,
      table: input.table,
      date: input.date,
      run: input.run,
      limits,
    });
    plan = {
      planKey: planned.planKey,
      shards: planned.shards,
      objects: planned.objects,
      nextShard: 0,
      totals: emptyTotals(),
    };
  }
  const { planKey, shards, objects } = plan;
  const totals = plan.totals;
  const stopAt = Math.min(shards, plan.nextShard + Math.max(1, shardsPerRun));
  let next = plan.nextShard;
  let done = plan.nextShard;
  let failure: string | undefined;
  const progress = () =>
    show(
      `cleaning shard ${done} of ${shards} (${Math.max(1, Math.min(shardWindow, 64))} at a time, any worker)\n\n` +
        markdownTable(
          ['raw records', 'rows', 'quarantined'],
          [[totals.rawRecords, totals.rowsIn, totals.quarantined]],
        ),
    );
  progress();
  const lane = async () => {
    while (next < stopAt && failure === undefined) {
      const shard = next++;
      try {
        const r = await cleanShard.executeWithOptions(
          {
            ...activityProfiles.shard,
            summary: `${input.table} ${input.date} shard ${shard + 1}/${shards}`,
          },
          [
            {
              bucket: input.bucket,
              table: input.table,
              date: input.date,
              run: input.run,
              planKey,
              shard,
            },
          ],
        );
        add(totals, r);
        done++;
        progress();
      } catch (err) {
        failure ??= `shard ${shard + 1} of ${shards}: ${shardFailure(err)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(shardWindow, 64)) }, lane));
  if (failure !== undefined)
    fail(`${input.table} ${input.date}: cleaning failed: ${failure}`, 'ShardFailed');
  if (stopAt < shards) {
    return continueAsNew<typeof cleanTable>({
      ...input,
      resume: { planKey, shards, objects, nextShard: stopAt, totals },
    });
  }

  show(
    `committing: ${totals.rawRecords} raw records, ${totals.rowsIn} rows, ${totals.quarantined} quarantined`,
  );
  let committed: CommitPartitionResult;
  try {
    committed = await commitPartition({
      bucket: input.bucket,
      table: input.table,
      date: input.date,
      run: input.run,
      shards,
      counts: {
        rawRecords: totals.rawRecords,
        rowsIn: totals.rowsIn,
        quarantined: totals.quarantined,
      },
      gateState: totals.gateState,
    });
  } catch (err) {
    // Surface the gate's own reason as this workflow's failure (not "Activity task failed").
    if (
      err instanceof ActivityFailure &&
      err.cause instanceof ApplicationFailure &&
      err.cause.type === 'QualityGateFailed'
    ) {
      return fail(
        `quality gate failed: ${err.cause.message}`.replace(
          /^quality gate failed: (?=.*quality gate failed)/,
          '',
        ),
        'QualityGateFailed',
        err.cause.details ?? [],
      );
    }
    return fail(`${input.table} ${input.date}: commit failed: ${rootMessage(err)}`, 'CommitFailed');
  }
  upsertSearchAttributes([{ key: PipelineStatus, value: 'succeeded' }]);
  const { counts } = committed;
  show(
    `committed ${counts.rowsOut} rows to ${committed.files.map((f) => f.key).join(', ')}\n\n` +
      markdownTable(
        ['rows in', 'rows out', 'quarantined', 'duplicates'],
        [[counts.rawRecords, counts.rowsOut, counts.quarantined, counts.duplicates]],
      ) +
      '\n\n' +
      markdownTable(
        ['gate', 'policy', 'failed', 'status'],
        committed.gates.map((g) => [g.name, g.policy, `${g.failed} / ${g.checked}`, g.status]),
      ),
  );
  return { ...committed, table: input.table, date: input.date, inputs: objects, shards };
}

/**
 * Why a shard gave up, naming where: the activity's own message carries the object and byte
 * position; a timeout carries them in its last heartbeat's details.
 */
function shardFailure(err: unknown): string {
  let message = rootMessage(err);
  let e: unknown = err;
  while (e instanceof Error) {
    if (e instanceof TimeoutFailure) {
      const beat = e.lastHeartbeatDetails as { at?: string; phase?: string } | undefined;
      if (beat?.at)
        message = `${(e.timeoutType ?? '').toLowerCase()} timeout while ${beat.phase ?? 'working'} at ${beat.at}`;
      break;
    }
    e = e.cause;
  }
  const gaveUp =
    err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED'
      ? ` (gave up after ${activityProfiles.shard.retry.maximumAttempts} attempts)`
      : '';
  return `${message}${gaveUp}`;
}

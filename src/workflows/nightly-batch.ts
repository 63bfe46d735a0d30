import {
  ApplicationFailure,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunAnalyticsResult } from '../activities/analytics-activities';
import type { NightlyActivities } from '../activities/nightly-activities';
import { isDataDate } from '../domain/clean-zone';
import { markdownTable } from '../domain/markdown-table';
import { bucketFor, PIPELINE_ID_PATTERN, TABLES, type Table } from '../domain/tables';
import { activityProfiles } from './activity-profiles';
import { cleanTable, type CleaningOptions, type CleanTableResult } from './clean-table';
import { rootMessage } from './failure-message';
import { DataDate, PipelineId, PipelineStatus } from './search-attributes';

export interface NightlyBatchInput {
  pipelineId: string;
  /** The data day, YYYY-MM-DD. Scheduled runs leave it out: the day before the nominal time. */
  date?: string;
  bucket?: string;
  /** Shard size and window of the per-table cleaning (defaults: 128 MiB, 2,000 objects, 4). */
  cleaning?: CleaningOptions;
}

export interface NightlyBatchResult {
  pipelineId: string;
  date: string;
  tables: Partial<Record<Table, CleanTableResult>>;
  analytics?: RunAnalyticsResult;
}

const { runAnalytics } = proxyActivities<NightlyActivities>(activityProfiles.longIo);

/** The previous UTC day of a nominal schedule time. */
export function previousUtcDay(nominal: Date): string {
  return new Date(nominal.getTime() - 86_400_000).toISOString().slice(0, 10);
}

function dataDate(input: NightlyBatchInput): string {
  if (input.date !== undefined) {
    if (!isDataDate(input.date)) {
      throw ApplicationFailure.nonRetryable(
        `date: expected YYYY-MM-DD, got ${input.date}`,
        'InvalidInput',
      );
    }
    return input.date;
  }
  const scheduled = workflowInfo().searchAttributes?.TemporalScheduledStartTime?.[0];
  if (scheduled === undefined) {
    throw ApplicationFailure.nonRetryable(
      'date: required for a run that is not started by the schedule (e.g. {"date": "2026-11-24"})',
      'InvalidInput',
    );
  }
  return previousUtcDay(new Date(scheduled as string | Date));
}

/**
 * The nightly batch for one day: each table cleaned by its own child workflow, in parallel;
 * the analytics only when every table committed.
 */
export async function nightlyBatch(input: NightlyBatchInput): Promise<NightlyBatchResult> {
  if (typeof input?.pipelineId !== 'string' || !PIPELINE_ID_PATTERN.test(input.pipelineId)) {
    throw ApplicationFailure.nonRetryable(
      'pipelineId: expected 12 lowercase hex characters',
      'InvalidInput',
    );
  }
  const date = dataDate(input);
  const bucket = input.bucket ?? bucketFor(input.pipelineId);
  const run = workflowInfo().runId.replace(/-/g, '').slice(0, 12);
  upsertSearchAttributes([
    { key: PipelineId, value: input.pipelineId },
    { key: DataDate, value: date },
    { key: PipelineStatus, value: 'running' },
  ]);
  const status: Record<Table, string> = { pin: 'cleaning', geo: 'cleaning', user: 'cleaning' };
  const show = (extra = '') =>
    setCurrentDetails(
      `**nightly ${date}** · s3://${bucket}/\n\n` +
        markdownTable(
          ['table', 'status'],
          TABLES.map((t) => [t, status[t]]),
        ) +
        (extra ? `\n\n${extra}` : ''),
    );
  show();

  const settled = await Promise.allSettled(
    TABLES.map(async (table) => {
      const result = await executeChild(cleanTable, {
        workflowId: `${workflowInfo().workflowId}-${table}`,
        args: [
          {
            pipelineId: input.pipelineId,
            bucket,
            table,
            date,
            run,
            ...(input.cleaning ? { cleaning: input.cleaning } : {}),
          },
        ],
      });
      status[table] =
        `committed ${result.counts.rowsOut} rows (${result.counts.quarantined} quarantined, ${result.counts.duplicates} duplicates)`;
      show();
      return result;
    }),
  );
  const tables: NightlyBatchResult['tables'] = {};
  const failures: string[] = [];
  settled.forEach((s, i) => {
    const table = TABLES[i]!;
    if (s.status === 'fulfilled') tables[table] = s.value;
    else {
      const cause = rootMessage(s.reason);
      status[table] = `failed: ${cause}`;
      failures.push(`${table}: ${cause}`);
    }
  });
  if (failures.length > 0) {
    upsertSearchAttributes([{ key: PipelineStatus, value: 'failed' }]);
    show('analytics skipped: not every table committed');
    throw ApplicationFailure.nonRetryable(
      `nightly ${date}: analytics skipped because ${failures.join('; ')}`,
      'NightlyTableFailed',
      { tables },
    );
  }
  show('running the analytics');
  const analytics = await runAnalytics({ bucket, pipelineId: input.pipelineId, date });
  upsertSearchAttributes([{ key: PipelineStatus, value: 'succeeded' }]);
  show(`analytics: s3://${bucket}/${analytics.reportKey}`);
  return { pipelineId: input.pipelineId, date, tables, analytics };
}

import {
  ApplicationFailure,
  continueAsNew,
  executeChild,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightlyActivities } from '../activities/nightly-activities';
import { isDataDate } from '../domain/clean-zone';
import { markdownTable } from '../domain/markdown-table';
import { bucketFor, PIPELINE_ID_PATTERN } from '../domain/tables';
import { activityProfiles } from './activity-profiles';
import { rootMessage } from './failure-message';
import { nightlyBatch } from './nightly-batch';
import { PipelineId, PipelineStatus } from './search-attributes';

export interface BackfillInput {
  pipelineId: string;
  from: string;
  to: string;
  /** Days run at once (default 2). */
  concurrency?: number;
  /** Redo days that already finished (default false: a restarted backfill skips them). */
  force?: boolean;
  /** Days per run of this workflow before it continues as new (default 30): bounded history. */
  daysPerRun?: number;
  /** Carried across continue-as-new: the outcome of the days before this run's first. */
  carried?: BackfillResult['days'];
}

export interface BackfillResult {
  days: { date: string; status: 'done' | 'skipped' | 'failed'; reason?: string }[];
}

const { dayFinished } = proxyActivities<NightlyActivities>(activityProfiles.quickIo);

export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (
    let t = Date.parse(`${from}T00:00:00Z`);
    t <= Date.parse(`${to}T00:00:00Z`);
    t += 86_400_000
  ) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

/** The nightly batch for every day from..to, in date order, a few at a time. */
export async function backfill(input: BackfillInput): Promise<BackfillResult> {
  if (!PIPELINE_ID_PATTERN.test(input.pipelineId ?? '')) {
    throw ApplicationFailure.nonRetryable(
      'pipelineId: expected 12 lowercase hex characters',
      'InvalidInput',
    );
  }
  if (!isDataDate(input.from) || !isDataDate(input.to) || input.from > input.to) {
    throw ApplicationFailure.nonRetryable(
      `from/to: expected YYYY-MM-DD with from <= to, got ${input.from}..${input.to}`,
      'InvalidInput',
    );
  }
  const days = daysBetween(input.from, input.to);
  if (days.length > 3660)
    throw ApplicationFailure.nonRetryable('from/to: at most ten years at once', 'InvalidInput');
  const concurrency = Math.max(1, Math.min(input.concurrency ?? 2, 8));
  const bucket = bucketFor(input.pipelineId);
  upsertSearchAttributes([
    { key: PipelineId, value: input.pipelineId },
    { key: PipelineStatus, value: 'running' },
  ]);
  const status = new Map<string, BackfillResult['days'][number]>(
    (input.carried ?? []).map((d) => [d.date, d]),
  );
  const daysPerRun = Math.max(1, Math.min(input.daysPerRun ?? 30, 366));
  const first = input.carried?.length ?? 0;
  const last = Math.min(days.length, first + daysPerRun);
  const show = () => {
    const done = [...status.values()];
    setCurrentDetails(
      `**backfill ${input.from} → ${input.to}** · ${done.filter((d) => d.status === 'done').length} done, ` +
        `${done.filter((d) => d.status === 'skipped').length} skipped, ${done.filter((d) => d.status === 'failed').length} failed of ${days.length}\n\n` +
        markdownTable(
          ['day', 'status'],
          days.map((d) => {
            const day = status.get(d);
            return [d, `${day?.status ?? 'pending'}${day?.reason ? `: ${day.reason}` : ''}`];
          }),
        ),
    );
  };
  show();
  let next = first;
  const lane = async () => {
    while (next < last) {
      const day = days[next++]!;
      if (!input.force && (await dayFinished({ bucket, date: day }))) {
        status.set(day, { date: day, status: 'skipped' });
      } else {
        try {
          await executeChild(nightlyBatch, {
            workflowId: `${workflowInfo().workflowId}-${day}`,
            args: [{ pipelineId: input.pipelineId, date: day }],
          });
          status.set(day, { date: day, status: 'done' });
        } catch (err) {
          status.set(day, {
            date: day,
            status: 'failed',
            reason: rootMessage(err),
          });
        }
      }
      show();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (last < days.length) {
    return continueAsNew<typeof backfill>({
      ...input,
      carried: days.slice(0, last).map((d) => status.get(d)!),
    });
  }
  const result = { days: days.map((d) => status.get(d)!) };
  upsertSearchAttributes([
    {
      key: PipelineStatus,
      value: result.days.some((d) => d.status === 'failed') ? 'failed' : 'succeeded',
    },
  ]);
  return result;
}

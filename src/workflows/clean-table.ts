import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CommitPartitionResult, NightlyActivities } from '../activities/nightly-activities';
import { isDataDate } from '../domain/clean-zone';
import type { Table } from '../domain/tables';
import { activityProfiles } from './activity-profiles';
import { DataDate, PipelineId, PipelineTable } from './search-attributes';

export interface CleanTableInput {
  pipelineId: string;
  bucket: string;
  table: Table;
  date: string;
  /** Names this run's files (the parent's run id): a rerun writes new files, then swaps. */
  run: string;
}

export interface CleanTableResult extends CommitPartitionResult {
  table: Table;
  date: string;
  inputs: number;
}

const { listRawDay } = proxyActivities<NightlyActivities>(activityProfiles.quickIo);
const { cleanPartition, commitPartition } = proxyActivities<NightlyActivities>({
  ...activityProfiles.longIo,
  retry: { ...activityProfiles.longIo.retry, nonRetryableErrorTypes: ['QualityGateFailed'] },
});

/**
 * One table, one day: the exact list of raw objects, cleaning with checkpoints, then the commit
 * (distinct rows, quality gates, manifest swap). A failing gate fails this workflow with the
 * gate's reason; the sibling tables are unaffected.
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
  ]);
  const show = (step: string) =>
    setCurrentDetails(`**${input.table}** · ${input.date} · run ${input.run}\n\n${step}`);

  show('listing the raw objects of the day');
  const { inputs, bytes } = await listRawDay({
    bucket: input.bucket,
    pipelineId: input.pipelineId,
    table: input.table,
    date: input.date,
  });
  show(`cleaning ${inputs.length} raw objects (${bytes} bytes)`);
  const staged = await cleanPartition({
    bucket: input.bucket,
    table: input.table,
    date: input.date,
    run: input.run,
    inputs,
  });
  show(
    `committing: ${staged.counts.rawRecords} raw records, ${staged.counts.rowsIn} rows, ` +
      `${staged.counts.quarantined} quarantined`,
  );
  let committed: CommitPartitionResult;
  try {
    committed = await commitPartition({
      ...staged,
      bucket: input.bucket,
      table: input.table,
      date: input.date,
      run: input.run,
      inputs,
    });
  } catch (err) {
    // Surface the gate's own reason as this workflow's failure (not "Activity task failed").
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      if (err.cause.type === 'QualityGateFailed') {
        show(`quality gate failed: ${err.cause.message}`);
        throw ApplicationFailure.create({
          type: 'QualityGateFailed',
          message: err.cause.message,
          nonRetryable: true,
          details: err.cause.details ?? [],
        });
      }
    }
    throw err;
  }
  const gates = committed.gates
    .map((g) => `| ${g.name} | ${g.policy} | ${g.failed} / ${g.checked} | ${g.status} |`)
    .join('\n');
  show(
    `committed ${committed.counts.rowsOut} rows to ${committed.files.map((f) => f.key).join(', ')}\n\n` +
      `| rows in | rows out | quarantined | duplicates |\n| --- | --- | --- | --- |\n` +
      `| ${committed.counts.rawRecords} | ${committed.counts.rowsOut} | ${committed.counts.quarantined} | ${committed.counts.duplicates} |\n\n` +
      `| gate | policy | failed | status |\n| --- | --- | --- | --- |\n${gates}`,
  );
  return { ...committed, table: input.table, date: input.date, inputs: inputs.length };
}

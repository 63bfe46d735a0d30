import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig } from '../../config';
import { isDataDate } from '../../domain/clean-zone';
import { backfill } from '../../workflows/backfill';
import { nightlyBatch } from '../../workflows/nightly-batch';
import { connectTemporal, webUiLink } from '../temporal-client';

export const scheduleId = (pipelineId: string) => `nightly-${pipelineId}`;

function dateOption(value: string): string {
  if (!isDataDate(value)) {
    throw new Error(`expected a date YYYY-MM-DD, got ${value}`);
  }
  return value;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${value}`);
  return n;
}

export function registerNightlyCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('the Temporal Schedule that runs the nightly batch');
  schedule
    .command('apply')
    .description('create or update schedule nightly-<id> (idempotent)')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--cron <expr>', 'when to run (cron, 5 fields)', '0 2 * * *')
    .option('--timezone <tz>', 'time zone of the cron expression', 'UTC')
    .option('--paused', 'create it paused')
    .action(
      async (opts: { pipeline?: string; cron: string; timezone: string; paused?: boolean }) => {
        const config = loadConfig(process.env);
        const pipelineId = opts.pipeline ?? config.pipelineId;
        const { client, close } = await connectTemporal(config);
        const id = scheduleId(pipelineId);
        const spec = { cronExpressions: [opts.cron], timezone: opts.timezone };
        const action = {
          type: 'startWorkflow' as const,
          workflowType: nightlyBatch,
          // No date: a scheduled run processes the UTC day before its nominal time.
          args: [{ pipelineId }] as [{ pipelineId: string }],
          taskQueue: config.temporal.taskQueue,
          workflowId: `nightly-${pipelineId}`,
        };
        // A run that overruns delays the next one instead of overlapping it; after an outage
        // the runs missed in the last day are caught up, older ones are not.
        const policies = { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 day' };
        try {
          const handle = client.schedule.getHandle(id);
          try {
            await handle.update((previous) => ({ ...previous, spec, action, policies }));
            console.log(`schedule ${id}: updated (${opts.cron} ${opts.timezone})`);
          } catch (err) {
            if (!(err instanceof ScheduleNotFoundError)) throw err;
            await client.schedule.create({
              scheduleId: id,
              spec,
              action,
              policies,
              state: { paused: Boolean(opts.paused) },
            });
            console.log(`schedule ${id}: created (${opts.cron} ${opts.timezone})`);
          }
        } finally {
          await close();
        }
      },
    );
  schedule
    .command('trigger')
    .description('start a run of the schedule now')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .action(async (opts: { pipeline?: string }) => {
      const config = loadConfig(process.env);
      const { client, close } = await connectTemporal(config);
      try {
        await client.schedule.getHandle(scheduleId(opts.pipeline ?? config.pipelineId)).trigger();
        console.log('triggered');
      } finally {
        await close();
      }
    });

  const nightly = program.command('nightly').description('the nightly cleaning and analytics');
  nightly
    .command('run')
    .description('run the nightly batch for one day now (workflow nightly-<id>-<date>)')
    .requiredOption('--date <YYYY-MM-DD>', 'the data day', dateOption)
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--no-wait', 'return once started')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { date: string; pipeline?: string; wait: boolean; json?: boolean }) => {
      const config = loadConfig(process.env);
      const pipelineId = opts.pipeline ?? config.pipelineId;
      const { client, close } = await connectTemporal(config);
      try {
        const workflowId = `nightly-${pipelineId}-${opts.date}`;
        const handle = await client.workflow.start(nightlyBatch, {
          taskQueue: config.temporal.taskQueue,
          workflowId,
          args: [{ pipelineId, date: opts.date }],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        });
        console.error(`started ${workflowId}: ${webUiLink(config, workflowId)}`);
        if (!opts.wait) return;
        const result = await handle.result();
        if (opts.json) console.log(JSON.stringify(result, null, 2));
        else {
          for (const [table, r] of Object.entries(result.tables)) {
            console.log(
              `${table}: ${r.counts.rowsOut} rows (${r.counts.quarantined} quarantined, ${r.counts.duplicates} duplicates) → ${r.files.map((f) => f.key).join(', ')}`,
            );
          }
          console.log(
            `report: s3://user-${pipelineId}-bucket/${result.analytics?.reportKey ?? ''}`,
          );
        }
      } finally {
        await close();
      }
    });
  nightly
    .command('backfill')
    .description(
      'run the nightly batch for every day from..to, in order; a rerun skips finished days',
    )
    .requiredOption('--from <YYYY-MM-DD>', 'first day', dateOption)
    .requiredOption('--to <YYYY-MM-DD>', 'last day', dateOption)
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--concurrency <n>', 'days at once', positiveInt, 2)
    .option('--force', 'redo days that already finished')
    .option('--no-wait', 'return once started')
    .action(
      async (opts: {
        from: string;
        to: string;
        pipeline?: string;
        concurrency: number;
        force?: boolean;
        wait: boolean;
      }) => {
        const config = loadConfig(process.env);
        const pipelineId = opts.pipeline ?? config.pipelineId;
        const { client, close } = await connectTemporal(config);
        try {
          const workflowId = `backfill-${pipelineId}-${opts.from}-${opts.to}`;
          const handle = await client.workflow.start(backfill, {
            taskQueue: config.temporal.taskQueue,
            workflowId,
            args: [
              {
                pipelineId,
                from: opts.from,
                to: opts.to,
                concurrency: opts.concurrency,
                force: Boolean(opts.force),
              },
            ],
            workflowIdConflictPolicy: 'USE_EXISTING',
          });
          console.error(`backfill ${workflowId}: ${webUiLink(config, workflowId)}`);
          if (!opts.wait) return;
          const result = await handle.result();
          for (const d of result.days)
            console.log(`${d.date}: ${d.status}${d.reason ? ` (${d.reason})` : ''}`);
          if (result.days.some((d) => d.status === 'failed')) process.exitCode = 1;
        } finally {
          await close();
        }
      },
    );
}

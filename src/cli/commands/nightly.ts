import type { Command } from 'commander';
import { TemporalControl } from '../../adapters/temporal-control';
import { backfill } from '../../workflows/backfill';
import { nightlyBatch } from '../../workflows/nightly-batch';
import { dateOption, integerAtLeast } from '../option-parsers';
import { connectTemporal, webUiLink } from '../temporal-client';
import { configAndPipelineOrUsage } from '../usage';
import { nightlyRunId, nightlyScheduleId } from '../../domain/workflow-ids';

/** What `schedule apply` says for each outcome of the upsert. */
const APPLIED = { created: 'created', updated: 'updated', exists: 'unchanged' } as const;

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
        const ctx = configAndPipelineOrUsage(opts.pipeline);
        if (!ctx) return;
        const { config, pipelineId } = ctx;
        const { client, close } = await connectTemporal(config);
        const id = nightlyScheduleId(pipelineId);
        try {
          // The same upsert as provisioning's, so both keep one definition of the schedule and
          // agree on when it already matches (then nothing is written).
          const control = new TemporalControl(client);
          const existing = await control.describeSchedule(id);
          const outcome = await control.upsertSchedule({
            scheduleId: id,
            pipelineId,
            taskQueue: config.temporal.taskQueue,
            cron: opts.cron,
            timezone: opts.timezone,
            // --paused applies to a new schedule only: a re-apply neither pauses nor resumes.
            paused: existing ? existing.paused : Boolean(opts.paused),
          });
          console.log(`schedule ${id}: ${APPLIED[outcome]} (${opts.cron} ${opts.timezone})`);
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
      const ctx = configAndPipelineOrUsage(opts.pipeline);
      if (!ctx) return;
      const { client, close } = await connectTemporal(ctx.config);
      try {
        await client.schedule.getHandle(nightlyScheduleId(ctx.pipelineId)).trigger();
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
      const ctx = configAndPipelineOrUsage(opts.pipeline);
      if (!ctx) return;
      const { config, pipelineId } = ctx;
      const { client, close } = await connectTemporal(config);
      try {
        const workflowId = nightlyRunId(pipelineId, opts.date);
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
    .option('--concurrency <n>', 'days at once', integerAtLeast(1), 2)
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
        const ctx = configAndPipelineOrUsage(opts.pipeline);
        if (!ctx) return;
        const { config, pipelineId } = ctx;
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

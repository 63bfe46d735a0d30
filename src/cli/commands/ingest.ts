import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/create-adapters';
import { bucketFor, topicFor, type Table } from '../../domain/tables';
import { ingestTopic, stopSignal, type IngestTopicInput } from '../../workflows/ingest-topic';
import { tableOption, tablesOf } from '../ingest-names';
import { integerBetween } from '../option-parsers';
import { connectTemporal, webUiLink } from '../temporal-client';
import { configAndPipelineOrUsage } from '../usage';
import { registerIngestStatus } from './ingest-status';
import { ingestWorkflowId } from '../../domain/workflow-ids';

interface CommonOptions {
  pipeline?: string;
  table?: Table;
  json?: boolean;
}

export function registerIngestCommands(program: Command): void {
  const ingest = program
    .command('ingest')
    .description('the long-running ingestion workflows (Kafka topics → S3 raw zone, exactly once)');

  ingest
    .command('start')
    .description('start ingestTopic for each table; idempotent (a running workflow is reused)')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .addOption(tableOption())
    // The bounds of ingestTopicInputSchema (src/domain/ingest-input.ts).
    .option(
      '--max-records <n>',
      'flush a partition batch at this many records',
      integerBetween(1, 1_000_000),
    )
    .option(
      '--max-bytes <n>',
      'flush a partition batch at this many bytes',
      integerBetween(1024, 256 * 1024 * 1024),
    )
    .option(
      '--rotate-interval-ms <ms>',
      'flush a partial batch once its oldest record is this old',
      integerBetween(100, 24 * 3600_000),
    )
    .option(
      '--create-topics',
      'create missing topics (3 partitions) and the bucket first (local use)',
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: CommonOptions & {
          maxRecords?: number;
          maxBytes?: number;
          rotateIntervalMs?: number;
          createTopics?: boolean;
        },
      ) => {
        const ctx = configAndPipelineOrUsage(opts.pipeline);
        if (!ctx) return;
        const { config, pipelineId } = ctx;
        const tables = tablesOf(opts.table);
        if (opts.createTopics) {
          const adapters = createAdapters(config);
          try {
            await adapters.kafka.ensureTopics(
              tables.map((t) => ({ name: topicFor(pipelineId, t), partitions: 3 })),
            );
            await adapters.store.ensureBucket(bucketFor(pipelineId));
          } finally {
            await adapters.close();
          }
        }
        const { client, close } = await connectTemporal(config);
        try {
          const started = [];
          for (const table of tables) {
            const input: IngestTopicInput = {
              pipelineId,
              table,
              ...(opts.maxRecords ? { maxRecords: opts.maxRecords } : {}),
              ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}),
              ...(opts.rotateIntervalMs ? { rotateIntervalMs: opts.rotateIntervalMs } : {}),
            };
            const workflowId = ingestWorkflowId(pipelineId, table);
            const handle = await client.workflow.start(ingestTopic, {
              taskQueue: config.temporal.taskQueue,
              workflowId,
              args: [input],
              workflowIdConflictPolicy: 'USE_EXISTING',
            });
            started.push({
              table,
              workflowId,
              runId: handle.firstExecutionRunId,
              url: webUiLink(config, workflowId),
            });
          }
          if (opts.json) console.log(JSON.stringify(started, null, 2));
          else for (const s of started) console.log(`${s.table}: ${s.workflowId} (${s.url})`);
        } finally {
          await close();
        }
      },
    );

  ingest
    .command('stop')
    .description('stop ingestion gracefully: finish batches in flight, commit offsets, complete')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .addOption(tableOption())
    .option('--wait', 'wait until each workflow has completed')
    .action(async (opts: CommonOptions & { wait?: boolean }) => {
      const ctx = configAndPipelineOrUsage(opts.pipeline);
      if (!ctx) return;
      const { config, pipelineId } = ctx;
      const { client, close } = await connectTemporal(config);
      try {
        for (const table of tablesOf(opts.table)) {
          const handle = client.workflow.getHandle(ingestWorkflowId(pipelineId, table));
          try {
            await handle.signal(stopSignal);
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
            console.log(`${table}: not running`);
            continue;
          }
          if (opts.wait) await handle.result();
          console.log(`${table}: ${opts.wait ? 'stopped' : 'stop requested'}`);
        }
      } finally {
        await close();
      }
    });

  registerIngestStatus(ingest);
}

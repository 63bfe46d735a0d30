import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/create-adapters';
import { loadConfig } from '../../config';
import { TABLES, bucketFor, isTable, topicFor, type Table } from '../../domain/tables';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
  type IngestTopicInput,
} from '../../workflows/ingest-topic';
import { connectTemporal, webUiLink } from '../temporal-client';

export function ingestWorkflowId(pipelineId: string, table: Table): string {
  return `ingest-${pipelineId}-${table}`;
}

function tablesOf(option: string | undefined): Table[] {
  if (option === undefined) return [...TABLES];
  if (!isTable(option))
    throw new Error(`--table must be one of ${TABLES.join(', ')}, got ${option}`);
  return [option];
}

function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${value}`);
  return n;
}

interface CommonOptions {
  pipeline?: string;
  table?: string;
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
    .option('--table <table>', `one table (${TABLES.join('|')}); default all three`)
    .option('--max-records <n>', 'flush a partition batch at this many records', intOption)
    .option('--max-bytes <n>', 'flush a partition batch at this many bytes', intOption)
    .option(
      '--rotate-interval-ms <ms>',
      'flush a partial batch once its oldest record is this old',
      intOption,
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
        const config = loadConfig(process.env);
        const pipelineId = opts.pipeline ?? config.pipelineId;
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
    .option('--table <table>', `one table (${TABLES.join('|')}); default all three`)
    .option('--wait', 'wait until each workflow has completed')
    .action(async (opts: CommonOptions & { wait?: boolean }) => {
      const config = loadConfig(process.env);
      const pipelineId = opts.pipeline ?? config.pipelineId;
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

  ingest
    .command('status')
    .description('progress of each table: per partition next offset, high watermark, lag, counts')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--table <table>', `one table (${TABLES.join('|')}); default all three`)
    .option('--json', 'print the progress as JSON')
    .action(async (opts: CommonOptions) => {
      const config = loadConfig(process.env);
      const pipelineId = opts.pipeline ?? config.pipelineId;
      const { client, close } = await connectTemporal(config);
      try {
        const out: Array<{ table: Table; status: string; progress?: IngestProgress }> = [];
        for (const table of tablesOf(opts.table)) {
          const handle = client.workflow.getHandle(ingestWorkflowId(pipelineId, table));
          try {
            const description = await handle.describe();
            const progress = await handle.query(progressQuery);
            out.push({ table, status: description.status.name, progress });
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
            out.push({ table, status: 'NOT_STARTED' });
          }
        }
        if (opts.json) {
          console.log(JSON.stringify(out, null, 2));
          return;
        }
        for (const t of out) {
          const p = t.progress;
          console.log(
            `${t.table}: ${t.status}` +
              (p
                ? ` · lag ${p.totals.lag} · ${p.totals.recordsWritten} records in ${p.totals.objectsWritten} objects · ${p.totals.quarantined} quarantined`
                : ''),
          );
          for (const r of p?.partitions ?? []) {
            console.log(
              `  partition ${r.partition}: next ${r.nextOffset} / high ${r.highWatermark} (lag ${r.lag}), ` +
                `${r.recordsWritten} records, ${r.objectsWritten} objects, ${r.quarantined} quarantined, last flush ${r.lastFlushAt ?? '-'}`,
            );
          }
        }
      } finally {
        await close();
      }
    });
}

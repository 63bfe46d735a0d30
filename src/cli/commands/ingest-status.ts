import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters } from '../../adapters/create-adapters';
import { topicFor, type Table } from '../../domain/tables';
import type { KafkaAdmin, KafkaGroups } from '../../ports/kafka';
import { progressQuery, type IngestProgress, type ingestTopic } from '../../workflows/ingest-topic';
import { readLiveFigures, type LiveFigures } from '../ingest-live';
import { tableOption, tablesOf } from '../ingest-names';
import { connectTemporal } from '../temporal-client';
import { configAndPipelineOrUsage } from '../usage';
import { ingestWorkflowId } from '../../domain/workflow-ids';
import { rootMessage } from '../../workflows/failure-message';

interface StatusFlags {
  pipeline?: string;
  table?: Table;
  json?: boolean;
}

/** One table as `--json` prints it: the workflow's figures as they are, Kafka's live beside. */
interface TableStatus {
  table: Table;
  status: string;
  /** Why the workflow failed (FAILED only): names the topic, partition and offset it stopped at. */
  failure?: string;
  progress?: IngestProgress;
  /** null when Kafka could not be read (see `liveError`): the workflow's figures still show. */
  live: LiveFigures | null;
  liveError?: string;
}

export function registerIngestStatus(ingest: Command): void {
  ingest
    .command('status')
    .description(
      'progress of each table: per partition next offset, records, objects, and the lag ' +
        "against Kafka's live high watermark",
    )
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .addOption(tableOption())
    .option('--json', 'print [{table, status, progress, live}] as JSON')
    .action((flags: StatusFlags) => ingestStatus(flags));
}

async function ingestStatus(flags: StatusFlags): Promise<void> {
  const ctx = configAndPipelineOrUsage(flags.pipeline);
  if (!ctx) return;
  const { config, pipelineId } = ctx;
  const { client, close } = await connectTemporal(config);
  const adapters = createAdapters(config);
  try {
    const out: TableStatus[] = [];
    let kafkaDown: string | undefined;
    for (const table of tablesOf(flags.table)) {
      const { status, progress, failure } = await workflowStatus(client, pipelineId, table);
      // Read after the query (see readLiveFigures). Kafka being away is no reason to hide the
      // workflow's figures; once it is found away, the other tables do not wait for it again.
      const live = kafkaDown
        ? { live: null, liveError: kafkaDown }
        : await liveOf(adapters.kafka, topicFor(pipelineId, table), progress);
      if (live.liveError?.startsWith('Kafka: ')) kafkaDown = live.liveError;
      out.push({
        table,
        status,
        ...(failure ? { failure } : {}),
        ...(progress ? { progress } : {}),
        ...live,
      });
    }
    if (flags.json) console.log(JSON.stringify(out, null, 2));
    else for (const t of out) console.log(statusText(t));
  } finally {
    await adapters.close();
    await close();
  }
}

async function workflowStatus(
  client: Client,
  pipelineId: string,
  table: Table,
): Promise<{ status: string; progress?: IngestProgress; failure?: string }> {
  const handle = client.workflow.getHandle<typeof ingestTopic>(ingestWorkflowId(pipelineId, table));
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    return { status: 'NOT_STARTED' };
  }
  // A completed run's result is its final progress, kept by the server: no worker needed,
  // where a query (on any workflow, open or closed) is answered by one.
  if (status === 'FAILED') {
    // The failure is kept by the server; the figures need a worker to answer the query.
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => rootMessage(err),
    );
    const progress = await handle.query(progressQuery).catch(() => undefined);
    return { status, ...(failure ? { failure } : {}), ...(progress ? { progress } : {}) };
  }
  const progress =
    status === 'COMPLETED' ? await handle.result() : await handle.query(progressQuery);
  return { status, progress };
}

async function liveOf(
  kafka: KafkaAdmin & KafkaGroups,
  topic: string,
  progress: IngestProgress | undefined,
): Promise<Pick<TableStatus, 'live' | 'liveError'>> {
  try {
    if (!(await kafka.partitionCount(topic))) {
      return { live: null, liveError: `topic ${topic} does not exist` };
    }
    return { live: await readLiveFigures(kafka, topic, progress) };
  } catch (err) {
    return { live: null, liveError: `Kafka: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function statusText(t: TableStatus): string {
  const p = t.progress;
  const live = t.live;
  const lag = live
    ? `lag ${live.lag} (live)`
    : p
      ? `lag ${p.totals.lag} (workflow's; live: ${t.liveError})`
      : `live: ${t.liveError}`;
  // Results of runs from before the count existed have none: 0.
  const lost = p?.totals.lostToRetention ?? 0;
  const counts = p
    ? ` · ${p.totals.recordsWritten} records in ${p.totals.objectsWritten} objects · ${p.totals.quarantined} quarantined` +
      (lost > 0 ? ` · ${lost} LOST to retention (deleted by Kafka before they were read)` : '')
    : '';
  const lines = [`${t.table}: ${t.status} · ${lag}${counts}`];
  if (t.failure) lines.push(`  failed: ${t.failure}`);
  for (const d of p?.groupDifferences ?? []) {
    lines.push(
      `  partition ${d.partition}: the Kafka group says offset ${d.groupOffset}, the ledger ` +
        `${d.ledgerOffset}; the ledger is kept`,
    );
  }
  const partitions = new Set([
    ...(p?.partitions ?? []).map((r) => r.partition),
    ...(live?.partitions ?? []).map((r) => r.partition),
  ]);
  for (const n of [...partitions].sort((a, b) => a - b)) {
    const r = p?.partitions.find((x) => x.partition === n);
    const l = live?.partitions.find((x) => x.partition === n);
    const offsets = l
      ? `next ${l.nextOffset}${l.nextOffsetFrom === 'group' ? ' (consumer group)' : ''} / ` +
        `live high ${l.highWatermark} (lag ${l.lag})` +
        (r ? `, workflow's high ${r.highWatermark}` : '')
      : r
        ? `next ${r.nextOffset} / workflow's high ${r.highWatermark} (lag ${r.lag})`
        : '';
    const counts = r
      ? `, ${r.recordsWritten} records, ${r.objectsWritten} objects, ${r.quarantined} quarantined` +
        ((r.lostToRetention ?? 0) > 0 ? `, ${r.lostToRetention} lost to retention` : '') +
        `, last flush ${r.lastFlushAt ?? '-'}`
      : '';
    lines.push(`  partition ${n}: ${offsets}${counts}`);
  }
  return lines.join('\n');
}

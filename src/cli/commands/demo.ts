import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { createAdapters, type Adapters } from '../../adapters/create-adapters';
import type { Config } from '../../config';
import { utcDay } from '../../domain/raw-zone';
import { TABLES } from '../../domain/tables';
import { runEmulator, type EmulatorSummary } from '../../emulator/run-emulator';
import { flushSignal, progressQuery as ingestProgress } from '../../workflows/ingest-topic';
import { nightlyBatch, type NightlyBatchResult } from '../../workflows/nightly-batch';
import { provisionPipeline, type ProvisionResult } from '../../workflows/provision-pipeline';
import { teardownPipeline } from '../../workflows/teardown-pipeline';
import { integerAtLeast } from '../option-parsers';
import { ProgressRenderer } from '../progress-renderer';
import { follow } from '../provision-follow';
import { parkedHint } from '../provision-render';
import { downloadReport, openHint } from '../report-download';
import { connectTemporal, webUiLink } from '../temporal-client';
import { configAndPipelineOrUsage } from '../usage';
import { hasWorker, lagBar } from './demo-view';
import {
  ingestWorkflowId,
  nightlyRunId,
  provisionWorkflowId,
  teardownWorkflowId,
} from '../../domain/workflow-ids';

interface DemoFlags {
  events: number;
  pipeline?: string;
  seed: number;
  down?: boolean;
  out: string;
  json?: boolean;
}

const stackScript = path.resolve(__dirname, '../../../scripts/stack.sh');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Interrupted extends Error {}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole pipeline on the local stack: provision, emulate events, wait for ingestion, ' +
        'run the nightly batch, print the analytics and the report path (needs a worker and ' +
        'the API: `npm run demo` starts everything)',
    )
    .option('--events <n>', 'events to emulate (3 records each)', integerAtLeast(1), 5000)
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--seed <n>', 'generator seed', integerAtLeast(0), 20261125)
    .option('--out <dir>', 'where report.html and the query results are downloaded', './out/report')
    .option('--down', 'at the end, tear the pipeline down (data too) and stop the local stack')
    .option('--json', 'print a JSON summary on stdout at the end')
    .addHelpText(
      'after',
      '\nExit status: 0 done, 1 failed, 2 bad config, 3 provisioning parked for correction, ' +
        '130 interrupted (Ctrl-C; the services keep running).',
    )
    .action((flags: DemoFlags) => demo(flags));
}

async function demo(flags: DemoFlags): Promise<void> {
  // Validated here, so runDemo's `flags.pipeline ?? config.pipelineId` is a valid id.
  const ctx = configAndPipelineOrUsage(flags.pipeline);
  if (!ctx) return;
  const { config } = ctx;
  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    console.error('\npinpipe demo: stopping (Ctrl-C again to quit now); the services keep running');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  const { client, close } = await connectTemporal(config);
  const adapters = createAdapters(config);
  try {
    const summary = await runDemo({ flags, config, client, adapters, signal: interrupt.signal });
    if (flags.json) console.log(JSON.stringify(summary, null, 2));
  } catch (err) {
    if (err instanceof Interrupted || interrupt.signal.aborted) {
      console.error('pinpipe demo: interrupted; `npm run stack:down` stops everything');
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    await adapters.close();
    await close();
  }
}

interface DemoContext {
  flags: DemoFlags;
  config: Config;
  client: Client;
  adapters: Adapters;
  signal: AbortSignal;
}

async function runDemo(ctx: DemoContext) {
  const { flags, config, client, signal } = ctx;
  const pipelineId = flags.pipeline ?? config.pipelineId;
  const taskQueue = config.temporal.taskQueue;
  const say = (line: string) => console.error(line);
  const check = () => {
    if (signal.aborted) throw new Interrupted();
  };
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const r = await fn();
    timings[name] = Date.now() - t0;
    return r;
  };

  if (!(await hasWorker(client, config.temporal.namespace, taskQueue))) {
    throw new Error(
      `no worker polls task queue ${taskQueue}: start one with \`npm run worker\` ` +
        '(or run `npm run demo`, which starts the stack, a worker and the API)',
    );
  }

  say(
    `\n1. Provisioning pipeline ${pipelineId} (local target) — ${webUiLink(config, provisionWorkflowId(pipelineId))}`,
  );
  const provisioned = await timed('provision', () => provision(ctx, pipelineId));
  if (provisioned.status === 'awaiting-correction') {
    process.exitCode = 3;
    return { pipelineId, status: provisioned.status };
  }

  say(`\n2. Emulating ${flags.events} events (pin, geo, user each) through the ingest API`);
  const before = await ingestTotals(client, pipelineId);
  const emulated = await timed('emulate', () => emulate(ctx, pipelineId));
  check();
  say(
    `   ${emulated.acknowledged} records acknowledged, ${emulated.rejected} rejected, ` +
      `${emulated.failed} failed (${Math.round(emulated.recordsPerSecond)} records/s)`,
  );
  if (emulated.failed > 0) throw new Error(`${emulated.failed} records could not be posted`);

  say('\n3. Waiting for ingestion to write them to the raw zone (exactly once)');
  const ingested = await timed('ingest', () =>
    waitForIngestion(ctx, pipelineId, before + emulated.acknowledged, say),
  );

  const date = utcDay(Date.now());
  const nightlyId = nightlyRunId(pipelineId, date);
  say(`\n4. Nightly batch for ${date} — ${webUiLink(config, nightlyId)}`);
  const nightly = await timed('nightly', () => runNightly(ctx, pipelineId, date, nightlyId));
  for (const table of TABLES) {
    const t = nightly.tables[table];
    if (t) {
      say(
        `   ${table.padEnd(4)} ${t.counts.rawRecords} raw → ${t.counts.rowsOut} clean rows ` +
          `(${t.counts.duplicates} duplicates, ${t.counts.quarantined} quarantined)`,
      );
    }
  }

  say('\n5. Analytics');
  const report = await downloadReport(ctx.adapters.store, {
    pipelineId,
    date,
    out: flags.out,
    pipelineArg: flags.pipeline ? ` --pipeline ${pipelineId}` : '',
  });
  for (const table of report.tables) say(`\n${table}`);

  say('\nDone.');
  say(
    `  timings: ${Object.entries(timings)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
      .join(', ')}`,
  );
  say(`  report:  ${report.reportPath}`);
  say(`  open it: ${openHint(report.reportPath)}`);
  say(`  Web UI:  ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
  say(`           provisioning ${webUiLink(config, provisionWorkflowId(pipelineId))}`);
  for (const t of TABLES)
    say(`           ingest ${t.padEnd(4)}  ${webUiLink(config, ingestWorkflowId(pipelineId, t))}`);
  say(`           nightly      ${webUiLink(config, nightlyId)}`);
  say(`  S3:      s3://user-${pipelineId}-bucket/ (raw zone topics/, clean/, analytics/)`);

  if (flags.down) {
    say('\n6. Tearing down (--down): pipeline resources, then the local stack');
    await timed('teardown', () =>
      client.workflow.execute(teardownPipeline, {
        taskQueue,
        workflowId: teardownWorkflowId(pipelineId),
        args: [{ pipelineId, deleteData: true }],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      }),
    );
    spawnSync('bash', [stackScript, 'down'], { stdio: 'inherit' });
  }
  return {
    pipelineId,
    status: 'done',
    events: flags.events,
    emulated: { acknowledged: emulated.acknowledged, rejected: emulated.rejected },
    ingested,
    nightly: Object.fromEntries(TABLES.map((t) => [t, nightly.tables[t]?.counts])),
    reportPath: report.reportPath,
    queries: report.queries,
    timingsMs: timings,
  };
}

async function provision(
  ctx: DemoContext,
  pipelineId: string,
): Promise<ProvisionResult | { status: 'awaiting-correction' }> {
  const { client, config } = ctx;
  const handle = await client.workflow.start(provisionPipeline, {
    taskQueue: config.temporal.taskQueue,
    workflowId: provisionWorkflowId(pipelineId),
    args: [
      {
        pipelineId,
        target: 'local',
        region: config.aws.region,
        endpoint: { url: `http://127.0.0.1:${config.api.port}` },
        // Small batches flush within seconds, so the demo does not wait for a full batch.
        ingestion: { rotateIntervalMs: 5_000 },
      },
    ],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  const followed = await follow(client, handle, config);
  if (followed.kind === 'failed')
    throw new Error(`${followed.workflowId} failed: ${followed.message}`);
  if (followed.kind === 'parked') {
    for (const line of parkedHint(followed.progress)) console.error(line);
    return { status: 'awaiting-correction' };
  }
  return followed.result;
}

async function emulate(ctx: DemoContext, pipelineId: string): Promise<EmulatorSummary> {
  const { flags, config, signal } = ctx;
  const progress = new ProgressRenderer(process.stderr, flags.events, 2_000);
  const summary = await runEmulator({
    url: `http://127.0.0.1:${config.api.port}`,
    pipelineId,
    count: flags.events,
    rate: 0,
    concurrency: 4,
    batch: 100,
    seed: flags.seed,
    maxAttempts: 6,
    signal,
    onProgress: (counts, elapsedMs) => progress.update(counts, elapsedMs),
    ...(config.api.token ? { token: config.api.token } : {}),
  });
  progress.finish(summary, summary.durationMs);
  return summary;
}

/** Records written or quarantined by the three ingestion workflows so far. */
async function ingestTotals(client: Client, pipelineId: string): Promise<number> {
  let total = 0;
  for (const t of TABLES) {
    const p = await client.workflow
      .getHandle(ingestWorkflowId(pipelineId, t))
      .query(ingestProgress);
    total += p.totals.recordsWritten + p.totals.quarantined;
  }
  return total;
}

async function waitForIngestion(
  ctx: DemoContext,
  pipelineId: string,
  target: number,
  say: (line: string) => void,
): Promise<{ records: number; lag: number }> {
  const { client, signal } = ctx;
  const tty = process.stderr.isTTY;
  let lastPrinted = 0;
  for (let i = 0; ; i++) {
    if (signal.aborted) throw new Interrupted();
    let lag = 0;
    let total = 0;
    for (const t of TABLES) {
      const handle = client.workflow.getHandle(ingestWorkflowId(pipelineId, t));
      const p = await handle.query(ingestProgress);
      lag += p.totals.lag;
      total += p.totals.recordsWritten + p.totals.quarantined;
      // Partial batches wait for the rotate interval; the demo asks for them now.
      if (i % 8 === 0) await handle.signal(flushSignal);
    }
    const line = lagBar(total, target, lag);
    if (tty) process.stderr.write(`\r   ${line}\x1b[K`);
    else if (Date.now() - lastPrinted > 2_000) {
      say(`   ${line}`);
      lastPrinted = Date.now();
    }
    if (total >= target && lag === 0) {
      if (tty) process.stderr.write('\n');
      else say(`   ${line}`);
      return { records: total, lag };
    }
    await sleep(250);
  }
}

async function runNightly(
  ctx: DemoContext,
  pipelineId: string,
  date: string,
  workflowId: string,
): Promise<NightlyBatchResult> {
  const { client, config } = ctx;
  const handle = await client.workflow.start(nightlyBatch, {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [{ pipelineId, date }],
    // Run twice, the demo reruns the day: the nightly batch replaces exactly that day.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  return handle.result();
}

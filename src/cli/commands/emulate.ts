import type { Command } from 'commander';
import { exitCodeFor, formatSummary } from '../../emulator/report';
import { runEmulator } from '../../emulator/run-emulator';
import { httpUrl, integerAtLeast, nonNegativeNumber, seedOption } from '../option-parsers';
import { ProgressRenderer } from '../progress-renderer';
import { configAndPipelineOrUsage } from '../usage';

interface EmulateFlags {
  count: number;
  rate: number;
  concurrency: number;
  batch: number;
  seed?: number | string;
  pipeline?: string;
  url?: string;
  token?: string;
  maxAttempts: number;
  json?: boolean;
}

export function registerEmulateCommand(program: Command): void {
  program
    .command('emulate')
    .description(
      "post generated Pinterest events to the ingest API like the seed's posting emulator: " +
        'per event, its pin, geo and user record',
    )
    .option('--count <n>', 'events to post (3 records each)', integerAtLeast(0), 100)
    .option('--rate <r>', 'events per second; 0 = as fast as the API answers', nonNegativeNumber, 0)
    .option('--concurrency <c>', 'batches in flight at once', integerAtLeast(1), 8)
    .option(
      '--batch <b>',
      'events per request (B pins, then B geos, then B users)',
      integerAtLeast(1),
      1,
    )
    .option('--seed <s>', 'generator seed (default: random; printed in the summary)', seedOption)
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--url <url>', 'ingest API URL (default http://127.0.0.1:<PINPIPE_API_PORT>)', httpUrl)
    .option('--token <token>', 'bearer token (default PINPIPE_API_TOKEN)')
    .option(
      '--max-attempts <n>',
      'attempts per request before its records count as failed',
      integerAtLeast(1),
      6,
    )
    .option('--json', 'print the summary as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit status: 0 when every record was acknowledged or rejected by the API, 1 when some ' +
        'failed (retries exhausted) or the run was aborted, 2 on bad configuration or options, ' +
        '130 when interrupted (Ctrl-C).',
    )
    .action((flags: EmulateFlags) => emulate(flags));
}

async function emulate(flags: EmulateFlags): Promise<void> {
  const ctx = configAndPipelineOrUsage(flags.pipeline);
  if (!ctx) return;
  const { config, pipelineId } = ctx;
  const token = flags.token ?? config.api.token;
  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130); // second Ctrl-C: now
    process.stderr.write(
      '\npinpipe emulate: stopping after in-flight requests (Ctrl-C again to quit now)\n',
    );
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  const progress = new ProgressRenderer(process.stderr, flags.count);
  try {
    const summary = await runEmulator({
      url: flags.url ?? `http://127.0.0.1:${config.api.port}`,
      pipelineId,
      count: flags.count,
      rate: flags.rate,
      concurrency: flags.concurrency,
      batch: flags.batch,
      seed: flags.seed ?? Math.floor(Math.random() * 2 ** 31),
      maxAttempts: flags.maxAttempts,
      signal: interrupt.signal,
      onProgress: (counts, elapsedMs) => progress.update(counts, elapsedMs),
      ...(token ? { token } : {}),
    });
    progress.finish(summary, summary.durationMs);
    console.log(flags.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    process.exitCode = exitCodeFor(summary);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';

const srcDir = path.resolve(__dirname, '../..');

/**
 * Signals passed on to the child. A closed terminal (SIGHUP) no longer reaches a detached child,
 * so it is passed on as SIGTERM: both entry points drain on that, neither handles SIGHUP.
 */
const FORWARDED = { SIGINT: 'SIGINT', SIGTERM: 'SIGTERM', SIGHUP: 'SIGTERM' } as const;
const SIGNALS = Object.keys(FORWARDED) as (keyof typeof FORWARDED)[];

/**
 * Runs one of our TypeScript entry points in the foreground, the way bin/pinpipe.cjs runs the
 * CLI (Node with tsx's CommonJS loader), and exits with its code.
 *
 * The child gets its own process group (`detached`) so that Ctrl-C in a terminal reaches it only
 * once, through us: both entry points treat a second SIGINT as "stop now, skip the drain". Its
 * stdin is not inherited because of that too: a process outside the terminal's foreground group
 * that reads it is stopped (SIGTTIN); neither entry point reads stdin.
 */
function runEntry(entry: string): Promise<void> {
  const child = spawn(
    process.execPath,
    // An absolute loader path: `--require tsx/cjs` would resolve from the cwd, not from us.
    ['--require', require.resolve('tsx/cjs'), path.join(srcDir, entry)],
    { stdio: ['ignore', 'inherit', 'inherit'], detached: true },
  );
  const forward = (signal: NodeJS.Signals) =>
    child.kill(FORWARDED[signal as keyof typeof FORWARDED] ?? signal);
  for (const signal of SIGNALS) process.on(signal, forward);
  // Should we die some other way (an exception), do not leave the child running on its own.
  const killChild = () => child.kill('SIGTERM');
  process.on('exit', killChild);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of SIGNALS) process.off(s, forward);
      process.off('exit', killChild);
      // Shell convention for "killed by a signal": 128 + its number.
      process.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      resolve();
    });
  });
}

const SIGNALS_HELP =
  '\nRuns in the foreground; Ctrl-C or SIGTERM stops it gracefully (a second one stops it at ' +
  'once). Exits with its exit code. Configuration comes from the environment ' +
  '(eval "$(npx pinpipe stack env)" for the local stack).';

export function registerWorkerApiCommands(program: Command): void {
  program
    .command('worker')
    .description(
      'run the Temporal worker (task queue TEMPORAL_TASK_QUEUE, default pinpipe) with every ' +
        'workflow and activity; Prometheus metrics on PINPIPE_METRICS_PORT (default 9464)',
    )
    .addHelpText('after', SIGNALS_HELP)
    .action(() => runEntry('workers/main.ts'));
  program
    .command('api')
    .description(
      'run the ingest API (Kafka REST Proxy v2 compatible) on http://127.0.0.1:<PINPIPE_API_PORT> ' +
        '(default 8082); bearer token required when PINPIPE_API_TOKEN is set',
    )
    .addHelpText('after', SIGNALS_HELP)
    .action(() => runEntry('api/main.ts'));
}

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';

const stackScript = path.resolve(__dirname, '../../../scripts/stack.sh');

function runStack(...args: string[]): void {
  const result = spawnSync('bash', [stackScript, ...args], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

export function registerStackCommands(program: Command): void {
  const stack = program
    .command('stack')
    .description('the local stack of real services: Temporal, Kafka, S3 (versitygw), EC2 (moto)');
  stack
    .command('up')
    .description('install (cached) and start every service; idempotent; prints the env to export')
    .action(() => runStack('up'));
  stack
    .command('down')
    .description('stop the services this stack started (data and logs stay in .stack/)')
    .action(() => runStack('down'));
  stack
    .command('status')
    .description('each service with its URL, pid and health; exit 1 unless all are healthy')
    .action(() => runStack('status'));
  stack
    .command('env')
    .description('print the environment variables that point pinpipe at the local stack')
    .action(() => runStack('env'));
}

import '../quiet-warnings';
import { Command } from 'commander';
import { registerIngestCommands } from './commands/ingest';
import { registerDemoCommand } from './commands/demo';
import { registerEmulateCommand } from './commands/emulate';
import { registerNightlyCommands } from './commands/nightly';
import { registerProvisionCommands } from './commands/provision';
import { registerReportCommand } from './commands/report';
import { registerTeardownCommand } from './commands/teardown';
import { registerStackCommands } from './commands/stack';
import { registerWorkerApiCommands } from './commands/worker-api';

/** The `pinpipe` command. Each subcommand lives in ./commands and registers itself here. */
export function buildProgram(): Command {
  const program = new Command()
    .name('pinpipe')
    .description('The Pinterest data pipeline as durable Temporal workflows')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  registerStackCommands(program);
  registerEmulateCommand(program);
  registerIngestCommands(program);
  registerNightlyCommands(program);
  registerProvisionCommands(program);
  registerReportCommand(program);
  registerWorkerApiCommands(program);
  registerDemoCommand(program);
  registerTeardownCommand(program);
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`pinpipe: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  });

import '../quiet-warnings';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config';
import { registerIngestCommands } from './commands/ingest';
import { registerDemoCommand } from './commands/demo';
import { registerEmulateCommand } from './commands/emulate';
import { registerNightlyCommands } from './commands/nightly';
import { registerProvisionCommands } from './commands/provision';
import { registerReportCommand } from './commands/report';
import { registerTeardownCommand } from './commands/teardown';
import { registerStackCommands } from './commands/stack';
import { registerWorkerApiCommands } from './commands/worker-api';
import { EXIT_FAILED, EXIT_USAGE } from './usage';

/** The `pinpipe` command. Each subcommand lives in ./commands and registers itself here. */
export function buildProgram(): Command {
  const program = new Command()
    .name('pinpipe')
    .description('The Pinterest data pipeline as durable Temporal workflows')
    .showHelpAfterError()
    // Commander's own errors (unknown option, missing or invalid argument) are thrown instead of
    // exiting 1, so the catch below can exit 2 like every other bad-argument case. Subcommands
    // copy this setting when they are created, so it must come before they register.
    .exitOverride()
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
    if (err instanceof CommanderError) {
      // Commander has printed the message (and the help); 0 is --help itself.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    console.error(`pinpipe: ${err instanceof Error ? err.message : String(err)}`);
    // A safety net: commands check their configuration first, but one that did not still
    // reports a bad variable as bad configuration, not as a failure.
    process.exitCode = err instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED;
  });

import { ConfigError, loadConfig, type Config } from '../config';
import { PIPELINE_ID_PATTERN } from '../domain/tables';

/** Exit codes: 2 = invalid input (nothing was started), 3 = parked, waiting for a person. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_PARKED = 3;

export function configOrUsage(): Config | undefined {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    usage(err.message);
    return undefined;
  }
}

/**
 * Checked here rather than by commander so a bad id exits 2 with the same message in every
 * command, naming where the id came from (the flag, or the variable behind the default).
 */
export function pipelineIdOrUsage(flag: string | undefined, config: Config): string | undefined {
  const id = flag ?? config.pipelineId;
  if (PIPELINE_ID_PATTERN.test(id)) return id;
  usage(
    `invalid input: pipelineId: expected 12 lowercase hex characters, got ${JSON.stringify(id)} ` +
      `from ${flag === undefined ? 'PINPIPE_PIPELINE_ID' : '--pipeline'}`,
  );
  return undefined;
}

/** What most commands start with: the config and the pipeline id, or exit 2 saying which is bad. */
export function configAndPipelineOrUsage(
  flag: string | undefined,
): { config: Config; pipelineId: string } | undefined {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flag, config);
  return config && pipelineId ? { config, pipelineId } : undefined;
}

export function usage(message: string): void {
  console.error(`pinpipe: ${message}`);
  process.exitCode = EXIT_USAGE;
}

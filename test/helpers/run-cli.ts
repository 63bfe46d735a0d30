import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Spawned } from './processes';
import { repoRoot } from './stack';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export type CliProcess = Spawned & { stdout: () => string; stderr: () => string };

/**
 * `pinpipe <args>` as a user runs it (bin/pinpipe.cjs), still running: stdout and stderr kept
 * apart, `output()` both in arrival order (for waitForOutput).
 */
export function spawnCli(args: string[], env: Record<string, string | undefined>): CliProcess {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/pinpipe.cjs'), ...args], {
    cwd: repoRoot,
    env: { ...env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    all += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    all += d.toString();
  });
  // 'close', not 'exit': the output is complete only once the pipes are drained.
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { child, output: () => all, stdout: () => stdout, stderr: () => stderr, exited };
}

/** `pinpipe <args>` to its end. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<CliRun> {
  const cli = spawnCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

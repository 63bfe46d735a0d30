import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './stack';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `pinpipe <args>` as a user runs it (bin/pinpipe.cjs), to its end; stdout and stderr apart. */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin/pinpipe.cjs'), ...args], {
    cwd: repoRoot,
    env: { ...env, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': the output is complete only once the pipes are drained.
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';

export const repoRoot = path.resolve(__dirname, '../..');

/** The environment `npm run stack:env` prints, under whatever the caller already set. */
export function stackEnv(): Record<string, string | undefined> {
  const printed = execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), 'env'], {
    encoding: 'utf8',
  });
  const env: Record<string, string> = {};
  for (const line of printed.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return { ...env, ...process.env };
}

/** Config for tests against the local stack (started by scripts/test.sh). */
export function stackConfig(): Config {
  return loadConfig(stackEnv());
}

/** A name no other test (or earlier run) has used: tests share one stack. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

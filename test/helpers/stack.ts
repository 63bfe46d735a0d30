import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createRecordMarkKey, type RecordMarkKey } from '../../src/activities/record-mark-key';
import { loadConfig, type Config } from '../../src/config';

export const repoRoot = path.resolve(__dirname, '../..');

/**
 * A development record key (not a secret): the API and the workers the tests start, in process
 * or as child processes, get it from stackEnv, so the sink's fast path (the API's signed mark)
 * is what the tests exercise. PINPIPE_RECORD_KEY from the caller's environment wins.
 */
export const TEST_RECORD_KEY = 'pinpipe-test-record-key-0001';

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
  return {
    ...env,
    ...process.env,
    PINPIPE_RECORD_KEY: process.env['PINPIPE_RECORD_KEY'] || TEST_RECORD_KEY,
  };
}

/** Config for tests against the local stack (started by scripts/test.sh). */
export function stackConfig(): Config {
  return loadConfig(stackEnv());
}

/** The API's signer and the sink's verifier for the tests' key (stackConfig().recordKey). */
export function stackRecordMarkKey(): RecordMarkKey {
  const key = stackConfig().recordKey;
  if (!key) throw new Error('no PINPIPE_RECORD_KEY in the test environment');
  return createRecordMarkKey(key);
}

/** A name no other test (or earlier run) has used: tests share one stack. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

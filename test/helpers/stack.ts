import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
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

/** The stack's SASL_SSL Kafka listener (scripts/stack.sh): TLS with its own CA, one SASL user. */
export interface SecureKafkaStack {
  brokers: string[];
  /** PEM of the CA that signed the broker's certificate (for 127.0.0.1 and localhost). */
  caFile: string;
  /** For PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (OAUTHBEARER takes any unsecured token). */
  username: string;
  password: string;
}

/** Where and how to reach the SASL_SSL listener, from the environment `stack.sh env` prints. */
export function secureKafkaStack(): SecureKafkaStack {
  const env = stackEnv();
  const get = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: \`scripts/stack.sh env\` prints it`);
    return value;
  };
  const caFile = get('PINPIPE_KAFKA_CA_FILE');
  if (!existsSync(caFile)) {
    throw new Error(`${caFile} does not exist yet: \`scripts/stack.sh up\` generates it`);
  }
  return {
    brokers: get('PINPIPE_KAFKA_SECURE_BROKERS').split(','),
    caFile,
    username: get('PINPIPE_KAFKA_SASL_USERNAME'),
    password: get('PINPIPE_KAFKA_SASL_PASSWORD'),
  };
}

/** A name no other test (or earlier run) has used: tests share one stack. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

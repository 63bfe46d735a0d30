import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';

export const repoRoot = path.resolve(__dirname, '../..');
const stackScript = path.join(repoRoot, 'scripts/stack.sh');

/** Runs scripts/stack.sh with `args`; what it printed. */
function runStack(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('bash', [stackScript, ...args], { encoding: 'utf8', env });
}

/** What `scripts/stack.sh env --json` prints: the variables that point pinpipe at the stack. */
export function printedStackEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const printed: unknown = JSON.parse(runStack(['env', '--json'], env));
  if (
    typeof printed !== 'object' ||
    printed === null ||
    Array.isArray(printed) ||
    !Object.values(printed).every((value) => typeof value === 'string')
  ) {
    throw new Error('`scripts/stack.sh env --json` printed no object of strings');
  }
  return printed as Record<string, string>;
}

/** The environment `npm run stack:env` prints, under whatever the caller already set. */
export function stackEnv(): Record<string, string | undefined> {
  return { ...printedStackEnv(), ...process.env };
}

/**
 * The local stack's defaults, scripts/stack/services.env (ports, credentials, namespace, task
 * queue), read as stack.sh reads it: NAME=value lines, `#` comments and blank lines.
 */
export function stackDefaults(): Record<string, string> {
  const file = path.join(repoRoot, 'scripts/stack/services.env');
  const defaults: Record<string, string> = {};
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (/^\s*(#.*)?$/.test(line)) return;
      const m = /^([A-Z][A-Z0-9_]*)=([^\s"'$`]*)$/.exec(line);
      if (!m) throw new Error(`${file} line ${i + 1}: expected NAME=value: ${line}`);
      defaults[m[1]!] = m[2]!;
    });
  return defaults;
}

/**
 * The search attributes the stack's Temporal registers, as the CLI's `Name=Type` (e.g.
 * `IngestLag=Int`): `scripts/stack.sh search-attributes`, read from
 * src/workflows/search-attributes.ts.
 */
export function stackSearchAttributes(env: NodeJS.ProcessEnv = process.env): string[] {
  return runStack(['search-attributes'], env).split('\n').filter(Boolean);
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

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './stack';

/**
 * Kafka's Java client for tests, from the Kafka install scripts/stack.sh keeps in its cache
 * (the broker's libs folder has kafka-clients, snappy-java, lz4-java and zstd-jni), run through
 * test/helpers/KafkaJava.java with Java's source launcher.
 */

/** The libs folder scripts/stack.sh's kafka_libs names: same cache folder, same pinned versions. */
export function kafkaLibsDir(env: NodeJS.ProcessEnv = process.env): string {
  const script = readFileSync(path.join(repoRoot, 'scripts/stack.sh'), 'utf8');
  const pinned = (name: string) => {
    const m = new RegExp(`^${name}="([^"]+)"`, 'm').exec(script);
    if (!m) throw new Error(`scripts/stack.sh pins no ${name}`);
    return m[1]!;
  };
  const cache =
    env.PINPIPE_CACHE_DIR ??
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pinpipe');
  return path.join(
    cache,
    `kafka-${pinned('KAFKA_VERSION')}-log4j-${pinned('LOG4J_VERSION')}`,
    'libs',
  );
}

/** The jars the Java client needs (not the broker's: fewer for javac to open). */
function classpath(): string {
  const dir = kafkaLibsDir();
  const wanted =
    /^(kafka-clients|snappy-java|lz4-java|zstd-jni|slf4j-api|log4j-(api|core|slf4j-impl))-[\d.]/;
  const jars = readdirSync(dir).filter((f) => wanted.test(f) && f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith('kafka-clients-'))) {
    throw new Error(`no kafka-clients jar in ${dir}: run scripts/stack.sh up first`);
  }
  return jars.map((j) => path.join(dir, j)).join(path.delimiter);
}

/** Runs KafkaJava.java with `args`; resolves to what it printed. */
export async function runKafkaJava(args: string[], timeoutMs = 120_000): Promise<string> {
  const source = path.join(__dirname, 'KafkaJava.java');
  const { stdout } = await promisify(execFile)('java', ['-cp', classpath(), source, ...args], {
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Record i's value as KafkaJava.java writes it for `codec`. */
export function kafkaJavaValue(codec: string, i: number): string {
  const words = `pinpipe ${codec} ${i} `;
  return `{"i":${i},"codec":"${codec}","text":"${words.repeat(i % 1000 === 999 ? 10_000 : (i % 13) + 1)}"}`;
}

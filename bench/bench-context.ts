import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAdapters, type Adapters } from '../src/adapters/create-adapters';
import type { Config } from '../src/config';
import { repoRoot, stackConfig } from '../test/helpers/stack';

/** What every bench needs: the local stack up, its config, adapters and a Temporal client. */
export interface BenchContext {
  config: Config;
  adapters: Adapters;
  client: Client;
  close(): Promise<void>;
}

export async function openBenchContext(): Promise<BenchContext> {
  execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), 'up'], { stdio: 'ignore' });
  const config = stackConfig();
  const adapters = createAdapters(config);
  const connection = await Connection.connect(config.temporal.connect.connectionOptions);
  return {
    config,
    adapters,
    client: new Client({ connection }),
    async close() {
      await adapters.close();
      await connection.close();
    },
  };
}

/** Resident memory of a process, MiB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Writes `test-output/bench/<name>.json` and returns its path relative to the repository. */
export function writeBenchResult(name: string, results: unknown): string {
  const out = path.join(repoRoot, 'test-output', 'bench');
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `${name}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  return path.relative(repoRoot, file);
}

/** `--name <n>` from a bench's arguments, or `fallback`; a positive number (an integer if asked). */
export function numberOption(
  args: readonly string[],
  name: string,
  fallback: number,
  integer = false,
): number {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  const ok = integer ? Number.isInteger(v) : Number.isFinite(v);
  if (!ok || v <= 0) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return v;
}

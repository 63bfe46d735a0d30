import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Info } from '@temporalio/activity';
import {
  ApplicationFailure,
  type LogLevel,
  type LogMetadata,
  type Logger,
} from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';

export interface LogEntry {
  level: LogLevel;
  message: string;
  meta?: LogMetadata;
}

/** Keeps what activities (and the SDK around them) log, instead of printing it. */
export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.entries.push({ level, message, ...(meta ? { meta } : {}) });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
  /** Messages at `level` from the activity itself (not the SDK's own "Activity failed"). */
  messages(level: LogLevel): string[] {
    return this.entries
      .filter((e) => e.level === level && e.meta?.sdkComponent === 'activity')
      .map((e) => e.message);
  }
}

/**
 * One attempt of an activity: a MockActivityEnvironment whose heartbeats and logs are kept.
 * `info.heartbeatDetails` is what the attempt resumes from (a retry's previous checkpoint).
 */
export function activityAttempt(info: Partial<Info> = {}) {
  const logger = new RecordingLogger();
  const env = new MockActivityEnvironment(info, { logger });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  /** Runs `activities[name](...args)` in this attempt's context (bound: no `this` is lost). */
  function run<A extends object, K extends keyof A>(
    activities: A,
    name: K,
    ...args: Args<A[K]>
  ): Promise<Result<A[K]>> {
    return env.run(
      () => Reflect.apply(activities[name] as Fn, activities, args) as Promise<Result<A[K]>>,
    );
  }
  return { env, heartbeats, logger, run };
}

/** The ApplicationFailure `p` (an activity's attempt) rejects with; fails the test otherwise. */
export async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the activity to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
  return err;
}

/**
 * In a describe: a new scratch directory under the OS's tmp for each test (`per: 'all'`: one
 * for all its tests), removed after it. The function returned gives its path.
 */
export function useScratchDir(prefix: string, per: 'each' | 'all' = 'each'): () => string {
  let dir: string | undefined;
  const [setUp, tearDown] = per === 'each' ? [beforeEach, afterEach] : [before, after];
  setUp(async () => {
    dir = await mkdtemp(path.join(tmpdir(), prefix));
  });
  tearDown(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    if (!dir) throw new Error('no scratch directory outside a test');
    return dir;
  };
}

type Fn = (...args: never[]) => unknown;
type Args<F> = F extends (...args: infer P) => unknown ? P : never;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

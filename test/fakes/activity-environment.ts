import type { Info } from '@temporalio/activity';
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
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

type Fn = (...args: never[]) => unknown;
type Args<F> = F extends (...args: infer P) => unknown ? P : never;
type Result<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

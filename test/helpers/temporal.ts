import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { shardTaskQueue } from '../../src/domain/workflow-ids';
import { repoRoot } from './stack';

/** The pinned `temporal` CLI from the stack's cache (the SDK's own download cannot work here). */
export function temporalBinary(): string {
  return execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), 'bin', 'temporal'], {
    encoding: 'utf8',
  }).trim();
}

/** A private dev server for one test file, with pinpipe's search attributes registered. */
export function createLocalEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalBinary() },
      ip: '127.0.0.1',
      extraArgs: [
        '--log-level',
        'error',
        ...[
          'PipelineId=Keyword',
          'PipelineTable=Keyword',
          'PipelineStep=Keyword',
          'PipelineStatus=Keyword',
          'IngestLag=Int',
          'DataDate=Keyword',
        ].flatMap((sa) => ['--search-attribute', sa]),
      ],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, built once per mocha process (bundling costs seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  return bundle;
}

/**
 * Runs `fn` while a worker polls a task queue of its own (unique per call, so tests never
 * steal each other's tasks), with the shared bundle and the given activities.
 */
export function withTestWorker<T>(
  env: TestWorkflowEnvironment,
  activities: object,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  return withQueueWorkers(env, activities, fn, { queuePrefix: 'test', shardConcurrency: 2 });
}

/**
 * Runs `fn` while a worker with the shared bundle and `activities` polls a new task queue
 * (`<queuePrefix>-<uuid>`), and, as in run-worker.ts, a second worker with the same activities
 * serves the nightly's shards on the companion queue (at most `shardConcurrency` at a time).
 */
export async function withQueueWorkers<T>(
  env: TestWorkflowEnvironment,
  activities: object,
  fn: (taskQueue: string) => Promise<T>,
  options: { queuePrefix: string; shardConcurrency?: number },
): Promise<T> {
  const taskQueue = `${options.queuePrefix}-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  const shards = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: shardTaskQueue(taskQueue),
    activities,
    ...(options.shardConcurrency !== undefined
      ? { maxConcurrentActivityTaskExecutions: options.shardConcurrency }
      : {}),
  });
  return shards.runUntil(worker.runUntil(fn(taskQueue)));
}

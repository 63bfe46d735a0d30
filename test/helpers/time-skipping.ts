import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  WorkflowFailedError,
  type Connection,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { ApplicationFailure, type Workflow, type WorkflowResultType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { withQueueWorkers } from './temporal';

/**
 * The fast tier's Temporal: the time-skipping test server (timers pass at once while a test
 * waits on a result), started by this process. scripts/test-fast.sh installs the server and
 * exports its path; the SDK's own download cannot work here.
 */
export function testServerPath(): string {
  const path = process.env.PINPIPE_TEST_SERVER;
  if (!path) {
    throw new Error(
      'PINPIPE_TEST_SERVER is not set: run these tests with `npm run test:fast` (or `npm test`), which install the time-skipping test server and set it',
    );
  }
  if (!existsSync(path)) {
    throw new Error(
      `PINPIPE_TEST_SERVER=${path} does not exist: run \`npm run test:fast\` to install the time-skipping test server`,
    );
  }
  return path;
}

type AddSearchAttributes = Parameters<Connection['operatorService']['addSearchAttributes']>[0];
type IndexedValueType = NonNullable<AddSearchAttributes['searchAttributes']>[string];
// temporal.api.enums.v1.IndexedValueType (the proto package is not a dependency of ours).
const KEYWORD = 2 as IndexedValueType;
const INT = 3 as IndexedValueType;
const DATETIME = 6 as IndexedValueType;
/** DESIGN.md section 3's search attributes, as scripts/stack.sh registers them, and one of the schedule's. */
const SEARCH_ATTRIBUTES = {
  PipelineId: KEYWORD,
  PipelineTable: KEYWORD,
  PipelineStep: KEYWORD,
  PipelineStatus: KEYWORD,
  IngestLag: INT,
  DataDate: KEYWORD,
  // Set by a schedule on each run it starts (its nominal time). The test server has no
  // schedules: a test starts the run with it, as the nightly schedule would.
  TemporalScheduledStartTime: DATETIME,
};

/**
 * A private time-skipping server for one test file, with pinpipe's search attributes registered
 * (the workflows upsert them; the test server refuses undefined ones).
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
  try {
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: SEARCH_ATTRIBUTES,
    });
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

/**
 * Runs `fn` while a worker with the given (mocked) activities polls a task queue of its own
 * (unique per call, so tests never take each other's tasks), with the workflow bundle built once
 * per process. As in run-worker.ts, cleanTable's shards go to a companion queue, served here by
 * a second worker with the same activities.
 */
export function withMockedWorker<T>(
  env: TestWorkflowEnvironment,
  activities: object,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  return withQueueWorkers(env, activities, fn, { queuePrefix: 'fast' });
}

/**
 * In a describe: a private time-skipping server for its tests, started before them and torn
 * down after them. The function returned gives the env inside the hooks and tests.
 */
export function useTimeSkippingEnv(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the time-skipping env is not started (used outside a test?)');
    return env;
  };
}

/** Runs `workflow` to its end on a task queue served by withMockedWorker with `activities`. */
export function executeMocked<W extends Workflow>(
  env: TestWorkflowEnvironment,
  activities: object,
  workflow: W,
  options: Omit<WorkflowStartOptions<W>, 'taskQueue'>,
): Promise<WorkflowResultType<W>> {
  return withMockedWorker(env, activities, (taskQueue) =>
    env.client.workflow.execute(workflow, { ...options, taskQueue } as WorkflowStartOptions<W>),
  );
}

/** Asserts that a run failed with an ApplicationFailure of `type`, and returns that failure. */
export function workflowFailure(err: unknown, type: string): ApplicationFailure {
  assert.ok(err instanceof WorkflowFailedError);
  assert.ok(err.cause instanceof ApplicationFailure);
  assert.equal(err.cause.type, type);
  return err.cause;
}

/** For assert.rejects: the run failed as InvalidInput (with a message matching `pattern`). */
export const invalidInput =
  (pattern?: RegExp) =>
  (err: unknown): true => {
    const failure = workflowFailure(err, 'InvalidInput');
    if (pattern) assert.match(failure.message, pattern);
    return true;
  };

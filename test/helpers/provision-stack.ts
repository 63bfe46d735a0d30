import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import type { KafkaPort } from '../../src/ports/kafka';
import { createActivities } from '../../src/workers/create-activities';
import { teardownPipeline, type TeardownInput } from '../../src/workflows/teardown-pipeline';
import { randomPipelineId } from './ingest-fixtures';
import { stackConfig } from './stack';
import { createLocalEnv, withTestWorker } from './temporal';

/** The ingest API in this process on a free port: the endpoint a provisioning run checks. */
export async function listenIngestApi(
  kafka: KafkaPort,
): Promise<{ api: IngestServer; apiUrl: string }> {
  const api = createIngestServer({ kafka });
  const { port } = await api.listen(0, '127.0.0.1');
  return { api, apiUrl: `http://127.0.0.1:${port}` };
}

/**
 * What the provisioning workflow tests run against: a private Temporal dev server, the stack's
 * adapters, the ingest API in this process as the endpoint, and the pipelines the tests made.
 */
export interface ProvisionStack {
  env: TestWorkflowEnvironment;
  adapters: Adapters;
  control: TemporalControl;
  apiUrl: string;
  /** Every pipeline id newPipeline() gave out, for the cleanup. */
  pipelines: string[];
  /** A new pipeline id, kept on `pipelines`. */
  newPipeline(): string;
  /** The worker's activities (local target: no aws clients) on the stack's adapters. */
  activities(): ReturnType<typeof createActivities>;
  /** Stops the API, the adapters and the dev server. */
  close(): Promise<void>;
}

export async function startProvisionStack(): Promise<ProvisionStack> {
  const env = await createLocalEnv();
  const adapters = createAdapters(stackConfig());
  let api: IngestServer | undefined;
  const close = async () => {
    await api?.close();
    await adapters.close();
    await env.teardown();
  };
  try {
    const listening = await listenIngestApi(adapters.kafka);
    api = listening.api;
    const control = new TemporalControl(env.client);
    const pipelines: string[] = [];
    return {
      env,
      adapters,
      control,
      apiUrl: listening.apiUrl,
      pipelines,
      newPipeline() {
        const id = randomPipelineId();
        pipelines.push(id);
        return id;
      },
      activities: () =>
        createActivities({ ...adapters, control, duckdb: duckDbS3OptionsFrom(stackConfig()) }),
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/**
 * Leaves nothing behind, whatever a failed test did: a teardown with deleteData of each pipeline
 * (with `extra` of its input), at once, on a worker with `activities`. A failure is logged.
 */
export async function tearDownPipelines(
  env: TestWorkflowEnvironment,
  activities: object,
  pipelines: string[],
  extra: (pipelineId: string) => Partial<TeardownInput> = () => ({}),
): Promise<void> {
  await withTestWorker(env, activities, async (taskQueue) => {
    await Promise.all(
      pipelines.map((pipelineId) =>
        env.client.workflow.execute(teardownPipeline, {
          taskQueue,
          workflowId: `cleanup-${pipelineId}`,
          args: [{ pipelineId, deleteData: true, ...extra(pipelineId) }],
        }),
      ),
    );
  }).catch((err: unknown) => console.error('cleanup failed:', err));
}

/** With PINPIPE_SAVE_HISTORIES=1, keeps a run's history as a replay fixture `<name>.json`. */
export async function saveHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (!process.env.PINPIPE_SAVE_HISTORIES) return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const file = path.resolve(__dirname, '../fixtures/histories', `${name}.json`);
  writeFileSync(file, historyToJSON(history));
}

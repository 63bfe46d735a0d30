import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { provisionPipeline } from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import {
  freePort,
  spawnEntry,
  startFaultWorker,
  startWorkerProcess,
  waitForOutput,
  type Spawned,
} from '../helpers/processes';
import { auditPipeline, fullyProvisioned, nothingLeft } from '../helpers/provision-audit';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';
import { AWS_ONLY_STEPS } from '../../src/domain/provision-steps';

/**
 * Provisioning survives its worker dying: a real worker process is killed with SIGKILL during
 * each step in turn and restarted; the run must still complete with exactly one
 * of every resource, and teardown must then leave nothing.
 */
/** The activity each provisioning step runs . */
const STEP_ACTIVITIES = [
  ['validate', 'validateTarget'],
  ['bucket', 'ensureBucket'],
  ['topics', 'ensureTopics'],
  ['client-host', 'ensureClientHost'],
  ['endpoint', 'checkEndpoint'],
  ['ingestion', 'ensureIngestion'],
  ['schedule', 'ensureSchedule'],
  ['inventory', 'recordInventory'],
] as const;

describe('provisioning under worker SIGKILLs (real processes, real services)', function () {
  this.timeout(600_000);
  let adapters: Adapters;
  let connection: Connection;
  let client: Client;
  let control: TemporalControl;
  let api: Spawned;
  let apiUrl: string;
  let worker: Spawned | undefined;
  const taskQueue = uniqueName('provision-faults');

  before(async () => {
    adapters = createAdapters(stackConfig());
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    client = new Client({ connection });
    control = new TemporalControl(client);
    const port = await freePort();
    api = spawnEntry('src/api/main.ts', { ...stackEnv(), PINPIPE_API_PORT: String(port) });
    await waitForOutput(api, /listening on/);
    apiUrl = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
    api?.child.kill('SIGTERM');
    await api?.exited;
    await adapters?.close();
    await connection?.close();
  });

  it('completes with exactly one of every resource after a SIGKILL of its worker in each step', async () => {
    const pipelineId = randomPipelineId();
    const handle = await client.workflow.start(provisionPipeline, {
      taskQueue,
      workflowId: `provision-${pipelineId}`,
      args: [
        {
          pipelineId,
          target: 'local',
          endpoint: { url: apiUrl },
          ingestion: { rotateIntervalMs: 2_000 },
          // Each kill can cost an attempt: leave room so no step parks for correction.
          maxAttemptsPerStep: 20,
        },
      ],
    });

    // Each step in turn: a worker that SIGKILLs itself inside that step's activity, so every
    // kill lands (side effects may be half done); then a plain worker finishes the run.
    const hits: string[] = [];
    for (const [step, activity] of STEP_ACTIVITIES) {
      worker = await startFaultWorker(taskQueue, activity);
      const code = await worker.exited;
      assert.match(
        worker.output(),
        new RegExp(`fault-worker: ${activity} started`),
        worker.output(),
      );
      assert.equal(worker.child.signalCode, 'SIGKILL', `worker exited with ${code} in ${step}`);
      hits.push(step);
    }
    worker = await startWorkerProcess(taskQueue);
    const final = await handle.result();
    console.log(`      SIGKILLs during: ${hits.join(', ')}`);
    assert.equal(final.status, 'completed');
    // The local target: every step done but the aws-only ones, which it skips.
    assert.ok(
      final.steps.every((s) => s.status === (AWS_ONLY_STEPS.has(s.step) ? 'skipped' : 'done')),
    );

    const audit = await auditPipeline(adapters, control, pipelineId);
    assert.equal(audit.instances.length, 1, `instances: ${audit.instances.join(', ')}`);
    assert.deepEqual(
      { ...audit, instances: undefined },
      { ...fullyProvisioned(pipelineId), instances: undefined },
    );

    const down = await client.workflow.execute(teardownPipeline, {
      taskQueue,
      workflowId: `teardown-${pipelineId}`,
      args: [{ pipelineId, deleteData: true }],
    });
    assert.equal(down.inventoryFound, true);
    assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
  });
});

import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { progressQuery, provisionPipeline } from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import {
  freePort,
  spawnEntry,
  startWorkerProcess,
  waitForOutput,
  type Spawned,
} from '../helpers/processes';
import { auditPipeline, fullyProvisioned, nothingLeft } from '../helpers/provision-audit';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/**
 * Provisioning survives its worker dying: a real worker process is killed with SIGKILL during
 * each step in turn and restarted; the run must still complete with exactly one
 * of every resource, and teardown must then leave nothing.
 */
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
    // Started before any worker polls, so the first kill cannot miss a run that takes ~1 s.
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

    // Each step in turn: as soon as the run reaches a step no kill has hit yet, kill the worker
    // a random few milliseconds later (mid-activity, or mid workflow task), then restart it.
    const hits: string[] = [];
    let done = false;
    const result = handle.result().finally(() => (done = true));
    worker = await startWorkerProcess(taskQueue);
    while (!done) {
      let step: string | undefined;
      while (!done && step === undefined) {
        const p = await handle.query(progressQuery).catch(() => undefined);
        if (p?.currentStep && !hits.includes(p.currentStep)) step = p.currentStep;
        else await new Promise((r) => setTimeout(r, 20));
      }
      if (done || step === undefined) break;
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 100)));
      worker.child.kill('SIGKILL');
      await worker.exited;
      hits.push(step);
      worker = await startWorkerProcess(taskQueue);
    }
    const final = await result;
    console.log(`      SIGKILLs during: ${hits.join(', ')}`);
    assert.ok(hits.length >= 6, `only ${hits.length} kills landed before the run completed`);
    assert.equal(final.status, 'completed');
    assert.ok(final.steps.every((s) => s.status === 'done'));

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

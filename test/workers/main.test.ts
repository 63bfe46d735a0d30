import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { stackProbe } from '../../src/workflows/stack-probe';
import { freePort, spawnEntry, waitForOutput, type Spawned } from '../helpers/processes';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/**
 * The worker process itself, against the local stack's Temporal server (so the run shows in
 * the Web UI at http://127.0.0.1:8233).
 */
describe('worker process (src/workers/main.ts) on the local stack', function () {
  this.timeout(120_000);
  const taskQueue = uniqueName('worker-test');
  let metricsPort: number;
  let worker: Spawned;
  let connection: Connection;

  before(async () => {
    metricsPort = await freePort();
    worker = spawnEntry('src/workers/main.ts', {
      ...stackEnv(),
      TEMPORAL_TASK_QUEUE: taskQueue,
      PINPIPE_METRICS_PORT: String(metricsPort),
    });
    await waitForOutput(worker, /pinpipe worker: task queue/);
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
  });

  after(async () => {
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await connection?.close();
  });

  it('runs the stack probe end to end and serves Prometheus metrics', async () => {
    const client = new Client({ connection });
    const workflowId = uniqueName('probe');
    const handle = await client.workflow.start(stackProbe, {
      taskQueue,
      workflowId,
      args: [{}],
    });
    const result = await handle.result();
    assert.equal(result.s3.bucket, 'pinpipe-probe');
    assert.equal(result.kafka.topic, 'pinpipe.probe');
    assert.ok(result.ec2.regions > 0);

    const description = await handle.describe();
    assert.equal(description.status.name, 'COMPLETED');
    assert.equal(description.type, 'stackProbe');

    // The fresh history replays against the current workflow code.
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle() },
      await handle.fetchHistory(),
    );

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /temporal_workflow_completed/);
    assert.match(metrics, /temporal_activity_execution_latency/);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0);
  });
});

describe('worker process with bad configuration', () => {
  it('exits non-zero naming the variable and the expected form', async () => {
    const bad = spawnEntry('src/workers/main.ts', { ...stackEnv(), KAFKA_BROKERS: 'not a url' });
    const code = await bad.exited;
    assert.equal(code, 2);
    assert.match(
      bad.output(),
      /KAFKA_BROKERS="not a url": expected a comma-separated list of host:port/,
    );
  });
});

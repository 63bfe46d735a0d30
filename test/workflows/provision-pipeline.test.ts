import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { StopInstancesCommand } from '@aws-sdk/client-ec2';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Adapters } from '../../src/adapters/create-adapters';
import { createEc2Client } from '../../src/adapters/ec2-client';
import type { TemporalControl } from '../../src/adapters/temporal-control';
import type { ProvisionInput } from '../../src/domain/provision-input';
import { AWS_ONLY_STEPS } from '../../src/domain/provision-steps';
import type { createActivities } from '../../src/workers/create-activities';
import {
  abortUpdate,
  progressQuery,
  provisionPipeline,
  retryStepUpdate,
  type ProvisionResult,
} from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import { auditPipeline, fullyProvisioned, nothingLeft } from '../helpers/provision-audit';
import {
  saveHistory,
  startProvisionStack,
  tearDownPipelines,
  type ProvisionStack,
} from '../helpers/provision-stack';
import { repoRoot, stackConfig } from '../helpers/stack';
import { withTestWorker } from '../helpers/temporal';

/**
 * provisionPipeline and teardownPipeline on the real stack: versitygw, Kafka, moto for EC2, the
 * ingest API in-process as the endpoint, ingestion workflows and the schedule on this file's
 * private Temporal dev server. Every assertion counts the resources in the services themselves.
 */
describe('provisionPipeline / teardownPipeline workflows (real stack, moto for EC2)', function () {
  this.timeout(300_000);
  let provisioning: ProvisionStack | undefined;
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let control: TemporalControl;
  let activities: ReturnType<typeof createActivities>;

  before(async () => {
    provisioning = await startProvisionStack();
    ({ env, adapters, control } = provisioning);
    activities = provisioning.activities();
  });

  after(async () => {
    // Leave nothing behind, whatever a failed test did.
    if (provisioning) await tearDownPipelines(env, activities, provisioning.pipelines);
    await provisioning?.close();
  });

  const newPipeline = () => provisioning!.newPipeline();

  const input = (pipelineId: string, extra: Partial<ProvisionInput> = {}): ProvisionInput => ({
    pipelineId,
    target: 'local',
    endpoint: { url: provisioning!.apiUrl },
    // Idle ingestion batches rotate fast, so teardown's graceful stops return in seconds.
    ingestion: { rotateIntervalMs: 2_000 },
    ...extra,
  });

  async function provision(
    taskQueue: string,
    pi: ProvisionInput,
    id = `provision-${pi.pipelineId}`,
  ) {
    const started = Date.now();
    const result = await env.client.workflow.execute(provisionPipeline, {
      taskQueue,
      workflowId: id,
      args: [pi],
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    return { result, ms: Date.now() - started };
  }

  async function teardown(taskQueue: string, pipelineId: string, deleteData: boolean) {
    const workflowId = `teardown-${pipelineId}-${Date.now()}`;
    const result = await env.client.workflow.execute(teardownPipeline, {
      taskQueue,
      workflowId,
      args: [{ pipelineId, deleteData }],
    });
    if (!deleteData) await saveHistory(env.client, workflowId, 'teardown-pipeline-keep-data');
    return result;
  }

  const outcomes = (r: ProvisionResult) => r.resources.map((x) => `${x.kind}:${x.outcome}`);

  async function waitForStatus(handle: WorkflowHandle, status: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const p = await handle.query(progressQuery);
      if (p.status === status) return;
      if (Date.now() > deadline) throw new Error(`still ${p.status}: ${JSON.stringify(p.steps)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('provisions from nothing, then a rerun changes nothing; teardown twice leaves nothing', async () => {
    const pipelineId = newPipeline();
    await withTestWorker(env, activities, async (taskQueue) => {
      const first = await provision(taskQueue, input(pipelineId));
      assert.equal(first.result.status, 'completed');
      assert.ok(
        first.result.steps.every((s) =>
          AWS_ONLY_STEPS.has(s.step) ? s.status === 'skipped' : s.status === 'done',
        ),
        JSON.stringify(first.result.steps),
      );
      assert.deepEqual(outcomes(first.result).sort(), [
        'bucket:created',
        'endpoint:exists',
        'instance:created',
        'schedule:created',
        'topic:created',
        'topic:created',
        'topic:created',
        'workflow:created',
        'workflow:created',
        'workflow:created',
      ]);
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.equal(audit.instances.length, 1);
      assert.deepEqual(
        { ...audit, instances: undefined },
        { ...fullyProvisioned(pipelineId), instances: undefined },
      );
      assert.equal(first.result.inventory?.owned.length, 9);
      assert.deepEqual(first.result.inventory?.adopted, []);

      const again = await provision(taskQueue, input(pipelineId), `provision-${pipelineId}-again`);
      assert.equal(again.result.status, 'completed');
      assert.ok(
        outcomes(again.result).every((o) => o.endsWith(':exists')),
        `a rerun must change nothing: ${outcomes(again.result).join(', ')}`,
      );
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), audit);
      console.log(`      provision from nothing ${first.ms} ms, no-op rerun ${again.ms} ms`);

      const down = await teardown(taskQueue, pipelineId, true);
      assert.equal(down.inventoryFound, true);
      assert.equal(down.removed.length, 9);
      // Everything existed, so nothing may be reported absent (overlapping topic deletes once
      // failed, retried, and then found their own topic gone).
      assert.deepEqual(
        down.removed.filter((r) => r.result === 'absent').map((r) => `${r.kind}:${r.id}`),
        [],
      );
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
      const downAgain = await teardown(taskQueue, pipelineId, true);
      assert.equal(downAgain.inventoryFound, false);
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('teardown without deleteData keeps topics and bucket on record for a later deleteData run', async () => {
    const pipelineId = newPipeline();
    await withTestWorker(env, activities, async (taskQueue) => {
      await provision(taskQueue, input(pipelineId, { schedule: { enabled: false } }));
      const kept = await teardown(taskQueue, pipelineId, false);
      assert.deepEqual(kept.kept.map((k) => k.kind).sort(), ['bucket', 'topic', 'topic', 'topic']);
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.deepEqual(
        {
          instances: audit.instances,
          ingestRunning: audit.ingestRunning,
          schedule: audit.schedule,
        },
        { instances: [], ingestRunning: 0, schedule: false },
      );
      assert.equal(audit.bucket && audit.inventory, true);
      const all = await teardown(taskQueue, pipelineId, true);
      assert.deepEqual(all.removed.map((r) => r.kind).sort(), [
        'bucket',
        'topic',
        'topic',
        'topic',
      ]);
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('plan reports create on a fresh, exists on a provisioned and differs on a drifted environment', async () => {
    const pipelineId = newPipeline();
    await withTestWorker(env, activities, async (taskQueue) => {
      const fresh = await provision(
        taskQueue,
        input(pipelineId, { mode: 'plan' }),
        `plan-${pipelineId}-1`,
      );
      assert.equal(fresh.result.status, 'planned');
      const freshOutcomes = outcomes(fresh.result).filter((o) => !o.startsWith('endpoint'));
      assert.ok(
        freshOutcomes.every((o) => o.endsWith(':create')),
        freshOutcomes.join(', '),
      );
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));

      await provision(taskQueue, input(pipelineId));
      const same = await provision(
        taskQueue,
        input(pipelineId, { mode: 'plan' }),
        `plan-${pipelineId}-2`,
      );
      assert.ok(
        outcomes(same.result).every((o) => o.endsWith(':exists')),
        outcomes(same.result).join(', '),
      );

      // Drift: the instance stopped by hand; more partitions and another cron asked for.
      const [instanceId] = (await auditPipeline(adapters, control, pipelineId)).instances;
      const ec2 = createEc2Client(stackConfig().aws);
      await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId!] }));
      ec2.destroy();
      const drifted = await provision(
        taskQueue,
        input(pipelineId, {
          mode: 'plan',
          topics: { partitions: 4 },
          schedule: { cron: '30 3 * * *' },
        }),
        `plan-${pipelineId}-3`,
      );
      const byKind = (kind: string) => drifted.result.resources.filter((r) => r.kind === kind);
      assert.equal(byKind('instance')[0]?.outcome, 'differs');
      assert.match(byKind('instance')[0]?.detail ?? '', /stopped/);
      assert.deepEqual(
        byKind('topic').map((t) => t.outcome),
        ['differs', 'differs', 'differs'],
      );
      assert.equal(byKind('schedule')[0]?.outcome, 'differs');
      assert.match(byKind('schedule')[0]?.detail ?? '', /cron/);
      assert.equal(byKind('bucket')[0]?.outcome, 'exists');

      // Apply repairs the drift: the same instance started again, partitions raised.
      const repaired = await provision(
        taskQueue,
        input(pipelineId, { topics: { partitions: 4 }, schedule: { cron: '30 3 * * *' } }),
        `provision-${pipelineId}-repair`,
      );
      assert.equal(
        repaired.result.resources.find((r) => r.kind === 'instance')?.outcome,
        'updated',
      );
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.deepEqual(audit.instances, [instanceId]);
      assert.deepEqual(
        { ...audit, instances: undefined },
        { ...fullyProvisioned(pipelineId, 4), instances: undefined },
      );
    });
  });

  it('parks a step that cannot succeed; retryStep with a corrected AMI completes the run', async () => {
    const pipelineId = newPipeline();
    await withTestWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${pipelineId}`,
        args: [input(pipelineId, { clientHost: { imageId: 'ami-0000dead' } })],
      });
      await waitForStatus(handle, 'awaiting-correction');
      const parked = await handle.query(progressQuery);
      assert.equal(parked.currentStep, 'client-host');
      const step = parked.steps.find((s) => s.step === 'client-host');
      assert.equal(step?.status, 'awaiting-correction');
      assert.match(step?.error ?? '', /AMI ami-0000dead does not exist/);
      assert.equal((await auditPipeline(adapters, control, pipelineId)).instances.length, 0);

      // A correction that does not validate is rejected and the run stays parked.
      await assert.rejects(
        handle.executeUpdate(retryStepUpdate, {
          args: [{ settings: { clientHost: { imageId: 'nope' } } }],
        }),
        (err: Error) => {
          assert.match(
            (err.cause as Error | undefined)?.message ?? '',
            /invalid correction: clientHost.imageId/,
          );
          return true;
        },
      );
      // While moto is down the corrected step retries (attempts visible), then completes.
      stack('stop', 'moto');
      try {
        const accepted = await handle.executeUpdate(retryStepUpdate, {
          args: [
            { step: 'client-host', settings: { clientHost: { imageId: 'ami-03c3da4cfa8e8943a' } } },
          ],
        });
        assert.equal(accepted.step, 'client-host');
        const deadline = Date.now() + 30_000;
        while (
          (await handle.query(progressQuery)).steps.find((s) => s.step === 'client-host')!.attempt <
          2
        ) {
          assert.ok(Date.now() < deadline, 'the step never retried while moto was down');
          await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        stack('up');
      }
      const result = await handle.result();
      await saveHistory(env.client, handle.workflowId, 'provision-pipeline-corrected');
      assert.equal(result.status, 'completed');
      const host = result.steps.find((s) => s.step === 'client-host')!;
      assert.ok(host.attempt >= 2, `attempt ${host.attempt}`);
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.equal(audit.instances.length, 1);
      assert.deepEqual(
        { ...audit, instances: undefined },
        { ...fullyProvisioned(pipelineId), instances: undefined },
      );
    });
  });

  it('abort removes what the parked run created, newest first', async () => {
    const pipelineId = newPipeline();
    await withTestWorker(env, activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${pipelineId}`,
        args: [
          input(pipelineId, { clientHost: { subnetId: 'subnet-0nothere' }, maxAttemptsPerStep: 2 }),
        ],
      });
      await waitForStatus(handle, 'awaiting-correction');
      const parked = await handle.query(progressQuery);
      assert.equal(parked.currentStep, 'client-host');
      assert.equal(parked.steps.find((s) => s.step === 'client-host')?.attempt, 2);
      assert.equal((await auditPipeline(adapters, control, pipelineId)).bucket, true);
      const accepted = await handle.executeUpdate(abortUpdate);
      assert.equal(accepted.removing, 4); // bucket + three topics
      const result = await handle.result();
      await saveHistory(env.client, handle.workflowId, 'provision-pipeline-aborted');
      assert.equal(result.status, 'aborted');
      assert.deepEqual(
        result.steps.filter((s) => !AWS_ONLY_STEPS.has(s.step)).map((s) => s.status),
        ['done', 'undone', 'undone', 'failed', 'pending', 'pending', 'pending', 'pending'],
      );
      // The aws-only steps: skipped when the run passed them, pending after the parked step.
      assert.deepEqual(
        result.steps.filter((s) => AWS_ONLY_STEPS.has(s.step)).map((s) => s.status),
        ['skipped', 'skipped', 'skipped', 'skipped', 'skipped', 'pending'],
      );
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('rejects invalid input at once, naming the field', async () => {
    await withTestWorker(env, activities, async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(provisionPipeline, {
          taskQueue,
          workflowId: `provision-bad-${Date.now()}`,
          args: [{ pipelineId: 'NOT-HEX', topics: { partitions: 0 } }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          const message = (err.cause as Error).message;
          assert.match(message, /pipelineId: expected 12 lowercase hex/);
          assert.match(message, /topics\.partitions/);
          return true;
        },
      );
    });
  });
});

function stack(...args: string[]): void {
  execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), ...args], { stdio: 'ignore' });
}

import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Adapters } from '../../src/adapters/create-adapters';
import { awsNames } from '../../src/domain/aws-resources';
import { CONFIG_FILE } from '../../src/domain/client-user-data';
import type { ProvisionInput } from '../../src/domain/provision-input';
import { AWS_ONLY_STEPS } from '../../src/domain/provision-steps';
import { TABLES, topicFor } from '../../src/domain/tables';
import type { IamPort } from '../../src/ports/iam';
import {
  abortUpdate,
  progressQuery,
  provisionPipeline,
  retryStepUpdate,
  type ProvisionResult,
} from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import {
  AWS_RESOURCE_KINDS,
  AwsAuditor,
  MotoMskWithActivation,
  activitiesWithMskDouble,
  assertOneOfEachWired,
  assertPlanCreates,
  awsProvisionInput,
  emptyAudit,
  secureBrokers,
  type AwsAudit,
} from '../helpers/aws-target';
import {
  saveHistory,
  startProvisionStack,
  tearDownPipelines,
  type ProvisionStack,
} from '../helpers/provision-stack';
import { workflowBundle, withTestWorker } from '../helpers/temporal';

/**
 * The aws target against moto (EC2, IAM, Secrets Manager, API Gateway, MSK), S3 on the local
 * S3 server, topics on the local broker's TLS + SCRAM listener. moto keeps MSK clusters CREATING
 * and has no GetBootstrapBrokers: those two calls alone go through MotoMskWithActivation.
 * Every count is taken with plain SDK calls (AwsAuditor), not through pinpipe's adapters.
 */
describe('provisionPipeline, aws target (moto; MSK activation and bootstrap servers by a double)', function () {
  this.timeout(300_000);
  let provisioning: ProvisionStack | undefined;
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let auditor: AwsAuditor;

  before(async () => {
    provisioning = await startProvisionStack();
    ({ env, adapters } = provisioning);
    auditor = new AwsAuditor();
  });

  after(async () => {
    if (provisioning) {
      const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 1);
      await tearDownPipelines(env, activitiesWith(msk), provisioning.pipelines);
    }
    auditor?.destroy();
    await provisioning?.close();
  });

  const activitiesWith = (
    msk: MotoMskWithActivation,
    overrides: { iam?: IamPort; profileWaitMs?: number } = {},
  ) => activitiesWithMskDouble(adapters, provisioning!.control, msk, overrides);
  const newPipeline = () => provisioning!.newPipeline();
  const input = (pipelineId: string, extra: Partial<ProvisionInput> = {}) =>
    awsProvisionInput(pipelineId, provisioning!.apiUrl, extra);

  async function provision(
    taskQueue: string,
    pi: ProvisionInput,
    saveAs?: string,
  ): Promise<ProvisionResult> {
    const workflowId = `provision-${pi.pipelineId}-${Date.now()}`;
    const result = await env.client.workflow.execute(provisionPipeline, {
      taskQueue,
      workflowId,
      args: [pi],
    });
    if (saveAs) await saveHistory(env.client, workflowId, saveAs);
    return result;
  }

  /** Exactly one of each aws resource, wired to each other, the host in one group. */
  const assertOneOfEach = (a: AwsAudit, pipelineId: string) =>
    assertOneOfEachWired(a, pipelineId, { oneGroup: true });

  it('creates every resource once, a rerun changes nothing, teardown leaves nothing tagged', async () => {
    const pipelineId = newPipeline();
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 3);
    await withTestWorker(env, activitiesWith(msk), async (taskQueue) => {
      const first = await provision(taskQueue, input(pipelineId), 'provision-pipeline-aws');
      assert.equal(first.status, 'completed');
      for (const step of first.steps)
        if (AWS_ONLY_STEPS.has(step.step)) assert.equal(step.status, 'done', step.step);
      const cluster = first.steps.find((s) => s.step === 'kafka-cluster')!;
      assert.match(cluster.summary ?? '', /ACTIVE.*brokers 127\.0\.0\.1:/);
      assert.ok(msk.looks >= 3, 'the workflow looked at the cluster until it was ACTIVE');
      const endpoint = first.steps.find((s) => s.step === 'endpoint')!;
      assert.match(endpoint.summary ?? '', /cannot be reached from this worker, checked directly/);
      const gateway = first.resources.find((r) => r.kind === 'rest-api')!;
      assert.match(
        gateway.detail ?? '',
        /^https:\/\/[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com\/v1 → http:\/\//,
      );

      const audit = await auditor.audit(pipelineId);
      assertOneOfEach(audit, pipelineId);
      // Topics were made on the cluster's brokers (the TLS + SCRAM listener of the same broker).
      for (const t of TABLES)
        assert.equal(await adapters.kafka.partitionCount(topicFor(pipelineId, t)), 3);

      // The inventory owns every aws resource (the cluster too: pinpipe created it).
      const owned = new Set(first.inventory!.owned.map((e) => e.kind));
      for (const kind of AWS_RESOURCE_KINDS) assert.ok(owned.has(kind), `inventory owns a ${kind}`);

      // No secret in the user data; services as the unprivileged user; config readable by it only.
      const userData = await auditor.userData(audit.instances[0]!.id);
      const names = awsNames(pipelineId);
      const token = await auditor.secretValue(names.apiTokenSecret);
      const key = await auditor.secretValue(names.sshKeySecret);
      assert.ok(token && token.length >= 40, 'a generated token is in Secrets Manager');
      assert.match(key ?? '', /PRIVATE KEY/);
      assert.ok(!userData.includes(token), 'the token is not in the user data');
      assert.ok(
        !userData.includes(key!.split('\n')[1]!),
        'the private key is not in the user data',
      );
      assert.doesNotMatch(userData, /PINPIPE_API_TOKEN=[^%"]/);
      assert.match(userData, /^User=pinpipe$/m);
      assert.doesNotMatch(userData, /^User=root$/m);
      assert.match(userData, new RegExp(`-m 0400 /dev/stdin ${CONFIG_FILE}`));
      assert.match(userData, /KAFKA_SASL_MECHANISM=aws-msk-iam/);
      assert.match(userData, new RegExp(`--secret-id ${names.apiTokenSecret} `));
      // The record signing key: generated, read by the API and the worker at start, not carried.
      const signingKey = await auditor.secretValue(names.signingKeySecret);
      assert.match(signingKey ?? '', /^[0-9a-f]{64}$/);
      assert.ok(!userData.includes(signingKey!), 'the signing key is not in the user data');
      assert.match(userData, new RegExp(`--secret-id ${names.signingKeySecret} `));

      const again = await provision(taskQueue, input(pipelineId));
      assert.equal(again.status, 'completed');
      const changed = again.resources.filter((r) => r.outcome !== 'exists');
      assert.deepEqual(changed, [], 'a second run is a no-op');
      assert.deepEqual(await auditor.audit(pipelineId), audit);

      const down = await env.client.workflow.execute(teardownPipeline, {
        taskQueue,
        workflowId: `teardown-${pipelineId}`,
        args: [{ pipelineId, deleteData: true }],
      });
      assert.ok(down);
      await saveHistory(env.client, `teardown-${pipelineId}`, 'teardown-pipeline-aws');
      assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
    });
  });

  it('plan mode lists every aws resource as create and creates none; then exists', async () => {
    const pipelineId = newPipeline();
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 1);
    await withTestWorker(env, activitiesWith(msk), async (taskQueue) => {
      const plan = await provision(taskQueue, input(pipelineId, { mode: 'plan' }));
      assert.equal(plan.status, 'planned');
      assertPlanCreates(plan, [...AWS_RESOURCE_KINDS, 'bucket', 'topic']);
      assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
      for (const step of AWS_ONLY_STEPS) {
        assert.ok(plan.steps.find((s) => s.step === step)?.status === 'done', step);
      }

      await provision(taskQueue, input(pipelineId));
      const after = await provision(taskQueue, input(pipelineId, { mode: 'plan' }));
      const notExisting = after.resources.filter(
        (r) => r.outcome !== 'exists' && r.kind !== 'endpoint',
      );
      assert.deepEqual(notExisting, []);
    });
  });

  it('waits for the cluster durably: state and elapsed time shown, a restarted worker makes no second cluster', async () => {
    const pipelineId = newPipeline();
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers());
    const workflowId = `provision-${pipelineId}-wait`;
    let taskQueue = '';
    await withTestWorker(env, activitiesWith(msk), async (tq) => {
      taskQueue = tq;
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId,
        args: [input(pipelineId)],
      });
      for (;;) {
        const p = await handle.query(progressQuery);
        const step = p.steps.find((s) => s.step === 'kafka-cluster')!;
        if (step.status === 'running' && /CREATING for \d+ min/.test(step.summary ?? '')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    });
    // The first worker is gone mid-wait; a new one on the same queue picks the timers up.
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: activitiesWith(msk),
    });
    await worker.runUntil(async () => {
      await new Promise((r) => setTimeout(r, 1_500));
      msk.activate();
      const handle = env.client.workflow.getHandle<typeof provisionPipeline>(workflowId);
      assert.equal((await handle.result()).status, 'completed');
    });
    await saveHistory(env.client, workflowId, 'provision-pipeline-aws-cluster-wait');
    assert.equal((await auditor.audit(pipelineId)).clusters.length, 1);
  });

  it('retries an instance profile IAM does not show yet', async () => {
    const pipelineId = newPipeline();
    let hidden = 3;
    const lagging: IamPort = Object.create(adapters.aws.iam) as IamPort;
    lagging.getInstanceProfile = async (name) => {
      const p = await adapters.aws.iam.getInstanceProfile(name);
      // Not visible for the first few looks after it exists (IAM's eventual consistency).
      if (p && hidden-- > 0) return undefined;
      return p;
    };
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 1);
    await withTestWorker(
      env,
      activitiesWith(msk, { iam: lagging, profileWaitMs: 300 }),
      async (tq) => {
        const result = await provision(
          tq,
          input(pipelineId, { aws: { kafka: { mode: 'brokers' } } }),
        );
        assert.equal(result.status, 'completed');
        const step = result.steps.find((s) => s.step === 'iam-role')!;
        assert.ok(step.attempt > 1, `attempts: ${step.attempt}`);
        assert.deepEqual((await auditor.audit(pipelineId)).instanceProfiles.length, 1);
      },
    );
  });

  it('parks a step that cannot succeed; retryStep with a correction completes it', async () => {
    const pipelineId = newPipeline();
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 1);
    await withTestWorker(env, activitiesWith(msk), async (taskQueue) => {
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${pipelineId}-park`,
        args: [
          input(pipelineId, {
            clientHost: { imageId: 'ami-12c6146b', subnetId: 'subnet-0000dead' },
          }),
        ],
      });
      await waitFor(
        async () => (await handle.query(progressQuery)).status === 'awaiting-correction',
      );
      const parked = await handle.query(progressQuery);
      assert.equal(parked.currentStep, 'security-group');
      assert.match(
        parked.steps.find((s) => s.step === 'security-group')!.error ?? '',
        /subnet-0000dead does not exist/,
      );
      const subnet = (
        await adapters.aws.network.subnetsOfVpc((await adapters.aws.network.defaultVpcId())!)
      )[0]!;
      await handle.executeUpdate(retryStepUpdate, {
        args: [{ step: 'security-group', settings: { clientHost: { subnetId: subnet.subnetId } } }],
      });
      const result = await handle.result();
      assert.equal(result.status, 'completed');
      assertOneOfEach(await auditor.audit(pipelineId), pipelineId);
    });
  });

  it('abort of a run parked at the cluster removes what it created, leaving nothing tagged', async () => {
    const pipelineId = newPipeline();
    const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), 1);
    await withTestWorker(env, activitiesWith(msk), async (taskQueue) => {
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${pipelineId}-abort`,
        args: [
          input(pipelineId, {
            aws: {
              kafka: {
                mode: 'adopt',
                clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/nothing-here/0000',
              },
            },
          }),
        ],
      });
      await waitFor(
        async () => (await handle.query(progressQuery)).status === 'awaiting-correction',
      );
      const parked = await handle.query(progressQuery);
      assert.equal(parked.currentStep, 'kafka-cluster');
      assert.ok((await auditor.audit(pipelineId)).securityGroups.length > 0, 'made before parking');
      await handle.executeUpdate(abortUpdate);
      assert.equal((await handle.result()).status, 'aborted');
      assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
    });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

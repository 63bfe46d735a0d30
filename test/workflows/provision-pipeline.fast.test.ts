/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AwsProvisionActivities } from '../../src/activities/aws-provision-activities';
import type { ProvisionActivities } from '../../src/activities/provision-activities';
import type { TeardownActivities } from '../../src/activities/teardown-activities';
import { awsNames } from '../../src/domain/aws-resources';
import type { ProvisionInput } from '../../src/domain/provision-input';
import {
  AWS_ONLY_STEPS,
  PROVISION_STEPS,
  type ProvisionStep,
  type ResourceRecord,
  type StepResult,
  type StepState,
} from '../../src/domain/provision-steps';
import { TABLES, bucketFor, topicFor } from '../../src/domain/tables';
import {
  abortUpdate,
  progressQuery,
  provisionPipeline,
  retryStepUpdate,
  type ProvisionProgress,
  type ProvisionResult,
  type ProvisionStatus,
} from '../../src/workflows/provision-pipeline';
import { useTimeSkippingEnv, withMockedWorker } from '../helpers/time-skipping';

type Activities = ProvisionActivities & AwsProvisionActivities & TeardownActivities;
type Name = keyof Activities;

interface Call {
  name: Name;
  input: Record<string, unknown>;
}

const CLUSTER_ARN = 'arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe-test/0f1e2d3c-4b5a';
const MSK_BROKERS = 'b-1.msk.example:9098,b-2.msk.example:9098';
const INVOKE_URL = 'https://abc123.execute-api.us-east-1.amazonaws.com/v1';
const PUBLIC_IP = '203.0.113.7';

const created = (kind: ResourceRecord['kind'], id: string): ResourceRecord => ({
  kind,
  id,
  outcome: 'created',
  deleteHow: `delete ${kind} ${id}`,
});
const result = (resources: ResourceRecord[], outputs?: Record<string, string>): StepResult => ({
  resources,
  summary: resources.map((r) => `${r.kind} ${r.id} ${r.outcome}`).join('; ') || 'looked',
  ...(outputs ? { outputs } : {}),
});

/**
 * Every activity provisionPipeline calls, as plain functions that record their input and return
 * what the real ones would for a fresh pipeline; `over` replaces some of them.
 */
function mockActivities(over: Partial<Activities> = {}): { calls: Call[]; activities: Activities } {
  const calls: Call[] = [];
  const record = (name: Name, input: unknown) =>
    calls.push({ name, input: input as Record<string, unknown> });
  const base: Activities = {
    async validateTarget(input) {
      return { resources: [], summary: `${input.target} target answers` };
    },
    async ensureBucket(input) {
      return result([created('bucket', input.bucket)]);
    },
    async ensureTopics(input) {
      return result(TABLES.map((t) => created('topic', topicFor(input.pipelineId, t))));
    },
    async ensureClientHost() {
      return result([created('instance', 'i-0123456789abcdef0')], {
        instanceId: 'i-0123456789abcdef0',
        publicIp: PUBLIC_IP,
      });
    },
    async checkEndpoint(input) {
      return result([{ kind: 'endpoint', id: input.url, outcome: 'exists' }]);
    },
    async ensureIngestion(input) {
      return result(TABLES.map((t) => created('workflow', `ingest-${input.pipelineId}-${t}`)));
    },
    async ensureSchedule(input) {
      return result([created('schedule', `nightly-${input.pipelineId}`)]);
    },
    async ensureSecurityGroups(input) {
      return result(
        [
          created('security-group', 'sg-0000000000000c1e0'),
          created('security-group', 'sg-00000000000000ca0'),
        ],
        {
          vpcId: 'vpc-0123',
          clientSecurityGroupId: 'sg-0000000000000c1e0',
          ...(input.kafkaGroup ? { kafkaSecurityGroupId: 'sg-00000000000000ca0' } : {}),
        },
      );
    },
    async ensureKafkaCluster() {
      return result([created('kafka-cluster', CLUSTER_ARN)], {
        clusterArn: CLUSTER_ARN,
        clusterState: 'ACTIVE',
      });
    },
    async describeKafkaCluster(input) {
      return { arn: input.arn, state: 'ACTIVE' };
    },
    async kafkaBootstrapBrokers() {
      return { brokers: MSK_BROKERS };
    },
    async ensureApiToken(input) {
      const name = awsNames(input.pipelineId).apiTokenSecret;
      return result([created('secret', name)], { apiTokenSecretArn: `arn:secret:${name}` });
    },
    async ensureKeyPair(input) {
      const name = awsNames(input.pipelineId).keyPair;
      return result([created('key-pair', name)], { keyName: name });
    },
    async ensureIamRole(input) {
      const names = awsNames(input.pipelineId);
      return result(
        [created('iam-role', names.role), created('instance-profile', names.instanceProfile)],
        { instanceProfile: names.instanceProfile },
      );
    },
    async ensureRestApi() {
      return result([created('rest-api', 'abc123')], {
        invokeUrl: INVOKE_URL,
        restApiId: 'abc123',
      });
    },
    async recordInventory(input) {
      return {
        resources: [],
        summary: 'recorded',
        ...('version' in input.inventory ? { inventory: input.inventory } : {}),
      };
    },
    async loadInventory() {
      return null;
    },
    async removeResource(input) {
      return { kind: input.kind, id: input.id, result: 'deleted' };
    },
    async sweepClientHosts() {
      return [];
    },
  };
  const activities = {} as Record<Name, (input: unknown) => Promise<unknown>>;
  for (const name of Object.keys(base) as Name[]) {
    const fn = (over[name] ?? base[name]) as (input: unknown) => Promise<unknown>;
    activities[name] = (input: unknown) => {
      record(name, input);
      return fn(input);
    };
  }
  return { calls, activities: activities as unknown as Activities };
}

const namesOf = (calls: Call[]) => calls.map((c) => c.name);
const stateOf = (p: ProvisionProgress, step: ProvisionStep): StepState =>
  p.steps.find((s) => s.step === step)!;
const newPipelineId = () => randomBytes(6).toString('hex');

/** The run's progress as the workflow answers it, from inside a running activity. */
function progressFromActivity(env: TestWorkflowEnvironment): Promise<ProvisionProgress> {
  const { workflowId } = Context.current().info.workflowExecution!;
  return env.client.workflow.getHandle(workflowId).query(progressQuery);
}

describe('provisionPipeline workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  /**
   * Starts a run and hands `fn` its handle. Time is not skipped while `fn` only queries: the test
   * server would skip a parked run straight to its timeout. `waitForStatus` moves the clock on
   * by steps, and awaiting `handle.result()` lets the server skip timers until the run ends.
   */
  function withRun<T>(
    activities: Activities,
    input: ProvisionInput,
    fn: (handle: WorkflowHandle<typeof provisionPipeline>) => Promise<T>,
  ): Promise<T> {
    return withMockedWorker(env(), activities, async (taskQueue) => {
      const handle = await env().client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${input.pipelineId}-${randomUUID()}`,
        args: [input],
      });
      return fn(handle);
    });
  }

  const run = (activities: Activities, input: ProvisionInput): Promise<ProvisionResult> =>
    withRun(activities, input, (handle) => handle.result());

  /** Queries until the run is `status`, moving the server's clock on `stepMs` between looks. */
  async function waitForStatus(
    handle: WorkflowHandle<typeof provisionPipeline>,
    status: ProvisionStatus,
    stepMs = 5_000,
  ): Promise<ProvisionProgress> {
    for (let look = 0; ; look++) {
      const p = await handle.query(progressQuery);
      if (p.status === status) return p;
      if (look === 200)
        throw new Error(`the run is ${p.status} at ${p.currentStep}, not ${status}`);
      await env().sleep(stepMs);
    }
  }

  /** The rejection of an update by its validator, with the validator's message. */
  const rejectedWith = (pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
    assert.match(String(err.cause?.message), pattern);
    return true;
  };

  it('local target: runs its steps in order, shows the aws-only ones as skipped and records the inventory', async () => {
    const pipelineId = newPipelineId();
    const { calls, activities } = mockActivities();
    const r = await run(activities, { pipelineId });

    assert.equal(r.status, 'completed');
    assert.equal(r.currentStep, undefined);
    assert.deepEqual(namesOf(calls), [
      'validateTarget',
      'ensureBucket',
      'ensureTopics',
      'ensureClientHost',
      'checkEndpoint',
      'ensureIngestion',
      'ensureSchedule',
      'recordInventory',
    ]);
    for (const step of PROVISION_STEPS) {
      const st = stateOf(r, step);
      if (AWS_ONLY_STEPS.has(step)) {
        assert.equal(st.status, 'skipped', step);
        assert.equal(st.summary, 'aws target only', step);
        assert.equal(st.attempt, 0, step);
      } else {
        assert.equal(st.status, 'done', step);
        assert.equal(st.attempt, 1, step);
      }
    }
    // The local endpoint is the ingest API's default port, whatever the host's public IP.
    assert.equal(calls.find((c) => c.name === 'checkEndpoint')!.input.url, 'http://127.0.0.1:8082');
    assert.equal(calls.find((c) => c.name === 'ensureBucket')!.input.bucket, bucketFor(pipelineId));
    assert.equal(calls.find((c) => c.name === 'validateTarget')!.input.checkKafka, undefined);
    // Everything the steps created (the endpoint is not deletable) is owned on record.
    assert.deepEqual(
      r.inventory?.owned.map((e) => e.kind),
      [
        'bucket',
        'topic',
        'topic',
        'topic',
        'instance',
        'workflow',
        'workflow',
        'workflow',
        'schedule',
      ],
    );
    assert.deepEqual(r.inventory?.adopted, []);
  });

  it('aws target: runs every step in order, each given what the earlier ones made', async () => {
    const pipelineId = newPipelineId();
    const { calls, activities } = mockActivities();
    const r = await run(activities, { pipelineId, target: 'aws' });

    assert.equal(r.status, 'completed');
    assert.deepEqual(namesOf(calls), [
      'validateTarget',
      'ensureBucket',
      'ensureSecurityGroups',
      'ensureKafkaCluster',
      'kafkaBootstrapBrokers',
      'ensureTopics',
      'ensureApiToken',
      'ensureKeyPair',
      'ensureIamRole',
      'ensureClientHost',
      'ensureRestApi',
      'checkEndpoint',
      'ensureIngestion',
      'ensureSchedule',
      'recordInventory',
    ]);
    assert.ok(
      r.steps.every((s) => s.status === 'done'),
      'no step skipped on aws',
    );
    const input = (name: Name) => calls.find((c) => c.name === name)!.input;
    // MSK does not exist yet when validating: its topics are looked at on the cluster later.
    assert.equal(input('validateTarget').checkKafka, false);
    assert.equal(input('ensureSecurityGroups').kafkaGroup, true);
    assert.equal(input('ensureKafkaCluster').securityGroupId, 'sg-00000000000000ca0');
    assert.equal(input('ensureTopics').brokers, MSK_BROKERS);
    assert.equal(input('ensureIamRole').clusterArn, CLUSTER_ARN);
    assert.deepEqual(input('ensureIamRole').secretArns, [
      `arn:secret:${awsNames(pipelineId).apiTokenSecret}`,
    ]);
    const host = input('ensureClientHost');
    assert.deepEqual(host.securityGroupIds, ['sg-0000000000000c1e0']);
    assert.equal(host.keyName, awsNames(pipelineId).keyPair);
    assert.equal(host.instanceProfile, awsNames(pipelineId).instanceProfile);
    assert.equal(input('ensureRestApi').targetBaseUrl, `http://${PUBLIC_IP}:8082`);
    // The stage URL is checked, the host's own API being the fallback.
    assert.equal(input('checkEndpoint').url, INVOKE_URL);
    assert.equal(input('checkEndpoint').fallbackUrl, `http://${PUBLIC_IP}:8082`);
    assert.equal(r.inventory?.kafkaBrokers, MSK_BROKERS);
  });

  it('retries a step that fails retryably, counting the attempts, until it succeeds', async () => {
    const seen: StepState[] = [];
    let calls = 0;
    const { activities } = mockActivities({
      async ensureBucket(input) {
        seen.push(stateOf(await progressFromActivity(env()), 'bucket'));
        if (++calls < 3) throw new Error(`S3 unavailable (${calls})`);
        return result([created('bucket', input.bucket)]);
      },
    });
    const r = await run(activities, { pipelineId: newPipelineId(), maxAttemptsPerStep: 4 });

    assert.equal(r.status, 'completed');
    assert.equal(calls, 3);
    // While it runs, the step shows its attempt out of the maximum, and the last error.
    assert.deepEqual(
      seen.map((s) => [s.status, s.attempt, s.maxAttempts, s.error]),
      [
        ['running', 1, 4, undefined],
        ['running', 2, 4, 'S3 unavailable (1)'],
        ['running', 3, 4, 'S3 unavailable (2)'],
      ],
    );
    const bucket = stateOf(r, 'bucket');
    assert.equal(bucket.status, 'done');
    assert.equal(bucket.attempt, 3);
    assert.equal(bucket.error, undefined, 'the error goes once the step succeeds');
  });

  it('parks a step that runs out of attempts; retryStep with settings continues with them', async () => {
    const partitionsSeen: unknown[] = [];
    const { calls, activities } = mockActivities({
      async ensureTopics(input) {
        partitionsSeen.push(input.partitions);
        if (input.partitions !== 6) throw new Error('the broker wants 6 partitions');
        return result(TABLES.map((t) => created('topic', topicFor(input.pipelineId, t))));
      },
    });
    const pipelineId = newPipelineId();
    const r = await withRun(activities, { pipelineId, maxAttemptsPerStep: 3 }, async (handle) => {
      const parked = await waitForStatus(handle, 'awaiting-correction');
      assert.equal(parked.currentStep, 'topics');
      const topics = stateOf(parked, 'topics');
      assert.equal(topics.status, 'awaiting-correction');
      assert.equal(topics.attempt, 3);
      assert.equal(topics.maxAttempts, 3);
      assert.equal(topics.error, 'the broker wants 6 partitions');
      // Exactly maxAttemptsPerStep attempts, then nothing more until a person decides.
      assert.deepEqual(partitionsSeen, [3, 3, 3]);
      assert.equal(namesOf(calls).at(-1), 'ensureTopics');

      await assert.rejects(
        handle.executeUpdate(retryStepUpdate, { args: [{ step: 'bucket' }] }),
        rejectedWith(/parked at topics, not bucket/),
      );
      await assert.rejects(
        handle.executeUpdate(retryStepUpdate, {
          args: [{ settings: { topics: { partitions: 0 } } }],
        }),
        rejectedWith(/invalid correction: topics\.partitions/),
      );
      const retried = await handle.executeUpdate(retryStepUpdate, {
        args: [{ step: 'topics', settings: { topics: { partitions: 6 } } }],
      });
      assert.deepEqual(retried, { step: 'topics' });
      return handle.result();
    });
    assert.equal(r.status, 'completed');
    assert.deepEqual(partitionsSeen, [3, 3, 3, 6]);
    const topics = stateOf(r, 'topics');
    assert.equal(topics.status, 'done');
    assert.equal(topics.attempt, 1, 'the attempts start again after a retry');
    // Later steps ran, after the corrected one.
    assert.equal(namesOf(calls).at(-1), 'recordInventory');
  });

  it('parks at once on a non-retryable failure; abort removes what the run created, newest first', async () => {
    const pipelineId = newPipelineId();
    const [pin, geo, user] = TABLES.map((t) => topicFor(pipelineId, t));
    const { calls, activities } = mockActivities({
      async ensureTopics() {
        // One topic was there before: adopted, so abort must leave it.
        return result([
          created('topic', pin!),
          { kind: 'topic', id: geo!, outcome: 'exists' },
          created('topic', user!),
        ]);
      },
      async ensureClientHost() {
        throw ApplicationFailure.nonRetryable(
          'no AMI in this region: set clientHost.imageId',
          'InvalidConfig',
        );
      },
      async removeResource(input) {
        if (input.kind === 'bucket') {
          return { kind: input.kind, id: input.id, result: 'refused', reason: 'not tagged for it' };
        }
        return { kind: input.kind, id: input.id, result: 'deleted' };
      },
    });
    const r = await withRun(activities, { pipelineId }, async (handle) => {
      const parked = await waitForStatus(handle, 'awaiting-correction');
      assert.equal(parked.currentStep, 'client-host');
      assert.equal(
        stateOf(parked, 'client-host').attempt,
        1,
        'no retry of a non-retryable failure',
      );
      assert.match(stateOf(parked, 'client-host').error ?? '', /no AMI in this region/);
      assert.equal(namesOf(calls).filter((n) => n === 'ensureClientHost').length, 1);
      const aborting = await handle.executeUpdate(abortUpdate);
      assert.deepEqual(aborting, { removing: 3 });
      return handle.result();
    });

    assert.equal(r.status, 'aborted');
    assert.equal(r.currentStep, undefined);
    const removals = calls.filter((c) => c.name === 'removeResource').map((c) => c.input);
    assert.deepEqual(
      removals.map((i) => [i.kind, i.id, i.pipelineId, i.deleteData]),
      [
        ['topic', user, pipelineId, true],
        ['topic', pin, pipelineId, true],
        ['bucket', bucketFor(pipelineId), pipelineId, true],
      ],
    );
    assert.equal(stateOf(r, 'client-host').status, 'failed');
    assert.equal(stateOf(r, 'topics').status, 'undone');
    // A refused removal leaves its step done, with the reason.
    assert.equal(stateOf(r, 'bucket').status, 'done');
    assert.equal(stateOf(r, 'bucket').error, 'not tagged for it');
    // Nothing after the parked step ran.
    assert.ok(!namesOf(calls).includes('checkEndpoint'));
    assert.ok(!namesOf(calls).includes('recordInventory'));
  });

  it('aws target: waits for the MSK cluster on durable timers, showing its state, until ACTIVE', async () => {
    const pipelineId = newPipelineId();
    const summaries: (string | undefined)[] = [];
    let looks = 0;
    const { calls, activities } = mockActivities({
      async ensureKafkaCluster() {
        return result([created('kafka-cluster', CLUSTER_ARN)], {
          clusterArn: CLUSTER_ARN,
          clusterState: 'CREATING',
        });
      },
      async describeKafkaCluster(input) {
        const p = await progressFromActivity(env());
        summaries.push(stateOf(p, 'kafka-cluster').summary);
        assert.equal(stateOf(p, 'kafka-cluster').status, 'running');
        return { arn: input.arn, state: ++looks <= 5 ? 'CREATING' : 'ACTIVE' };
      },
    });
    const started = Date.now();
    const r = await run(activities, { pipelineId, target: 'aws' });
    const tookMs = Date.now() - started;

    assert.equal(r.status, 'completed');
    assert.equal(looks, 6, 'five CREATING, then ACTIVE');
    // Each look came after a 30 s timer; the summary says how long it has been CREATING.
    assert.deepEqual(
      summaries,
      [0, 0, 1, 1, 2, 2].map((min) => `pinpipe-test CREATING for ${min} min (looked every 30 s)`),
    );
    const cluster = stateOf(r, 'kafka-cluster');
    assert.equal(cluster.status, 'done');
    assert.match(
      cluster.summary ?? '',
      new RegExp(`; ACTIVE after 3 min; brokers ${MSK_BROKERS}$`),
    );
    // Three minutes of timers took no such time: the test server skipped them.
    assert.ok(tookMs < 30_000, `took ${tookMs} ms`);
    // The bootstrap servers are read once ACTIVE, and the topics go there.
    const names = namesOf(calls);
    assert.equal(
      names.indexOf('kafkaBootstrapBrokers'),
      names.lastIndexOf('describeKafkaCluster') + 1,
    );
    assert.equal(calls.find((c) => c.name === 'ensureTopics')!.input.brokers, MSK_BROKERS);
  });

  it('parks the cluster step when the cluster stays CREATING past readyTimeoutMinutes', async () => {
    let looks = 0;
    const { activities } = mockActivities({
      async ensureKafkaCluster() {
        return result([created('kafka-cluster', CLUSTER_ARN)], {
          clusterArn: CLUSTER_ARN,
          clusterState: 'CREATING',
        });
      },
      async describeKafkaCluster(input) {
        looks++;
        return { arn: input.arn, state: 'CREATING' };
      },
    });
    const input: ProvisionInput = {
      pipelineId: newPipelineId(),
      target: 'aws',
      aws: { kafka: { pollSeconds: 60, readyTimeoutMinutes: 3 } },
    };
    await withRun(activities, input, async (handle) => {
      const parked = await waitForStatus(handle, 'awaiting-correction');
      assert.equal(parked.currentStep, 'kafka-cluster');
      const st = stateOf(parked, 'kafka-cluster');
      assert.equal(st.attempt, 1, 'a cluster that is not ready is not created again');
      assert.match(
        st.error ?? '',
        /still CREATING after 3 min \(aws\.kafka\.readyTimeoutMinutes 3\)/,
      );
      assert.equal(looks, 3);
      await handle.terminate('test done');
    });
  });
});

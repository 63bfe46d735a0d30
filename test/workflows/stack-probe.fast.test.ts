/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type {
  ProbeActivities,
  ProbeKafkaInput,
  ProbeObjectStoreInput,
} from '../../src/activities/probe-activities';
import { stackProbe, type StackProbeInput } from '../../src/workflows/stack-probe';
import { executeMocked, useTimeSkippingEnv } from '../helpers/time-skipping';

/** stackProbe with mocked activities: what it asks each service, and what it reports. */
describe('stackProbe workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  interface Calls {
    s3: ProbeObjectStoreInput[];
    kafka: ProbeKafkaInput[];
    ec2: number;
  }

  function mocks(over: Partial<ProbeActivities> = {}): {
    calls: Calls;
    activities: ProbeActivities;
  } {
    const calls: Calls = { s3: [], kafka: [], ec2: 0 };
    const activities: ProbeActivities = {
      async probeObjectStore(input) {
        calls.s3.push(input);
        return {
          bucket: input.bucket,
          key: input.key,
          bytes: Buffer.byteLength(input.body),
          created: true,
        };
      },
      async probeKafka(input) {
        calls.kafka.push(input);
        return { topic: input.topic, partition: 0, offset: 41 };
      },
      async probeEc2() {
        calls.ec2++;
        return { regions: 17 };
      },
      ...over,
    };
    return { calls, activities };
  }

  const run = (
    activities: ProbeActivities,
    input?: StackProbeInput,
    workflowId: string = randomUUID(),
  ) =>
    executeMocked(env(), activities, stackProbe, {
      workflowId,
      args: input === undefined ? [] : [input],
    });

  it('probes the default bucket and topic with one body naming the run, and reports each service', async () => {
    const { calls, activities } = mocks();
    const workflowId = `probe-${randomUUID()}`;
    const result = await run(activities, undefined, workflowId);

    assert.equal(calls.s3.length, 1);
    assert.equal(calls.kafka.length, 1);
    assert.equal(calls.ec2, 1);
    const [s3] = calls.s3;
    assert.equal(s3!.bucket, 'pinpipe-probe');
    assert.match(s3!.key, new RegExp(`^probe/${workflowId}/[0-9a-f-]{36}\\.txt$`));
    assert.match(s3!.body, new RegExp(`^probe ${workflowId} [0-9a-f-]{36}$`));
    assert.deepEqual(calls.kafka[0], { topic: 'pinpipe.probe', value: s3!.body });

    assert.deepEqual(result, {
      s3: { bucket: 'pinpipe-probe', key: s3!.key, bytes: Buffer.byteLength(s3!.body) },
      kafka: { topic: 'pinpipe.probe', partition: 0, offset: 41 },
      ec2: { regions: 17 },
    });
  });

  it('uses the bucket and topic it is given', async () => {
    const { calls, activities } = mocks();
    const result = await run(activities, { bucket: 'my-bucket', topic: 'my.topic' });
    assert.equal(calls.s3[0]!.bucket, 'my-bucket');
    assert.equal(calls.kafka[0]!.topic, 'my.topic');
    assert.equal(result.s3.bucket, 'my-bucket');
    assert.equal(result.kafka.topic, 'my.topic');
  });

  it('retries a transient EC2 failure (the backoff skipped) and then succeeds', async () => {
    let attempts = 0;
    const { activities } = mocks({
      async probeEc2() {
        attempts++;
        if (attempts < 3) throw new Error('throttled');
        return { regions: 3 };
      },
    });
    const result = await run(activities);
    assert.equal(attempts, 3);
    assert.deepEqual(result.ec2, { regions: 3 });
  });

  it('fails at once on a non-retryable mismatch, naming it', async () => {
    let attempts = 0;
    const { activities } = mocks({
      async probeKafka() {
        attempts++;
        throw ApplicationFailure.nonRetryable('read back nothing', 'ProbeMismatch');
      },
    });
    await assert.rejects(run(activities), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ActivityFailure);
      assert.ok(err.cause.cause instanceof ApplicationFailure);
      assert.equal(err.cause.cause.type, 'ProbeMismatch');
      assert.equal(err.cause.cause.message, 'read back nothing');
      return true;
    });
    assert.equal(attempts, 1);
  });
});

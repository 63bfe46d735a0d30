import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createProbeActivities, type ProbeActivities } from '../../src/activities/probe-activities';
import { stackProbe } from '../../src/workflows/stack-probe';
import { stackConfig, uniqueName } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

describe('stackProbe workflow', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
  });

  after(async () => {
    await adapters?.close();
    await env?.teardown();
  });

  const run = (activities: ProbeActivities, input: Parameters<typeof stackProbe>[0]) =>
    withTestWorker(env, activities, (taskQueue) =>
      env.client.workflow.execute(stackProbe, {
        taskQueue,
        workflowId: uniqueName('probe'),
        args: [input],
      }),
    );

  it('writes and reads S3, produces and reads Kafka, and describes EC2 on the real stack', async () => {
    const bucket = uniqueName('probe-test');
    const topic = uniqueName('probe-test');
    const result = await run(createProbeActivities(adapters), { bucket, topic });

    assert.equal(result.s3.bucket, bucket);
    const stored = await adapters.store.get({ bucket, key: result.s3.key });
    assert.match(Buffer.from(stored!).toString(), /^probe probe-/);
    assert.equal(result.s3.bytes, stored!.length);

    assert.equal(result.kafka.topic, topic);
    assert.equal(result.kafka.offset, 0, 'first record of a new topic');
    const marks = await adapters.kafka.watermarks(topic);
    assert.equal(marks[0]!.high, 1);

    assert.ok(result.ec2.regions > 0);
    await adapters.kafka.deleteTopics([topic]);
    await adapters.store.delete({ bucket, key: result.s3.key });
    await adapters.store.deleteBucket(bucket);
  });

  it('fails fast, without retries, when an activity reports a non-retryable mismatch', async () => {
    let ec2Calls = 0;
    const real = createProbeActivities(adapters);
    const activities: ProbeActivities = {
      ...real,
      probeEc2() {
        ec2Calls++;
        return Promise.reject(ApplicationFailure.nonRetryable('no regions', 'ProbeMismatch'));
      },
    };
    await assert.rejects(
      run(activities, { bucket: uniqueName('probe-test'), topic: uniqueName('probe-test') }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ActivityFailure);
        assert.ok(err.cause.cause instanceof ApplicationFailure);
        assert.equal(err.cause.cause.message, 'no regions');
        assert.equal(err.cause.cause.type, 'ProbeMismatch');
        return true;
      },
    );
    assert.equal(ec2Calls, 1);
  });

  it('retries a transient failure and then succeeds', async () => {
    let attempts = 0;
    const real = createProbeActivities(adapters);
    const activities: ProbeActivities = {
      ...real,
      async probeEc2() {
        attempts++;
        if (attempts < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:5000');
        return real.probeEc2();
      },
    };
    const result = await run(activities, {
      bucket: uniqueName('probe-test'),
      topic: uniqueName('probe-test'),
    });
    assert.equal(attempts, 3);
    assert.ok(result.ec2.regions > 0);
  });
});

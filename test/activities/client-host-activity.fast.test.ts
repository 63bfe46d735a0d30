import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  CLIENT_ROLE,
  createClientHostActivity,
  PIPELINE_TAG,
  ROLE_TAG,
  type EnsureClientHostInput,
} from '../../src/activities/client-host-activity';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { MemoryEc2 } from '../fakes/memory-ec2';

const PIPELINE = '0a1b2c3d4e5f';
const ours = { [PIPELINE_TAG]: PIPELINE, [ROLE_TAG]: CLIENT_ROLE };

const input = (overrides: Partial<EnsureClientHostInput> = {}): EnsureClientHostInput => ({
  pipelineId: PIPELINE,
  mode: 'apply',
  instanceType: 't3.small',
  userData: '#!/bin/bash\necho hi',
  readyTimeoutSeconds: 30,
  clientToken: 'run-1234',
  ...overrides,
});

function fixture() {
  const ec2 = new MemoryEc2();
  const activities = { ensureClientHost: createClientHostActivity(ec2) };
  return { ec2, activities };
}

describe('activities/client-host-activity (fast: in-memory EC2)', () => {
  it("launches one tagged host on the region's latest Amazon Linux, then finds it", async () => {
    const { ec2, activities } = fixture();
    ec2.images.push({
      imageId: 'ami-0newer000000000',
      name: 'al2023-ami-2023.7.20250301.0-kernel-6.1-x86_64',
      owner: 'amazon',
      created: '2025-03-01',
    });
    const first = await activityAttempt().run(
      activities,
      'ensureClientHost',
      input({
        subnetId: 'subnet-1',
        securityGroupIds: ['sg-1'],
        keyName: 'key',
        instanceProfile: 'profile',
      }),
    );
    assert.equal(first.resources[0]!.outcome, 'created');
    const [launched] = [...ec2.instances.values()];
    assert.equal(ec2.instances.size, 1);
    assert.equal(launched!.launch.imageId, 'ami-0newer000000000');
    assert.deepEqual(launched!.tags, { Name: `pinpipe-${PIPELINE}-client`, ...ours });
    assert.equal(launched!.launch.clientToken, 'run-1234');
    assert.equal(launched!.launch.instanceProfile, 'profile');
    assert.deepEqual(first.outputs, {
      instanceId: launched!.instanceId,
      publicIp: launched!.publicIp,
    });

    const second = await activityAttempt().run(activities, 'ensureClientHost', input());
    assert.equal(second.resources[0]!.outcome, 'exists');
    assert.equal(ec2.instances.size, 1, 'no second launch');
  });

  it('a retry adopts the host a dead attempt launched (EC2 may not dedupe the client token)', async () => {
    const { ec2, activities } = fixture();
    const orphan = ec2.addInstance(ours);
    const result = await activityAttempt({ attempt: 2 }).run(
      activities,
      'ensureClientHost',
      input(),
    );
    assert.equal(result.resources[0]!.id, orphan.instanceId);
    assert.equal(ec2.faults.count('runInstance'), 0);
  });

  it('keeps the oldest of two tagged hosts and terminates the other; ignores other roles', async () => {
    const { ec2, activities } = fixture();
    const oldest = ec2.addInstance(ours);
    const extra = ec2.addInstance(ours);
    const worker = ec2.addInstance({ [PIPELINE_TAG]: PIPELINE, [ROLE_TAG]: 'worker' });
    const result = await activityAttempt().run(activities, 'ensureClientHost', input());
    assert.equal(result.resources[0]!.id, oldest.instanceId);
    assert.equal(ec2.instances.get(extra.instanceId)!.state, 'terminated');
    assert.equal(ec2.instances.get(worker.instanceId)!.state, 'running');
  });

  it('starts a stopped host ("updated")', async () => {
    const { ec2, activities } = fixture();
    const stopped = ec2.addInstance(ours, 'stopped');
    const result = await activityAttempt().run(activities, 'ensureClientHost', input());
    assert.equal(result.resources[0]!.outcome, 'updated');
    assert.equal(ec2.instances.get(stopped.instanceId)!.state, 'running');
  });

  it('waits, heartbeating, until the host runs with passing status checks', async () => {
    const { ec2, activities } = fixture();
    ec2.bootLooks = 1;
    const attempt = activityAttempt();
    const result = await attempt.run(activities, 'ensureClientHost', input());
    assert.match(result.resources[0]!.detail!, /^running, status checks ok/);
    const states = attempt.heartbeats
      .map((h) => (h as { state?: string } | undefined)?.state)
      .filter(Boolean);
    assert.deepEqual(states, ['pending', 'running']);
  });

  it('fails the attempt (retryable) when the host is terminated while it waits', async () => {
    const { ec2, activities } = fixture();
    ec2.addInstance(ours, 'running');
    // Someone terminates it just as the wait looks at it.
    const original = ec2.describeInstance.bind(ec2);
    ec2.describeInstance = async (id) => {
      await ec2.terminateInstances([id]);
      return original(id);
    };
    await assert.rejects(
      activityAttempt().run(activities, 'ensureClientHost', input()),
      (e: Error) => !(e instanceof ApplicationFailure) && /is terminated/.test(e.message),
    );
  });

  it('refuses for good an AMI the region does not have, and a region without Amazon Linux', async () => {
    const { ec2, activities } = fixture();
    const missing = await failureOf(
      activityAttempt().run(activities, 'ensureClientHost', input({ imageId: 'ami-0nothere' })),
    );
    assert.equal(missing.type, 'InvalidConfig');
    assert.equal(missing.nonRetryable, true);
    ec2.images = [];
    const none = await failureOf(activityAttempt().run(activities, 'ensureClientHost', input()));
    assert.equal(none.type, 'InvalidConfig');
    assert.equal(ec2.instances.size, 0);
  });

  it('plan mode only looks: "create", or "differs" naming what is wrong', async () => {
    const { ec2, activities } = fixture();
    const none = await activityAttempt().run(
      activities,
      'ensureClientHost',
      input({ mode: 'plan' }),
    );
    assert.equal(none.resources[0]!.outcome, 'create');
    ec2.addInstance(ours, 'stopped');
    ec2.addInstance(ours);
    const differs = await activityAttempt().run(
      activities,
      'ensureClientHost',
      input({ mode: 'plan' }),
    );
    assert.equal(differs.resources[0]!.outcome, 'differs');
    assert.match(differs.resources[0]!.detail!, /is stopped; 1 extra instance/);
    assert.equal(ec2.faults.count('runInstance'), 0);
    assert.equal(ec2.faults.count('terminateInstances'), 0);
    assert.equal(ec2.faults.count('startInstances'), 0);
  });
});

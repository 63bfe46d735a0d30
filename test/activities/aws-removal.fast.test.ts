import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  createTeardownActivities,
  type RemoveResourceInput,
} from '../../src/activities/teardown-activities';
import { awsNames, awsTags } from '../../src/domain/aws-resources';
import { PIPELINE_TAG } from '../../src/domain/inventory';
import { activityAttempt } from '../fakes/activity-environment';
import { memoryAws } from '../fakes/memory-aws';
import { memoryPorts } from '../fakes/memory-ports';

/** The aws kinds' removal (aws-removal.ts), through the teardown activity that calls it. */

const PIPELINE = '0a1b2c3d4e5f';
const OTHER = 'ffffffffffff';
const NAMES = awsNames(PIPELINE);
const OURS = awsTags(PIPELINE, 'test');
const THEIRS = { [PIPELINE_TAG]: OTHER };
const VPC = 'vpc-0default0000000';

function fixture() {
  const aws = memoryAws();
  const teardown = createTeardownActivities({ ...memoryPorts(), aws });
  const remove = (input: Omit<RemoveResourceInput, 'pipelineId'>) =>
    activityAttempt().run(teardown, 'removeResource', { pipelineId: PIPELINE, ...input });
  return { aws, remove };
}

describe('activities/aws-removal (fast: in-memory aws ports, through removeResource)', () => {
  it('security groups: deleted when tagged, refused otherwise, absent when gone', async () => {
    const { aws, remove } = fixture();
    const group = (tags: Record<string, string>, name: string) =>
      aws.network.createSecurityGroup({ vpcId: VPC, groupName: name, description: '', tags });
    const ours = await group(OURS, 'a');
    const theirs = await group(THEIRS, 'b');
    const untagged = await group({}, 'c');
    assert.equal((await remove({ kind: 'security-group', id: ours })).result, 'deleted');
    assert.equal(aws.network.groups.has(ours), false);
    assert.equal((await remove({ kind: 'security-group', id: ours })).result, 'absent');
    for (const id of [theirs, untagged]) {
      const r = await remove({ kind: 'security-group', id });
      assert.equal(r.result, 'refused');
      assert.match(r.reason!, new RegExp(`security-group ${id} does not carry the tag`));
      assert.ok(aws.network.groups.has(id));
    }
  });

  it('a security group still in use fails the attempt (retryable) until its user is gone', async () => {
    const { aws, remove } = fixture();
    const id = await aws.network.createSecurityGroup({
      vpcId: VPC,
      groupName: 'a',
      description: '',
      tags: OURS,
    });
    aws.network.inUse.add(id);
    await assert.rejects(remove({ kind: 'security-group', id }), (e: Error) => {
      assert.ok(!(e instanceof ApplicationFailure), 'retryable');
      assert.match(e.message, /still in use .* retried/);
      assert.equal((e.cause as Error).name, 'DependencyViolation');
      return true;
    });
    aws.network.inUse.delete(id);
    assert.equal((await remove({ kind: 'security-group', id })).result, 'deleted');
  });

  it("the cluster's security group and the cluster go only with deleteData", async () => {
    const { aws, remove } = fixture();
    const group = await aws.network.createSecurityGroup({
      vpcId: VPC,
      groupName: NAMES.kafkaSecurityGroup,
      description: '',
      tags: OURS,
    });
    const cluster = aws.msk.add(NAMES.cluster, OURS);
    for (const [kind, id] of [
      ['kafka-security-group', group],
      ['kafka-cluster', cluster],
    ] as const) {
      const kept = await remove({ kind, id });
      assert.equal(kept.result, 'refused');
      assert.match(kept.reason!, /holds data/);
    }
    assert.equal(aws.msk.clusters.get(cluster)!.state, 'ACTIVE');
    assert.equal(
      (await remove({ kind: 'kafka-cluster', id: cluster, deleteData: true })).result,
      'deleted',
    );
    assert.equal(aws.msk.clusters.has(cluster), false, 'waited until MSK was done');
    assert.equal(
      (await remove({ kind: 'kafka-security-group', id: group, deleteData: true })).result,
      'deleted',
    );
  });

  it('a cluster already deleting is waited for, not deleted again; a foreign one is refused', async () => {
    const { aws, remove } = fixture();
    aws.msk.deleteLooks = 1;
    const deleting = aws.msk.add(NAMES.cluster, OURS, 'DELETING');
    assert.equal(
      (await remove({ kind: 'kafka-cluster', id: deleting, deleteData: true })).result,
      'deleted',
    );
    assert.equal(aws.msk.faults.count('deleteCluster'), 0);
    const theirs = aws.msk.add('theirs', THEIRS);
    assert.equal(
      (await remove({ kind: 'kafka-cluster', id: theirs, deleteData: true })).result,
      'refused',
    );
    assert.equal(aws.msk.clusters.get(theirs)!.state, 'ACTIVE');
    assert.equal(
      (
        await remove({
          kind: 'kafka-cluster',
          id: theirs.replace('theirs', 'gone'),
          deleteData: true,
        })
      ).result,
      'absent',
    );
  });

  it('secrets and key pairs: refused by name before they are even looked at, and by tag', async () => {
    const { aws, remove } = fixture();
    aws.secrets.add('their/secret', OURS, { value: 'v' });
    const byName = await remove({ kind: 'secret', id: 'their/secret' });
    assert.equal(byName.result, 'refused');
    assert.match(byName.reason!, /is not named pinpipe\/0a1b2c3d4e5f\/api-token or/);
    assert.equal(aws.secrets.faults.count('describeSecret'), 0);

    aws.secrets.add(NAMES.apiTokenSecret, THEIRS, { value: 'v' });
    assert.equal((await remove({ kind: 'secret', id: NAMES.apiTokenSecret })).result, 'refused');
    assert.ok(aws.secrets.secrets.has(NAMES.apiTokenSecret));
    aws.secrets.add(NAMES.sshKeySecret, OURS, { value: 'key' });
    assert.equal((await remove({ kind: 'secret', id: NAMES.sshKeySecret })).result, 'deleted');
    assert.equal((await remove({ kind: 'secret', id: NAMES.sshKeySecret })).result, 'absent');

    await aws.network.createKeyPair({ keyName: NAMES.keyPair, tags: OURS });
    assert.equal((await remove({ kind: 'key-pair', id: 'someone-else' })).result, 'refused');
    assert.equal((await remove({ kind: 'key-pair', id: NAMES.keyPair })).result, 'deleted');
    assert.equal(aws.network.keyPairs.size, 0);
    assert.equal((await remove({ kind: 'key-pair', id: NAMES.keyPair })).result, 'absent');
  });

  it('the role goes after leaving its profile and losing its inline policies; the profile after its roles', async () => {
    const { aws, remove } = fixture();
    await aws.iam.createRole({
      roleName: NAMES.role,
      trustPolicy: {},
      description: '',
      tags: OURS,
    });
    await aws.iam.putRolePolicy(NAMES.role, NAMES.policy, {});
    await aws.iam.putRolePolicy(NAMES.role, 'hand-made', {});
    await aws.iam.createInstanceProfile({ name: NAMES.instanceProfile, tags: OURS });
    await aws.iam.addRoleToInstanceProfile(NAMES.instanceProfile, NAMES.role);

    assert.equal((await remove({ kind: 'iam-role', id: NAMES.role })).result, 'deleted');
    assert.equal(aws.iam.roles.has(NAMES.role), false);
    assert.deepEqual(aws.iam.profiles.get(NAMES.instanceProfile)!.roleNames, []);
    assert.equal((await remove({ kind: 'iam-role', id: NAMES.role })).result, 'absent');

    await aws.iam.createRole({ roleName: 'other', trustPolicy: {}, description: '', tags: OURS });
    await aws.iam.addRoleToInstanceProfile(NAMES.instanceProfile, 'other');
    assert.equal(
      (await remove({ kind: 'instance-profile', id: NAMES.instanceProfile })).result,
      'deleted',
    );
    assert.equal(aws.iam.profiles.size, 0);
    assert.equal(
      (await remove({ kind: 'instance-profile', id: NAMES.instanceProfile })).result,
      'absent',
    );
  });

  it('a role or profile of the right name but another tag is refused', async () => {
    const { aws, remove } = fixture();
    await aws.iam.createRole({
      roleName: NAMES.role,
      trustPolicy: {},
      description: '',
      tags: THEIRS,
    });
    await aws.iam.createInstanceProfile({ name: NAMES.instanceProfile, tags: {} });
    assert.equal((await remove({ kind: 'iam-role', id: NAMES.role })).result, 'refused');
    assert.equal(
      (await remove({ kind: 'instance-profile', id: NAMES.instanceProfile })).result,
      'refused',
    );
    assert.ok(aws.iam.roles.has(NAMES.role));
    assert.ok(aws.iam.profiles.has(NAMES.instanceProfile));
  });

  it('REST APIs: deleted when tagged, refused otherwise, absent when gone', async () => {
    const { aws, remove } = fixture();
    const ours = await aws.apiGateway.createRestApi({
      name: NAMES.restApi,
      description: '',
      tags: OURS,
    });
    const theirs = await aws.apiGateway.createRestApi({
      name: NAMES.restApi,
      description: '',
      tags: THEIRS,
    });
    assert.equal((await remove({ kind: 'rest-api', id: theirs.id })).result, 'refused');
    assert.equal((await remove({ kind: 'rest-api', id: ours.id })).result, 'deleted');
    assert.equal((await remove({ kind: 'rest-api', id: ours.id })).result, 'absent');
    assert.deepEqual([...aws.apiGateway.apis.keys()], [theirs.id]);
  });
});

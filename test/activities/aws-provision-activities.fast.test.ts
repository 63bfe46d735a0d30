import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import {
  createAwsProvisionActivities,
  type EnsureKafkaClusterInput,
  type EnsureSecurityGroupsInput,
} from '../../src/activities/aws-provision-activities';
import {
  API_PORT,
  MSK_IAM_PORT,
  awsNames,
  awsTags,
  ec2TrustPolicy,
  invokeUrl,
  leastPrivilegePolicy,
} from '../../src/domain/aws-resources';
import { PIPELINE_TAG } from '../../src/domain/inventory';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { awsSnapshot, memoryAws, type MemoryAws } from '../fakes/memory-aws';

const PIPELINE = '0a1b2c3d4e5f';
const OTHER = 'ffffffffffff';
const NAMES = awsNames(PIPELINE);
const TAGS = awsTags(PIPELINE, 'test');
const VPC = 'vpc-0default0000000';

function fixture(profileWaitMs = 5_000) {
  const aws = memoryAws();
  const activities = createAwsProvisionActivities({ ...aws, profileWaitMs });
  return { aws, activities, snapshot: () => JSON.stringify(awsSnapshot(aws)) };
}

async function invalidConfig(p: Promise<unknown>, message: RegExp): Promise<void> {
  const failure = await failureOf(p);
  assert.equal(failure.type, 'InvalidConfig');
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, message);
}

const groupNamed = (aws: MemoryAws, name: string) =>
  [...aws.network.groups.values()].find((g) => g.groupName === name);
const rulesOf = (aws: MemoryAws, name: string) =>
  groupNamed(aws, name)!
    .ingress.map((r) => `${r.port}/${'cidr' in r ? r.cidr : r.sourceGroupId}`)
    .sort();

describe('activities/aws-provision-activities (fast: in-memory aws ports)', () => {
  describe('ensureSecurityGroups', () => {
    const input = (
      overrides: Partial<EnsureSecurityGroupsInput> = {},
    ): EnsureSecurityGroupsInput => ({
      pipelineId: PIPELINE,
      mode: 'apply',
      apiCidr: '198.51.100.0/24',
      sshCidr: '203.0.113.9/32',
      kafkaGroup: true,
      ...overrides,
    });

    it('creates the client and cluster groups with exactly their rules, tagged; a rerun finds them', async () => {
      const { aws, activities, snapshot } = fixture();
      const first = await activityAttempt().run(activities, 'ensureSecurityGroups', input());
      assert.deepEqual(
        first.resources.map((r) => [r.kind, r.outcome, r.ownedByTag]),
        [
          ['security-group', 'created', true],
          ['kafka-security-group', 'created', true],
        ],
      );
      assert.deepEqual(rulesOf(aws, NAMES.clientSecurityGroup), [
        `22/203.0.113.9/32`,
        `${API_PORT}/198.51.100.0/24`,
      ]);
      assert.deepEqual(rulesOf(aws, NAMES.kafkaSecurityGroup), [`${MSK_IAM_PORT}/172.31.0.0/16`]);
      const client = groupNamed(aws, NAMES.clientSecurityGroup)!;
      assert.equal(client.tags[PIPELINE_TAG], PIPELINE);
      assert.deepEqual(first.outputs, {
        vpcId: VPC,
        clientSecurityGroupId: client.groupId,
        kafkaSecurityGroupId: groupNamed(aws, NAMES.kafkaSecurityGroup)!.groupId,
      });

      const before = snapshot();
      const second = await activityAttempt().run(activities, 'ensureSecurityGroups', input());
      assert.deepEqual(
        second.resources.map((r) => r.outcome),
        ['exists', 'exists'],
      );
      assert.equal(snapshot(), before);
    });

    it('brings the rules in line: adds the missing, revokes the extra, leaves (and names) other rules', async () => {
      const { aws, activities } = fixture();
      await activityAttempt().run(activities, 'ensureSecurityGroups', input());
      const client = groupNamed(aws, NAMES.clientSecurityGroup)!;
      await aws.network.authorizeIngress(client.groupId, [
        { protocol: 'tcp', port: 3389, cidr: '0.0.0.0/0' },
      ]);
      client.otherIngress.push('all traffic from 10.0.0.0/8');

      const plan = await activityAttempt().run(
        activities,
        'ensureSecurityGroups',
        input({ mode: 'plan', sshCidr: undefined, kafkaGroup: false }),
      );
      assert.equal(plan.resources[0]!.outcome, 'differs');
      assert.equal(
        plan.resources[0]!.detail,
        'extra tcp/22/203.0.113.9/32; extra tcp/3389/0.0.0.0/0; extra all traffic from 10.0.0.0/8',
      );
      assert.equal(rulesOf(aws, NAMES.clientSecurityGroup).length, 3, 'plan changed nothing');

      const applied = await activityAttempt().run(
        activities,
        'ensureSecurityGroups',
        input({ sshCidr: undefined, apiCidr: '192.0.2.0/24', kafkaGroup: false }),
      );
      assert.equal(applied.resources[0]!.outcome, 'updated');
      assert.deepEqual(rulesOf(aws, NAMES.clientSecurityGroup), [`${API_PORT}/192.0.2.0/24`]);
      assert.match(
        applied.resources[0]!.detail!,
        /other rules left: all traffic from 10\.0\.0\.0\/8/,
      );
    });

    it('refuses for good a group of its name not tagged for the pipeline, and changes nothing', async () => {
      const { aws, activities } = fixture();
      const foreign = await aws.network.createSecurityGroup({
        vpcId: VPC,
        groupName: NAMES.clientSecurityGroup,
        description: 'by hand',
        tags: { [PIPELINE_TAG]: OTHER },
      });
      await invalidConfig(
        activityAttempt().run(activities, 'ensureSecurityGroups', input()),
        new RegExp(`${foreign} .* not tagged for pipeline ${PIPELINE}`),
      );
      assert.deepEqual(aws.network.groups.get(foreign)!.ingress, []);
    });

    it('refuses for good an unknown subnet, and a region without a default VPC', async () => {
      const { aws, activities } = fixture();
      await invalidConfig(
        activityAttempt().run(
          activities,
          'ensureSecurityGroups',
          input({ subnetId: 'subnet-nope' }),
        ),
        /subnet subnet-nope does not exist/,
      );
      aws.network.defaultVpc = undefined;
      await invalidConfig(
        activityAttempt().run(activities, 'ensureSecurityGroups', input()),
        /no default VPC/,
      );
      assert.equal(aws.network.groups.size, 0);
    });

    it('plan mode reports groups to create and creates none', async () => {
      const { activities, snapshot } = fixture();
      const before = snapshot();
      const plan = await activityAttempt().run(
        activities,
        'ensureSecurityGroups',
        input({ mode: 'plan' }),
      );
      assert.deepEqual(
        plan.resources.map((r) => [r.id, r.outcome]),
        [
          [NAMES.clientSecurityGroup, 'create'],
          [NAMES.kafkaSecurityGroup, 'create'],
        ],
      );
      assert.equal(snapshot(), before);
    });
  });

  describe('ensureKafkaCluster', () => {
    const create = (overrides: Partial<EnsureKafkaClusterInput> = {}): EnsureKafkaClusterInput => ({
      pipelineId: PIPELINE,
      mode: 'apply',
      kafka: {
        mode: 'create',
        kafkaVersion: '3.6.0',
        brokerCount: 2,
        instanceType: 'kafka.t3.small',
        volumeGiB: 10,
      },
      securityGroupId: 'sg-0kafka',
      vpcId: VPC,
      ...overrides,
    });

    const zoneCases: Array<[number, number | RegExp]> = [
      [2, 2],
      [4, 2],
      [3, 3],
      [6, 3],
      [5, /no default subnets in 2 zones for 5 brokers/],
    ];
    for (const [brokers, expected] of zoneCases) {
      it(`${brokers} brokers over six default zones: ${String(expected)} subnets (MSK takes two or three)`, async () => {
        const { aws, activities } = fixture();
        aws.network.subnets = ['a', 'b', 'c', 'd', 'e', 'f'].map((z, i) => ({
          subnetId: `subnet-0zone00000000${i}`,
          vpcId: VPC,
          availabilityZone: `us-east-1${z}`,
          defaultForAz: true,
        }));
        const input = create();
        if (input.kafka.mode === 'create') input.kafka.brokerCount = brokers;
        const attempt = activityAttempt().run(activities, 'ensureKafkaCluster', input);
        if (expected instanceof RegExp) {
          await invalidConfig(attempt, expected);
          return;
        }
        const r = await attempt;
        const arn = r.outputs!.clusterArn!;
        assert.equal(aws.msk.clusters.get(arn)!.input!.subnetIds.length, expected);
      });
    }

    it('creates the cluster in default subnets of distinct zones, then finds it and follows its state', async () => {
      const { aws, activities } = fixture();
      const first = await activityAttempt().run(activities, 'ensureKafkaCluster', create());
      assert.equal(first.resources[0]!.outcome, 'created');
      assert.equal(first.outputs!.clusterState, 'CREATING');
      const [cluster] = [...aws.msk.clusters.values()];
      assert.equal(cluster!.name, NAMES.cluster);
      assert.deepEqual(cluster!.input!.subnetIds, [
        'subnet-0default0000000',
        'subnet-0default0000001',
      ]);
      assert.deepEqual(cluster!.input!.securityGroupIds, ['sg-0kafka']);
      assert.equal(cluster!.tags[PIPELINE_TAG], PIPELINE);
      assert.equal(first.resources[0]!.ownedByTag, true);

      aws.msk.activate(cluster!.arn);
      const again = await activityAttempt().run(activities, 'ensureKafkaCluster', create());
      assert.equal(again.resources[0]!.outcome, 'exists');
      assert.equal(again.outputs!.clusterState, 'ACTIVE');
      assert.equal(aws.msk.clusters.size, 1, 'not created twice');
      assert.deepEqual(
        await activityAttempt().run(activities, 'describeKafkaCluster', { arn: cluster!.arn }),
        {
          arn: cluster!.arn,
          state: 'ACTIVE',
          creationTime: cluster!.creationTime,
        },
      );
    });

    it('refuses for good a cluster of its name not tagged for the pipeline; ignores one being deleted', async () => {
      const { aws, activities } = fixture();
      aws.msk.deleteLooks = 5;
      aws.msk.add(NAMES.cluster, awsTags(PIPELINE, 'kafka'), 'DELETING');
      const created = await activityAttempt().run(activities, 'ensureKafkaCluster', create());
      assert.equal(created.resources[0]!.outcome, 'created', 'a DELETING cluster is not adopted');

      const other = fixture();
      const foreign = other.aws.msk.add(NAMES.cluster, { [PIPELINE_TAG]: OTHER });
      await invalidConfig(
        activityAttempt().run(other.activities, 'ensureKafkaCluster', create()),
        new RegExp(`${foreign.replace(/[/]/g, '\\/')} is named ${NAMES.cluster} but not tagged`),
      );
      assert.equal(other.aws.msk.clusters.size, 1);
    });

    it('keeps the oldest of two tagged clusters of its name', async () => {
      const { aws, activities } = fixture();
      const oldest = aws.msk.add(NAMES.cluster, awsTags(PIPELINE, 'kafka'));
      aws.msk.add(NAMES.cluster, awsTags(PIPELINE, 'kafka'));
      const result = await activityAttempt().run(activities, 'ensureKafkaCluster', create());
      assert.equal(result.outputs!.clusterArn, oldest);
    });

    it('refuses for good broker counts the subnets cannot hold, and a VPC with one default zone', async () => {
      const { aws, activities } = fixture();
      await invalidConfig(
        activityAttempt().run(
          activities,
          'ensureKafkaCluster',
          create({
            kafka: {
              mode: 'create',
              kafkaVersion: '3.6.0',
              brokerCount: 3,
              instanceType: 'kafka.t3.small',
              volumeGiB: 10,
              subnetIds: ['subnet-a', 'subnet-b'],
            },
          }),
        ),
        /brokerCount 3 is not a multiple of the 2 subnets/,
      );
      aws.network.subnets = aws.network.subnets.slice(0, 1);
      await invalidConfig(
        activityAttempt().run(activities, 'ensureKafkaCluster', create()),
        /no default subnets in 2 zones for 2 brokers/,
      );
      assert.equal(aws.msk.clusters.size, 0);
    });

    it('plan mode creates nothing; apply without the security group step fails (retryable)', async () => {
      const { activities, snapshot } = fixture();
      const before = snapshot();
      const plan = await activityAttempt().run(
        activities,
        'ensureKafkaCluster',
        create({ mode: 'plan' }),
      );
      assert.equal(plan.resources[0]!.outcome, 'create');
      assert.equal(snapshot(), before);
      await assert.rejects(
        activityAttempt().run(
          activities,
          'ensureKafkaCluster',
          create({ securityGroupId: undefined }),
        ),
        (e: Error) => !(e instanceof ApplicationFailure) && /security-group step/.test(e.message),
      );
    });

    it('adopts a given cluster only if it exists and authenticates with IAM', async () => {
      const { aws, activities } = fixture();
      const adopt = (clusterArn: string) =>
        activityAttempt().run(activities, 'ensureKafkaCluster', {
          pipelineId: PIPELINE,
          mode: 'apply',
          kafka: { mode: 'adopt', clusterArn },
        });
      await invalidConfig(
        adopt('arn:aws:kafka:us-east-1:123456789012:cluster/x/y'),
        /no MSK cluster/,
      );
      const noIam = aws.msk.add('theirs-plain', {}, 'ACTIVE', false);
      await invalidConfig(adopt(noIam), /does not have IAM client authentication on/);
      const theirs = aws.msk.add('theirs', {});
      const adopted = await adopt(theirs);
      assert.equal(adopted.resources[0]!.outcome, 'exists');
      assert.equal(adopted.resources[0]!.ownedByTag, undefined, 'adopted, not owned');
      assert.deepEqual(aws.msk.clusters.get(theirs)!.tags, {}, 'not tagged by adopting');
    });

    it('describeKafkaCluster fails for good on a vanished cluster; bootstrap servers need IAM', async () => {
      const { aws, activities } = fixture();
      const gone = await failureOf(
        activityAttempt().run(activities, 'describeKafkaCluster', {
          arn: 'arn:aws:kafka:x:1:cluster/a/b',
        }),
      );
      assert.equal(gone.type, 'ClusterGone');
      assert.equal(gone.nonRetryable, true);
      const iam = aws.msk.add('a', TAGS);
      assert.match(
        (await activityAttempt().run(activities, 'kafkaBootstrapBrokers', { arn: iam })).brokers,
        /^b-1\..*:9098,b-2\..*:9098$/,
      );
      const plain = aws.msk.add('b', TAGS, 'ACTIVE', false);
      await invalidConfig(
        activityAttempt().run(activities, 'kafkaBootstrapBrokers', { arn: plain }),
        /no TLS \+ IAM bootstrap servers/,
      );
    });
  });

  describe('ensureApiToken', () => {
    it('stores a new random token, returns only its ARN, and keeps it on a rerun', async () => {
      const { aws, activities } = fixture();
      const first = await activityAttempt().run(activities, 'ensureApiToken', {
        pipelineId: PIPELINE,
        mode: 'apply',
      });
      const token = await aws.secrets.getSecretValue(NAMES.apiTokenSecret);
      assert.match(token!, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
      assert.ok(!JSON.stringify(first).includes(token!), 'the value never leaves the activity');
      assert.equal(first.resources[0]!.outcome, 'created');
      assert.equal(
        first.outputs!.apiTokenSecretArn,
        aws.secrets.secrets.get(NAMES.apiTokenSecret)!.arn,
      );

      const second = await activityAttempt().run(activities, 'ensureApiToken', {
        pipelineId: PIPELINE,
        mode: 'apply',
      });
      assert.equal(second.resources[0]!.outcome, 'exists');
      assert.equal(await aws.secrets.getSecretValue(NAMES.apiTokenSecret), token);
    });

    it('restores a secret scheduled for deletion and gives a valueless one a value ("updated")', async () => {
      const { aws, activities } = fixture();
      aws.secrets.add(NAMES.apiTokenSecret, TAGS, { deleted: true });
      const plan = await activityAttempt().run(activities, 'ensureApiToken', {
        pipelineId: PIPELINE,
        mode: 'plan',
      });
      assert.equal(plan.resources[0]!.outcome, 'differs');
      assert.equal(plan.resources[0]!.detail, 'scheduled for deletion');
      assert.equal(
        aws.secrets.secrets.get(NAMES.apiTokenSecret)!.deleted,
        true,
        'plan changed nothing',
      );

      const applied = await activityAttempt().run(activities, 'ensureApiToken', {
        pipelineId: PIPELINE,
        mode: 'apply',
      });
      assert.equal(applied.resources[0]!.outcome, 'updated');
      const s = aws.secrets.secrets.get(NAMES.apiTokenSecret)!;
      assert.equal(s.deleted, false);
      assert.equal(s.hasValue, true);
    });

    it('refuses for good a secret of its name not tagged for the pipeline', async () => {
      const { aws, activities } = fixture();
      aws.secrets.add(NAMES.apiTokenSecret, { [PIPELINE_TAG]: OTHER }, { value: 'theirs' });
      await invalidConfig(
        activityAttempt().run(activities, 'ensureApiToken', {
          pipelineId: PIPELINE,
          mode: 'apply',
        }),
        /not tagged for pipeline/,
      );
      assert.equal(await aws.secrets.getSecretValue(NAMES.apiTokenSecret), 'theirs');
    });
  });

  describe('ensureKeyPair', () => {
    const apply = { pipelineId: PIPELINE, mode: 'apply' as const };

    it('creates the pair and stores its private key; a rerun changes nothing', async () => {
      const { aws, activities, snapshot } = fixture();
      const first = await activityAttempt().run(activities, 'ensureKeyPair', apply);
      assert.deepEqual(
        first.resources.map((r) => [r.kind, r.outcome]),
        [
          ['key-pair', 'created'],
          ['secret', 'created'],
        ],
      );
      const pair = aws.network.keyPairs.get(NAMES.keyPair)!;
      assert.equal(await aws.secrets.getSecretValue(NAMES.sshKeySecret), pair.privateKey);
      assert.ok(!JSON.stringify(first).includes(pair.privateKey));
      assert.equal(first.outputs!.keyName, NAMES.keyPair);

      const before = snapshot();
      const second = await activityAttempt().run(activities, 'ensureKeyPair', apply);
      assert.deepEqual(
        second.resources.map((r) => r.outcome),
        ['exists', 'exists'],
      );
      assert.equal(snapshot(), before);
    });

    it('replaces a pair whose private key was never stored (EC2 shows a key only once)', async () => {
      const { aws, activities } = fixture();
      const lost = await aws.network.createKeyPair({ keyName: NAMES.keyPair, tags: TAGS });
      const plan = await activityAttempt().run(activities, 'ensureKeyPair', {
        ...apply,
        mode: 'plan',
      });
      assert.equal(plan.resources[0]!.outcome, 'differs');
      assert.match(plan.resources[0]!.detail!, /not in Secrets Manager/);
      assert.equal(aws.network.keyPairs.get(NAMES.keyPair)!.keyPairId, lost.info.keyPairId);

      const applied = await activityAttempt().run(activities, 'ensureKeyPair', apply);
      assert.deepEqual(
        applied.resources.map((r) => r.outcome),
        ['updated', 'created'],
      );
      const now = aws.network.keyPairs.get(NAMES.keyPair)!;
      assert.notEqual(now.keyPairId, lost.info.keyPairId, 'a new pair');
      assert.equal(await aws.secrets.getSecretValue(NAMES.sshKeySecret), now.privateKey);
    });

    it('replaces both when the stored key is gone (secret deleted or without value)', async () => {
      for (const found of [{ deleted: true, value: 'old' }, {}]) {
        const { aws, activities } = fixture();
        await aws.network.createKeyPair({ keyName: NAMES.keyPair, tags: TAGS });
        aws.secrets.add(NAMES.sshKeySecret, TAGS, found);
        const applied = await activityAttempt().run(activities, 'ensureKeyPair', apply);
        assert.deepEqual(
          applied.resources.map((r) => r.outcome),
          ['updated', 'updated'],
        );
        assert.equal(
          await aws.secrets.getSecretValue(NAMES.sshKeySecret),
          aws.network.keyPairs.get(NAMES.keyPair)!.privateKey,
        );
      }
    });

    it('refuses for good a pair of its name not tagged for the pipeline', async () => {
      const { aws, activities } = fixture();
      const theirs = await aws.network.createKeyPair({ keyName: NAMES.keyPair, tags: {} });
      await invalidConfig(
        activityAttempt().run(activities, 'ensureKeyPair', apply),
        /key pair .* not tagged for pipeline/,
      );
      assert.equal(aws.network.keyPairs.get(NAMES.keyPair)!.keyPairId, theirs.info.keyPairId);
    });
  });

  describe('ensureIamRole', () => {
    const input = {
      pipelineId: PIPELINE,
      mode: 'apply' as const,
      bucket: `user-${PIPELINE}-bucket`,
      clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe/abc',
      secretArns: ['arn:aws:secretsmanager:us-east-1:123456789012:secret:token'],
    };
    const policy = leastPrivilegePolicy(input);

    it('creates the role, its least-privilege policy and the profile, waiting for a lagging profile', async () => {
      const { aws, activities } = fixture();
      aws.iam.profileLagLooks = 1;
      const attempt = activityAttempt();
      const result = await attempt.run(activities, 'ensureIamRole', input);
      assert.deepEqual(
        result.resources.map((r) => [r.kind, r.outcome]),
        [
          ['iam-role', 'created'],
          ['instance-profile', 'created'],
        ],
      );
      assert.deepEqual(result.outputs, { instanceProfile: NAMES.instanceProfile });
      const role = aws.iam.roles.get(NAMES.role)!;
      assert.deepEqual(role.trustPolicy, ec2TrustPolicy());
      assert.deepEqual(role.policies.get(NAMES.policy), policy);
      assert.deepEqual(aws.iam.profiles.get(NAMES.instanceProfile)!.roleNames, [NAMES.role]);
      assert.deepEqual(
        attempt.heartbeats.filter((h) => h !== undefined),
        [{ look: 1 }, { look: 2 }],
        'looked again after the first look missed the role',
      );
    });

    it('a profile of ours holding another role gets the pipeline role instead (one role per profile)', async () => {
      const { aws, activities } = fixture();
      await activityAttempt().run(activities, 'ensureIamRole', input);
      const profile = aws.iam.profiles.get(NAMES.instanceProfile)!;
      profile.roleNames = ['someone-elses-role'];
      const again = await activityAttempt().run(activities, 'ensureIamRole', input);
      assert.equal(again.resources[1]!.outcome, 'updated');
      assert.deepEqual(aws.iam.profiles.get(NAMES.instanceProfile)!.roleNames, [NAMES.role]);
    });

    it('fails the attempt (retryable) when the profile still lacks its role after the wait', async () => {
      const { aws, activities } = fixture(0);
      aws.iam.profileLagLooks = 100;
      await assert.rejects(
        activityAttempt().run(activities, 'ensureIamRole', input),
        (e: Error) =>
          !(e instanceof ApplicationFailure) && /does not show role .* yet/.test(e.message),
      );
    });

    it('a rerun finds everything; a drifted policy or trust is put back ("updated"), other policies named', async () => {
      const { aws, activities, snapshot } = fixture();
      await activityAttempt().run(activities, 'ensureIamRole', input);
      const before = snapshot();
      const again = await activityAttempt().run(activities, 'ensureIamRole', input);
      assert.deepEqual(
        again.resources.map((r) => r.outcome),
        ['exists', 'exists'],
      );
      assert.equal(snapshot(), before);

      await aws.iam.putRolePolicy(NAMES.role, NAMES.policy, {
        Version: '2012-10-17',
        Statement: [],
      });
      await aws.iam.updateTrustPolicy(NAMES.role, { Statement: [] });
      await aws.iam.putRolePolicy(NAMES.role, 'hand-made', { Statement: [] });
      const plan = await activityAttempt().run(activities, 'ensureIamRole', {
        ...input,
        mode: 'plan',
      });
      assert.equal(plan.resources[0]!.outcome, 'differs');
      assert.equal(plan.resources[0]!.detail, 'trust policy differs; inline policy differs');
      const fixed = await activityAttempt().run(activities, 'ensureIamRole', input);
      assert.equal(fixed.resources[0]!.outcome, 'updated');
      assert.match(fixed.resources[0]!.detail!, /other inline policies on it: hand-made/);
      const role = aws.iam.roles.get(NAMES.role)!;
      assert.deepEqual(role.policies.get(NAMES.policy), policy);
      assert.deepEqual(role.trustPolicy, ec2TrustPolicy());
      assert.ok(role.policies.has('hand-made'), 'reported, not removed');
    });

    it('takes "already exists" from a create as the state wanted (IAM reads lag behind writes)', async () => {
      const { aws, activities } = fixture();
      await activityAttempt().run(activities, 'ensureIamRole', input);
      // The role and profile exist, but this attempt's reads do not see them yet.
      const getRole = aws.iam.getRole.bind(aws.iam);
      let hidden = 1;
      aws.iam.getRole = (name) => (hidden-- > 0 ? Promise.resolve(undefined) : getRole(name));
      const result = await activityAttempt().run(activities, 'ensureIamRole', input);
      assert.equal(result.resources[0]!.outcome, 'created');
      assert.equal(aws.iam.faults.count('createRole'), 2, 'tried, and was told it exists');
    });

    it('refuses for good a role or profile of its name not tagged for the pipeline', async () => {
      const { aws, activities } = fixture();
      await aws.iam.createRole({
        roleName: NAMES.role,
        trustPolicy: {},
        description: '',
        tags: {},
      });
      await invalidConfig(
        activityAttempt().run(activities, 'ensureIamRole', input),
        /IAM role .* not tagged/,
      );
      const other = fixture();
      await other.aws.iam.createInstanceProfile({
        name: NAMES.instanceProfile,
        tags: { [PIPELINE_TAG]: OTHER },
      });
      await invalidConfig(
        activityAttempt().run(other.activities, 'ensureIamRole', input),
        /instance profile .* not tagged/,
      );
      assert.equal(other.aws.iam.roles.size, 0);
    });
  });

  describe('ensureRestApi', () => {
    const input = {
      pipelineId: PIPELINE,
      mode: 'apply' as const,
      region: 'us-east-1',
      stage: 'v1',
      targetBaseUrl: 'http://203.0.113.7:8082',
    };

    it('creates the API, wires {proxy+} ANY to the host and deploys the stage; a rerun changes nothing', async () => {
      const { aws, activities, snapshot } = fixture();
      const first = await activityAttempt().run(activities, 'ensureRestApi', input);
      const [api] = [...aws.apiGateway.apis.values()];
      assert.equal(first.resources[0]!.outcome, 'created');
      assert.deepEqual(first.outputs, {
        invokeUrl: invokeUrl(api!.id, 'us-east-1', 'v1'),
        restApiId: api!.id,
      });
      assert.deepEqual(api!.wiring.integration, {
        type: 'HTTP_PROXY',
        uri: 'http://203.0.113.7:8082/{proxy}',
      });
      assert.equal(api!.tags[PIPELINE_TAG], PIPELINE);
      assert.equal(api!.deployments.length, 1);

      const before = snapshot();
      const again = await activityAttempt().run(activities, 'ensureRestApi', input);
      assert.equal(again.resources[0]!.outcome, 'exists');
      assert.equal(snapshot(), before, 'no new deployment');
    });

    it('rewires and redeploys when the host moved, and deploys a missing stage ("updated")', async () => {
      const { aws, activities } = fixture();
      await activityAttempt().run(activities, 'ensureRestApi', input);
      const [api] = [...aws.apiGateway.apis.values()];
      const plan = await activityAttempt().run(activities, 'ensureRestApi', {
        ...input,
        mode: 'plan',
        targetBaseUrl: 'http://198.51.100.4:8082',
      });
      assert.equal(plan.resources[0]!.outcome, 'differs');
      assert.equal(plan.resources[0]!.detail, 'proxy wiring differs');
      assert.equal(api!.deployments.length, 1, 'plan changed nothing');

      const moved = await activityAttempt().run(activities, 'ensureRestApi', {
        ...input,
        targetBaseUrl: 'http://198.51.100.4:8082',
      });
      assert.equal(moved.resources[0]!.outcome, 'updated');
      assert.equal(api!.wiring.integration!.uri, 'http://198.51.100.4:8082/{proxy}');
      assert.equal(api!.deployments.length, 2);

      api!.stages.clear();
      const redeployed = await activityAttempt().run(activities, 'ensureRestApi', {
        ...input,
        targetBaseUrl: 'http://198.51.100.4:8082',
      });
      assert.equal(redeployed.resources[0]!.outcome, 'updated');
      assert.ok(api!.stages.has('v1'));
    });

    it('keeps the oldest of two tagged APIs; refuses for good one of its name not tagged', async () => {
      const { aws, activities } = fixture();
      const oldest = await aws.apiGateway.createRestApi({
        name: NAMES.restApi,
        description: '',
        tags: TAGS,
      });
      await aws.apiGateway.createRestApi({ name: NAMES.restApi, description: '', tags: TAGS });
      const result = await activityAttempt().run(activities, 'ensureRestApi', input);
      assert.equal(result.outputs!.restApiId, oldest.id);

      const other = fixture();
      await other.aws.apiGateway.createRestApi({ name: NAMES.restApi, description: '', tags: {} });
      await invalidConfig(
        activityAttempt().run(other.activities, 'ensureRestApi', input),
        /is named .* but not tagged/,
      );
    });

    it('plan mode without a host yet says what it will create; apply without one fails (retryable)', async () => {
      const { activities, snapshot } = fixture();
      const before = snapshot();
      const plan = await activityAttempt().run(activities, 'ensureRestApi', {
        ...input,
        mode: 'plan',
        targetBaseUrl: undefined,
      });
      assert.equal(plan.resources[0]!.outcome, 'create');
      assert.equal(snapshot(), before);
      await assert.rejects(
        activityAttempt().run(activities, 'ensureRestApi', { ...input, targetBaseUrl: undefined }),
        (e: Error) => !(e instanceof ApplicationFailure) && /no public address/.test(e.message),
      );
    });
  });
});

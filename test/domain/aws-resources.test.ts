import assert from 'node:assert/strict';
import {
  appObjectUrl,
  awsNames,
  ec2TrustPolicy,
  invokeUrl,
  leastPrivilegePolicy,
  ownedBy,
  sameJson,
} from '../../src/domain/aws-resources';
import { refusalByName } from '../../src/domain/inventory';

interface Statement {
  Sid: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

const id = '0a1b2c3d4e5f';
const cluster = 'arn:aws:kafka:eu-west-1:123456789012:cluster/pinpipe-0a1b2c3d4e5f/uuid-1';
const secret =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinpipe/0a1b2c3d4e5f/api-token-AbC';

function statements(doc: unknown): Statement[] {
  return (doc as { Statement: Statement[] }).Statement;
}

describe('domain/aws-resources', () => {
  it('names every resource of a pipeline after its id', () => {
    assert.deepEqual(awsNames(id), {
      clientSecurityGroup: 'pinpipe-0a1b2c3d4e5f-client',
      kafkaSecurityGroup: 'pinpipe-0a1b2c3d4e5f-kafka',
      role: 'pinpipe-0a1b2c3d4e5f-client',
      instanceProfile: 'pinpipe-0a1b2c3d4e5f-client',
      policy: 'pinpipe-0a1b2c3d4e5f-least-privilege',
      keyPair: 'pinpipe-0a1b2c3d4e5f',
      sshKeySecret: 'pinpipe/0a1b2c3d4e5f/ssh-private-key',
      apiTokenSecret: 'pinpipe/0a1b2c3d4e5f/api-token',
      signingKeySecret: 'pinpipe/0a1b2c3d4e5f/signing-key',
      cluster: 'pinpipe-0a1b2c3d4e5f',
      restApi: 'pinpipe-0a1b2c3d4e5f',
      stage: 'v1',
      hostTaskQueue: 'pinpipe-0a1b2c3d4e5f-host',
    });
  });

  it('the role policy reaches only the pipeline bucket, topics, groups and secret', () => {
    const s = statements(
      leastPrivilegePolicy({
        pipelineId: id,
        bucket: 'b-1',
        clusterArn: cluster,
        secretArns: [secret],
      }),
    );
    const bySid = Object.fromEntries(s.map((x) => [x.Sid, x]));
    assert.deepEqual(Object.keys(bySid).sort(), [
      'Bucket',
      'Cluster',
      'Groups',
      'Objects',
      'Secrets',
      'Topics',
    ]);
    assert.equal(bySid.Bucket!.Resource, 'arn:aws:s3:::b-1');
    assert.equal(bySid.Objects!.Resource, 'arn:aws:s3:::b-1/*');
    assert.equal(bySid.Cluster!.Resource, cluster);
    assert.deepEqual(bySid.Topics!.Resource, [
      'arn:aws:kafka:eu-west-1:123456789012:topic/pinpipe-0a1b2c3d4e5f/uuid-1/0a1b2c3d4e5f.pin',
      'arn:aws:kafka:eu-west-1:123456789012:topic/pinpipe-0a1b2c3d4e5f/uuid-1/0a1b2c3d4e5f.geo',
      'arn:aws:kafka:eu-west-1:123456789012:topic/pinpipe-0a1b2c3d4e5f/uuid-1/0a1b2c3d4e5f.user',
    ]);
    assert.equal(
      bySid.Groups!.Resource,
      'arn:aws:kafka:eu-west-1:123456789012:group/pinpipe-0a1b2c3d4e5f/uuid-1/pinpipe-sink-0a1b2c3d4e5f.*',
    );
    assert.deepEqual(bySid.Secrets!.Resource, [secret]);
    for (const x of s) {
      assert.equal(x.Effect, 'Allow');
      const resources = ([] as string[]).concat(x.Resource);
      assert.ok(
        resources.every((r) => r !== '*'),
        `${x.Sid} names its resources`,
      );
      const actions = ([] as string[]).concat(x.Action);
      assert.ok(
        actions.every((a) => !a.endsWith(':*')),
        `${x.Sid} names its actions`,
      );
    }
  });

  it('without an MSK cluster or secrets the policy has no kafka-cluster or secret statements', () => {
    const s = statements(leastPrivilegePolicy({ pipelineId: id, bucket: 'b-1', secretArns: [] }));
    assert.deepEqual(
      s.map((x) => x.Sid),
      ['Bucket', 'Objects'],
    );
  });

  it('trust policy: only EC2 may assume the role', () => {
    assert.deepEqual(statements(ec2TrustPolicy()), [
      { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ]);
  });

  it('sameJson ignores key order, not array order or values', () => {
    assert.ok(sameJson({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }));
    assert.ok(!sameJson({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!sameJson({ a: '1' }, { a: 1 }));
  });

  it('ownership is the pipeline tag, exactly', () => {
    assert.ok(ownedBy({ 'pinpipe:pipeline': id }, id));
    assert.ok(!ownedBy({ 'pinpipe:pipeline': 'ffffffffffff' }, id));
    assert.ok(!ownedBy({ Name: `pinpipe-${id}-client` }, id));
  });

  it('invoke URL of a stage', () => {
    assert.equal(
      invokeUrl('abc123', 'us-east-1', 'v1'),
      'https://abc123.execute-api.us-east-1.amazonaws.com/v1',
    );
  });

  it('the application tarball the client host fetches by default is in the pipeline bucket', () => {
    assert.equal(
      appObjectUrl('user-0a1b2c3d4e5f-bucket'),
      's3://user-0a1b2c3d4e5f-bucket/_pinpipe/app/pinpipe.tgz',
    );
  });

  const names: Array<[Parameters<typeof refusalByName>[0], string, boolean]> = [
    ['iam-role', 'pinpipe-0a1b2c3d4e5f-client', true],
    ['iam-role', 'admin', false],
    ['instance-profile', 'pinpipe-0a1b2c3d4e5f-client', true],
    ['instance-profile', 'pinpipe-ffffffffffff-client', false],
    ['key-pair', 'pinpipe-0a1b2c3d4e5f', true],
    ['key-pair', 'my-key', false],
    ['secret', 'pinpipe/0a1b2c3d4e5f/api-token', true],
    ['secret', 'pinpipe/0a1b2c3d4e5f/ssh-private-key', true],
    ['secret', 'prod/db-password', false],
  ];
  for (const [kind, name, own] of names) {
    it(`teardown's name proof: ${kind} ${name} is ${own ? '' : 'not '}the pipeline's`, () => {
      assert.equal(refusalByName(kind, name, id) === undefined, own);
    });
  }
});

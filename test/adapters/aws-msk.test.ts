import assert from 'node:assert/strict';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
} from '@aws-sdk/client-ec2';
import { CreateClusterCommand, type CreateClusterV2CommandInput } from '@aws-sdk/client-kafka';
import { AwsMsk, createMskClient } from '../../src/adapters/aws-msk';
import { createEc2Client } from '../../src/adapters/ec2-client';
import type { CreateClusterInput } from '../../src/ports/msk';
import { stackConfig, uniqueName } from '../helpers/stack';

describe('AwsMsk against moto', () => {
  const aws = stackConfig().aws;
  const client = createMskClient(aws);
  const msk = new AwsMsk(client);
  const ec2 = createEc2Client(aws);
  const pipeline = uniqueName('msk-test');
  const created: string[] = [];

  // What the adapter sent: moto's CreateClusterV2 keeps neither ClientAuthentication nor
  // EncryptionInfo, so the request is the only place to see them.
  const sent: CreateClusterV2CommandInput[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CreateClusterV2Command') {
        sent.push(structuredClone(args.input as CreateClusterV2CommandInput));
      }
      return next(args);
    },
    { step: 'initialize', name: 'testRecordCreateClusterV2' },
  );

  // A real VPC, two subnets and a security group in moto's EC2 (moto's MSK does not check the
  // ids, AWS does).
  let vpcId = '';
  let subnetIds: string[] = [];
  let groupId = '';

  before(async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));
    vpcId = vpc.Vpc?.VpcId ?? '';
    subnetIds = await Promise.all(
      ['a', 'b'].map(async (az, i) => {
        const out = await ec2.send(
          new CreateSubnetCommand({
            VpcId: vpcId,
            CidrBlock: `10.42.${i}.0/24`,
            AvailabilityZone: `us-east-1${az}`,
          }),
        );
        return out.Subnet?.SubnetId ?? '';
      }),
    );
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: `${pipeline}-msk`,
        Description: 'msk adapter test',
      }),
    );
    groupId = sg.GroupId ?? '';
    assert.ok(vpcId && groupId && subnetIds.every(Boolean));
  });

  after(async () => {
    for (const arn of created) await msk.deleteCluster(arn);
    if (groupId) await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    for (const id of subnetIds) if (id) await ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
    if (vpcId) await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    client.destroy();
    ec2.destroy();
  });

  function input(name: string): CreateClusterInput {
    return {
      name,
      kafkaVersion: '3.6.0',
      brokerCount: 2,
      instanceType: 'kafka.t3.small',
      subnetIds,
      securityGroupIds: [groupId],
      volumeGiB: 100,
      tags: { PipelineId: pipeline, Name: name },
    };
  }

  async function create(name: string) {
    const cluster = await msk.createCluster(input(name));
    created.push(cluster.arn);
    return cluster;
  }

  it('creates a provisioned cluster (TLS in transit, IAM auth), finds it by exact name and describes it', async () => {
    const name = `${pipeline}-kafka`;
    assert.deepEqual(await msk.findClustersByName(name), []);

    const cluster = await create(name);
    assert.match(cluster.arn, /^arn:aws:kafka:us-east-1:\d+:cluster\//);
    assert.equal(cluster.name, name);
    assert.equal(cluster.state, 'CREATING');
    assert.deepEqual(cluster.tags, { PipelineId: pipeline, Name: name });

    const request = sent.find((s) => s.ClusterName === name);
    assert.deepEqual(request, {
      ClusterName: name,
      Tags: { PipelineId: pipeline, Name: name },
      Provisioned: {
        KafkaVersion: '3.6.0',
        NumberOfBrokerNodes: 2,
        BrokerNodeGroupInfo: {
          ClientSubnets: subnetIds,
          SecurityGroups: [groupId],
          InstanceType: 'kafka.t3.small',
          StorageInfo: { EbsStorageInfo: { VolumeSize: 100 } },
        },
        EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
        ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
      },
    });

    // ListClustersV2's ClusterNameFilter is a prefix: a cluster whose name extends this one is
    // listed by MSK (and moto) and must be left out.
    const longer = await create(`${name}-2`);

    const found = await msk.findClustersByName(name);
    assert.deepEqual(
      found.map((c) => c.arn),
      [cluster.arn],
    );
    assert.deepEqual(found[0]?.tags, { PipelineId: pipeline, Name: name });
    assert.deepEqual(
      (await msk.findClustersByName(`${name}-2`)).map((c) => c.arn),
      [longer.arn],
    );
    assert.deepEqual(await msk.findClustersByName(pipeline), []);

    const described = await msk.describeCluster(cluster.arn);
    assert.equal(described?.arn, cluster.arn);
    assert.equal(described?.name, name);
    // moto keeps every cluster CREATING; AWS goes on to ACTIVE in 15-40 minutes.
    assert.equal(described?.state, 'CREATING');
    assert.deepEqual(described?.tags, { PipelineId: pipeline, Name: name });
    // moto writes creationTime without an offset; the client adds the Z (see createMskClient).
    const age = Date.now() - Date.parse(described?.creationTime ?? '');
    assert.ok(Math.abs(age) < 10 * 60_000, `creationTime ${described?.creationTime} is not now`);
    // moto's CreateClusterV2 drops ClientAuthentication (AWS reports Sasl.Iam.Enabled: true); the
    // request above carried it, and the next test shows the mapping of a kept one.
    assert.equal(described?.iamAuth, false);
  });

  it('describeCluster reports IAM client authentication (a cluster moto keeps it for: CreateCluster v1)', async () => {
    const name = `${pipeline}-v1`;
    const out = await client.send(
      new CreateClusterCommand({
        ClusterName: name,
        KafkaVersion: '3.6.0',
        NumberOfBrokerNodes: 2,
        BrokerNodeGroupInfo: {
          ClientSubnets: subnetIds,
          SecurityGroups: [groupId],
          InstanceType: 'kafka.t3.small',
        },
        ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
        Tags: { PipelineId: pipeline },
      }),
    );
    assert.ok(out.ClusterArn);
    created.push(out.ClusterArn);
    const described = await msk.describeCluster(out.ClusterArn);
    assert.equal(described?.iamAuth, true);
    assert.deepEqual(described?.tags, { PipelineId: pipeline });
    assert.deepEqual(
      (await msk.findClustersByName(name)).map((c) => [c.arn, c.iamAuth]),
      [[out.ClusterArn, true]],
    );
  });

  it('bootstrapBrokers: moto has no GetBootstrapBrokers, so the adapter fails saying the call is not available', async () => {
    const cluster = await create(`${pipeline}-brokers`);
    await assert.rejects(
      msk.bootstrapBrokers(cluster.arn),
      (err: Error) =>
        err.constructor === Error &&
        /^GetBootstrapBrokers is not available at this endpoint: it answered HTTP 500/.test(
          err.message,
        ),
    );
  });

  it('deletes a cluster: describe and find no longer see it, deleting it again is not an error', async () => {
    const name = `${pipeline}-gone`;
    const cluster = await create(name);
    await msk.deleteCluster(cluster.arn);
    // AWS keeps a cluster DELETING for a while; moto removes it at once.
    const after = await msk.describeCluster(cluster.arn);
    assert.ok(after === undefined || after.state === 'DELETING', `state ${after?.state}`);
    if (after === undefined) assert.deepEqual(await msk.findClustersByName(name), []);
    await msk.deleteCluster(cluster.arn);
  });

  it('describeCluster and deleteCluster of an unknown ARN: undefined, and not an error', async () => {
    // moto answers both with an HTML 500 (AWS: NotFoundException); the adapter checks the list.
    const arn =
      'arn:aws:kafka:us-east-1:123456789012:cluster/pinpipe-none/00000000-0000-0000-0000-000000000000-1';
    assert.equal(await msk.describeCluster(arn), undefined);
    await msk.deleteCluster(arn);
  });
});

import assert from 'node:assert/strict';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { AwsNetwork } from '../../src/adapters/aws-network';
import { createEc2Client } from '../../src/adapters/ec2-client';
import type { IngressRule } from '../../src/ports/network';
import { stackConfig, uniqueName } from '../helpers/stack';

/** Sorted copies, so rule lists compare regardless of the order EC2 lists them in. */
function sorted<T>(items: T[]): T[] {
  return [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('AwsNetwork against moto', () => {
  const aws = stackConfig().aws;
  const client = createEc2Client(aws);
  const network = new AwsNetwork(client);
  const pipeline = uniqueName('network-test');
  const cleanup: Array<() => Promise<unknown>> = [];

  after(async () => {
    // Best effort, newest first: a failed test must not leave groups, keys or VPCs behind.
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    client.destroy();
  });

  describe('VPC and subnets', () => {
    it('finds the default VPC and its subnets, and describes a subnet', async () => {
      const vpcId = await network.defaultVpcId();
      assert.ok(vpcId);
      assert.match(vpcId, /^vpc-[0-9a-f]+$/);

      const subnets = await network.subnetsOfVpc(vpcId);
      assert.ok(subnets.length > 0, 'the default VPC has subnets');
      for (const s of subnets) {
        assert.match(s.subnetId, /^subnet-[0-9a-f]+$/);
        assert.equal(s.vpcId, vpcId);
        assert.match(s.availabilityZone, new RegExp(`^${aws.region}[a-z]$`));
        assert.equal(s.defaultForAz, true);
      }
      const first = subnets[0]!;
      assert.deepEqual(await network.describeSubnet(first.subnetId), first);
      assert.match((await network.vpcCidr(vpcId)) ?? '', /^\d+\.\d+\.\d+\.\d+\/\d+$/);
      assert.equal(await network.vpcCidr('vpc-0123456789abcdef0'), undefined);
    });

    it('lists only the subnets of the VPC asked about', async () => {
      const vpc = await client.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }));
      const vpcId = vpc.Vpc!.VpcId!;
      cleanup.push(() => client.send(new DeleteVpcCommand({ VpcId: vpcId })));
      assert.deepEqual(await network.subnetsOfVpc(vpcId), []);

      const created = await client.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: '10.77.1.0/24',
          AvailabilityZone: `${aws.region}a`,
        }),
      );
      const subnetId = created.Subnet!.SubnetId!;
      cleanup.push(() => client.send(new DeleteSubnetCommand({ SubnetId: subnetId })));

      const expected = {
        subnetId,
        vpcId,
        availabilityZone: `${aws.region}a`,
        defaultForAz: false,
      };
      assert.deepEqual(await network.subnetsOfVpc(vpcId), [expected]);
      assert.deepEqual(await network.describeSubnet(subnetId), expected);
      assert.notEqual(await network.defaultVpcId(), vpcId);
    });

    it('describeSubnet of an unknown id is undefined', async () => {
      assert.equal(await network.describeSubnet('subnet-0123456789abcdef0'), undefined);
    });
  });

  describe('security groups', () => {
    it('creates a group with its tags, finds it by VPC and name, manages rules, deletes it', async () => {
      const vpcId = (await network.defaultVpcId())!;
      const groupName = `pinpipe-${pipeline}`;
      const tags = { PipelineId: pipeline, Name: groupName, Empty: '' };

      assert.equal(await network.findSecurityGroup(vpcId, groupName), undefined);
      const groupId = await network.createSecurityGroup({
        vpcId,
        groupName,
        description: 'pinpipe client host',
        tags,
      });
      cleanup.push(() => network.deleteSecurityGroup(groupId));
      assert.match(groupId, /^sg-[0-9a-f]+$/);

      const created = await network.describeSecurityGroup(groupId);
      assert.deepEqual(created, {
        groupId,
        groupName,
        vpcId,
        description: 'pinpipe client host',
        tags,
        ingress: [],
        otherIngress: [],
      });
      assert.deepEqual(await network.findSecurityGroup(vpcId, groupName), created);

      // A second group to be the source of group rules.
      const sourceId = await network.createSecurityGroup({
        vpcId,
        groupName: `${groupName}-source`,
        description: 'pinpipe source',
        tags: {},
      });
      cleanup.push(() => network.deleteSecurityGroup(sourceId));
      assert.deepEqual((await network.describeSecurityGroup(sourceId))?.tags, {});

      const ssh: IngressRule = { protocol: 'tcp', port: 22, cidr: '203.0.113.7/32' };
      const api: IngressRule = { protocol: 'tcp', port: 8082, cidr: '10.0.0.0/8' };
      const fromGroup: IngressRule = { protocol: 'tcp', port: 9092, sourceGroupId: sourceId };
      await network.authorizeIngress(groupId, [ssh, fromGroup]);
      assert.deepEqual(
        sorted((await network.describeSecurityGroup(groupId))!.ingress),
        sorted([ssh, fromGroup]),
      );

      // Rules already present are skipped, and the new one between them is still added.
      await network.authorizeIngress(groupId, [ssh, api, fromGroup]);
      let group = (await network.describeSecurityGroup(groupId))!;
      assert.deepEqual(sorted(group.ingress), sorted([ssh, api, fromGroup]));
      assert.deepEqual(group.otherIngress, []);

      // Rules already absent are skipped, and the present ones after them are still removed.
      const absent: IngressRule = { protocol: 'tcp', port: 23, cidr: '203.0.113.7/32' };
      const absentGroup: IngressRule = { protocol: 'tcp', port: 22, sourceGroupId: sourceId };
      await network.revokeIngress(groupId, [absent, ssh, absentGroup, fromGroup]);
      group = (await network.describeSecurityGroup(groupId))!;
      assert.deepEqual(group.ingress, [api]);
      await network.revokeIngress(groupId, [ssh, fromGroup]);
      assert.deepEqual((await network.describeSecurityGroup(groupId))!.ingress, [api]);

      await network.deleteSecurityGroup(groupId);
      assert.equal(await network.describeSecurityGroup(groupId), undefined);
      assert.equal(await network.findSecurityGroup(vpcId, groupName), undefined);
      // Absent now: not an error.
      await network.deleteSecurityGroup(groupId);
      await network.deleteSecurityGroup(sourceId);
      assert.equal(await network.describeSecurityGroup(sourceId), undefined);
    });

    it('reports rules that are not single-port TCP in otherIngress', async () => {
      const vpcId = (await network.defaultVpcId())!;
      const groupId = await network.createSecurityGroup({
        vpcId,
        groupName: `pinpipe-${pipeline}-other`,
        description: 'other rules',
        tags: { PipelineId: pipeline },
      });
      cleanup.push(() => network.deleteSecurityGroup(groupId));
      await client.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
            {
              IpProtocol: 'tcp',
              FromPort: 8000,
              ToPort: 8100,
              IpRanges: [{ CidrIp: '10.0.0.0/8' }],
            },
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
            {
              IpProtocol: 'udp',
              FromPort: 53,
              ToPort: 53,
              UserIdGroupPairs: [{ GroupId: groupId }],
            },
            {
              IpProtocol: 'tcp',
              FromPort: 443,
              ToPort: 443,
              IpRanges: [{ CidrIp: '10.1.0.0/16' }],
            },
          ],
        }),
      );
      const group = (await network.describeSecurityGroup(groupId))!;
      assert.deepEqual(group.ingress, [{ protocol: 'tcp', port: 443, cidr: '10.1.0.0/16' }]);
      assert.deepEqual(
        sorted(group.otherIngress),
        sorted([
          'all traffic from 0.0.0.0/0',
          'tcp 8000-8100 from 10.0.0.0/8',
          'tcp 22 from ::/0',
          `udp 53 from security group ${groupId}`,
        ]),
      );
    });

    it('finds a group by name only in the VPC asked about', async () => {
      const defaultVpc = (await network.defaultVpcId())!;
      const vpc = await client.send(new CreateVpcCommand({ CidrBlock: '10.78.0.0/16' }));
      const otherVpc = vpc.Vpc!.VpcId!;
      cleanup.push(() => client.send(new DeleteVpcCommand({ VpcId: otherVpc })));
      const groupName = `pinpipe-${pipeline}-twin`;

      const inOther = await network.createSecurityGroup({
        vpcId: otherVpc,
        groupName,
        description: 'twin in another VPC',
        tags: {},
      });
      cleanup.push(() => network.deleteSecurityGroup(inOther));
      assert.equal(await network.findSecurityGroup(defaultVpc, groupName), undefined);

      const inDefault = await network.createSecurityGroup({
        vpcId: defaultVpc,
        groupName,
        description: 'twin in the default VPC',
        tags: {},
      });
      cleanup.push(() => network.deleteSecurityGroup(inDefault));
      assert.equal((await network.findSecurityGroup(defaultVpc, groupName))?.groupId, inDefault);
      assert.equal((await network.findSecurityGroup(otherVpc, groupName))?.groupId, inOther);
      // The name is matched exactly, not as a filter wildcard.
      assert.equal(
        await network.findSecurityGroup(defaultVpc, `pinpipe-${pipeline}-tw*`),
        undefined,
      );
    });

    it('describeSecurityGroup of an unknown id is undefined', async () => {
      assert.equal(await network.describeSecurityGroup('sg-0123456789abcdef0'), undefined);
      // The raw call really fails: undefined comes from the adapter, not from an empty answer.
      await assert.rejects(
        client.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0123456789abcdef0'] })),
        { name: 'InvalidGroup.NotFound' },
      );
    });

    it('deleteSecurityGroup passes on DependencyViolation', async () => {
      // moto 5.2.5 deletes a group that is still in use, so AWS's answer is injected here.
      const failing = new EC2Client({
        region: aws.region,
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      failing.middlewareStack.add(
        () => () =>
          Promise.reject(
            new EC2ServiceException({
              name: 'DependencyViolation',
              $fault: 'client',
              $metadata: { httpStatusCode: 400 },
              message: 'resource sg-0123456789abcdef0 has a dependent object',
            }),
          ),
        { step: 'initialize' },
      );
      try {
        await assert.rejects(new AwsNetwork(failing).deleteSecurityGroup('sg-0123456789abcdef0'), {
          name: 'DependencyViolation',
        });
      } finally {
        failing.destroy();
      }
    });
  });

  describe('key pairs', () => {
    it('creates an ED25519 key pair with tags, describes it, deletes it', async () => {
      const keyName = `pinpipe-${pipeline}`;
      const tags = { PipelineId: pipeline, Name: keyName };
      assert.equal(await network.describeKeyPair(keyName), undefined);

      const { info, privateKey } = await network.createKeyPair({ keyName, tags });
      cleanup.push(() => network.deleteKeyPair(keyName));
      assert.equal(info.keyName, keyName);
      assert.match(info.keyPairId, /^key-[0-9a-f]+$/);
      assert.ok(info.fingerprint);
      assert.deepEqual(info.tags, tags);

      // An unencrypted OpenSSH private key holding an ssh-ed25519 key.
      const pem =
        /^-----BEGIN OPENSSH PRIVATE KEY-----\n([A-Za-z0-9+/=\n]+)-----END OPENSSH PRIVATE KEY-----\n?$/.exec(
          privateKey,
        );
      assert.ok(pem, 'the private key is OpenSSH PEM text');
      const body = Buffer.from(pem[1]!.replace(/\n/g, ''), 'base64');
      assert.equal(body.subarray(0, 15).toString('latin1'), 'openssh-key-v1\0');
      assert.ok(body.includes('ssh-ed25519'), 'an ED25519 key');
      assert.ok(body.includes('none'), 'not encrypted');

      assert.deepEqual(await network.describeKeyPair(keyName), info);
      await assert.rejects(network.createKeyPair({ keyName, tags }), {
        name: 'InvalidKeyPair.Duplicate',
      });

      await network.deleteKeyPair(keyName);
      assert.equal(await network.describeKeyPair(keyName), undefined);
      // Absent now: not an error.
      await network.deleteKeyPair(keyName);
    });

    it('creates a key pair without tags', async () => {
      const keyName = `pinpipe-${pipeline}-untagged`;
      const { info, privateKey } = await network.createKeyPair({ keyName, tags: {} });
      cleanup.push(() => network.deleteKeyPair(keyName));
      assert.ok(privateKey.length > 0);
      assert.deepEqual(info.tags, {});
      assert.deepEqual((await network.describeKeyPair(keyName))?.tags, {});
      await network.deleteKeyPair(keyName);
    });
  });
});

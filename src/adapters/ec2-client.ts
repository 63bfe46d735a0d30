import {
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  EC2Client,
  RunInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import type { AwsConfig } from '../config';
import type { Ec2Port, InstanceInfo, RunInstanceInput } from '../ports/ec2';

export function createEc2Client(aws: AwsConfig): EC2Client {
  return new EC2Client({
    region: aws.region,
    ...(aws.ec2Endpoint ? { endpoint: aws.ec2Endpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 3,
  });
}

function toInfo(i: Instance): InstanceInfo {
  return {
    instanceId: i.InstanceId ?? '',
    state: i.State?.Name ?? 'unknown',
    ...(i.ImageId ? { imageId: i.ImageId } : {}),
    ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.LaunchTime ? { launchTime: i.LaunchTime.toISOString() } : {}),
    tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

export class AwsEc2 implements Ec2Port {
  constructor(private readonly ec2: EC2Client) {}

  async findInstancesByTag(key: string, value: string): Promise<InstanceInfo[]> {
    const found: InstanceInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.ec2.send(
        new DescribeInstancesCommand({
          Filters: [
            { Name: `tag:${key}`, Values: [value] },
            {
              Name: 'instance-state-name',
              Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'],
            },
          ],
          NextToken: token,
        }),
      );
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) found.push(toInfo(i));
      }
      token = page.NextToken;
    } while (token);
    return found;
  }

  async runInstance(input: RunInstanceInput): Promise<InstanceInfo> {
    const out = await this.ec2.send(
      new RunInstancesCommand({
        ImageId: input.imageId,
        InstanceType: input.instanceType as never,
        MinCount: 1,
        MaxCount: 1,
        ...(input.subnetId ? { SubnetId: input.subnetId } : {}),
        ...(input.securityGroupIds ? { SecurityGroupIds: input.securityGroupIds } : {}),
        ...(input.keyName ? { KeyName: input.keyName } : {}),
        ...(input.instanceProfile ? { IamInstanceProfile: { Name: input.instanceProfile } } : {}),
        ...(input.userData ? { UserData: Buffer.from(input.userData).toString('base64') } : {}),
        ...(input.clientToken ? { ClientToken: input.clientToken } : {}),
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      }),
    );
    const instance = out.Instances?.[0];
    if (!instance?.InstanceId) throw new Error('RunInstances returned no instance');
    return toInfo(instance);
  }

  async describeInstance(instanceId: string): Promise<InstanceInfo | undefined> {
    try {
      const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const instance = out.Reservations?.[0]?.Instances?.[0];
      return instance ? toInfo(instance) : undefined;
    } catch (err) {
      if ((err as { name?: string }).name === 'InvalidInstanceID.NotFound') return undefined;
      throw err;
    }
  }

  async terminateInstances(instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds }));
  }

  async startInstances(instanceIds: string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.ec2.send(new StartInstancesCommand({ InstanceIds: instanceIds }));
  }

  async statusChecksPassed(instanceId: string): Promise<boolean> {
    const out = await this.ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true }),
    );
    const s = out.InstanceStatuses?.[0];
    return (
      s?.InstanceState?.Name === 'running' &&
      s.InstanceStatus?.Status === 'ok' &&
      s.SystemStatus?.Status === 'ok'
    );
  }

  async describeImage(imageId: string): Promise<{ imageId: string; name?: string } | undefined> {
    try {
      const out = await this.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
      const image = out.Images?.[0];
      if (!image?.ImageId) return undefined;
      return { imageId: image.ImageId, ...(image.Name ? { name: image.Name } : {}) };
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (name.startsWith('InvalidAMIID')) return undefined;
      throw err;
    }
  }

  async latestImage(namePattern: string, owner: string): Promise<string | undefined> {
    const out = await this.ec2.send(
      new DescribeImagesCommand({
        Owners: [owner],
        Filters: [
          { Name: 'name', Values: [namePattern] },
          { Name: 'state', Values: ['available'] },
        ],
      }),
    );
    const newest = (out.Images ?? [])
      .filter((i) => i.ImageId)
      // Newest first; the name (which carries the release date) breaks ties.
      .sort((a, b) =>
        `${b.CreationDate ?? ''}|${b.Name ?? ''}`.localeCompare(
          `${a.CreationDate ?? ''}|${a.Name ?? ''}`,
        ),
      )[0];
    return newest?.ImageId;
  }

  async describeRegions(): Promise<string[]> {
    const out = await this.ec2.send(new DescribeRegionsCommand({}));
    return (out.Regions ?? []).map((r) => r.RegionName ?? '').filter(Boolean);
  }
}

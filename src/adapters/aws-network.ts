import {
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  paginateDescribeSecurityGroups,
  paginateDescribeSubnets,
  paginateDescribeVpcs,
  RevokeSecurityGroupIngressCommand,
  type EC2Client,
  type IpPermission,
  type KeyPairInfo as Ec2KeyPairInfo,
  type ResourceType,
  type SecurityGroup,
  type Subnet,
  type Tag,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import type {
  IngressRule,
  KeyPairInfo,
  NetworkPort,
  SecurityGroupInfo,
  SubnetInfo,
  Tags,
} from '../ports/network';

/**
 * NetworkPort over the EC2 API (moto locally, AWS in production). Build the client with
 * createEc2Client (./ec2-client.ts), which points it at AwsConfig.ec2Endpoint.
 *
 * Where moto 5.2.5 answers differently from AWS, both answers are handled:
 * - AWS applies a multi-permission Authorize/Revoke call all or nothing; moto applies the
 *   permissions before the one that fails. Each rule is therefore sent in its own call, so a
 *   duplicate (or an absent rule) never hides what happens to the others on either.
 * - Revoking an absent rule: moto answers InvalidPermission.NotFound; AWS (VPC groups) may instead
 *   succeed and list the rule in UnknownIpPermissions. Both mean "already absent".
 * - moto never answers DependencyViolation to DeleteSecurityGroup (it deletes a group that another
 *   group's rules or an instance still reference); AWS does, and that error is passed on.
 * - moto ignores MaxResults/NextToken on the Describe calls and returns everything at once; the
 *   SDK paginators used here follow NextToken on AWS and stop after the one page on moto.
 */
export class AwsNetwork implements NetworkPort {
  constructor(private readonly ec2: EC2Client) {}

  async defaultVpcId(): Promise<string | undefined> {
    const pages = paginateDescribeVpcs(
      { client: this.ec2 },
      { Filters: [{ Name: 'is-default', Values: ['true'] }] },
    );
    for await (const page of pages) {
      const vpc = (page.Vpcs ?? []).find((v) => v.VpcId);
      if (vpc?.VpcId) return vpc.VpcId;
    }
    return undefined;
  }

  async vpcCidr(vpcId: string): Promise<string | undefined> {
    try {
      const out = await this.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
      return out.Vpcs?.find((v) => v.VpcId === vpcId)?.CidrBlock;
    } catch (err) {
      if (errorName(err) === 'InvalidVpcID.NotFound') return undefined;
      throw err;
    }
  }

  async describeSubnet(subnetId: string): Promise<SubnetInfo | undefined> {
    try {
      const out = await this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
      const subnet = (out.Subnets ?? []).find((s) => s.SubnetId === subnetId);
      return subnet ? toSubnetInfo(subnet) : undefined;
    } catch (err) {
      if (errorName(err) === 'InvalidSubnetID.NotFound') return undefined;
      throw err;
    }
  }

  async subnetsOfVpc(vpcId: string): Promise<SubnetInfo[]> {
    const found: SubnetInfo[] = [];
    const pages = paginateDescribeSubnets(
      { client: this.ec2 },
      { Filters: [{ Name: 'vpc-id', Values: [vpcId] }] },
    );
    for await (const page of pages) {
      for (const s of page.Subnets ?? []) if (s.SubnetId) found.push(toSubnetInfo(s));
    }
    return found;
  }

  async findSecurityGroup(
    vpcId: string,
    groupName: string,
  ): Promise<SecurityGroupInfo | undefined> {
    const pages = paginateDescribeSecurityGroups(
      { client: this.ec2 },
      {
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'group-name', Values: [groupName] },
        ],
      },
    );
    for await (const page of pages) {
      // The filters match exactly; checked again so a wildcard in the name cannot widen them.
      const group = (page.SecurityGroups ?? []).find(
        (g) => g.GroupId && g.GroupName === groupName && g.VpcId === vpcId,
      );
      if (group) return toSecurityGroupInfo(group);
    }
    return undefined;
  }

  async describeSecurityGroup(groupId: string): Promise<SecurityGroupInfo | undefined> {
    try {
      // By id the answer is one group, never paged (MaxResults may not be given with GroupIds).
      const out = await this.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
      const group = (out.SecurityGroups ?? []).find((g) => g.GroupId === groupId);
      return group ? toSecurityGroupInfo(group) : undefined;
    } catch (err) {
      if (errorName(err) === 'InvalidGroup.NotFound') return undefined;
      throw err;
    }
  }

  async createSecurityGroup(input: {
    vpcId: string;
    groupName: string;
    description: string;
    tags: Tags;
  }): Promise<string> {
    const out = await this.ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: input.vpcId,
        GroupName: input.groupName,
        Description: input.description,
        ...tagSpecifications('security-group', input.tags),
      }),
    );
    if (!out.GroupId)
      throw new Error(`CreateSecurityGroup ${input.groupName} returned no group id`);
    return out.GroupId;
  }

  async authorizeIngress(groupId: string, rules: IngressRule[]): Promise<void> {
    for (const rule of rules) {
      try {
        await this.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [toPermission(rule)],
          }),
        );
      } catch (err) {
        if (errorName(err) !== 'InvalidPermission.Duplicate') throw err;
      }
    }
  }

  async revokeIngress(groupId: string, rules: IngressRule[]): Promise<void> {
    for (const rule of rules) {
      try {
        // An absent rule may come back in UnknownIpPermissions instead of as an error (AWS).
        await this.ec2.send(
          new RevokeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [toPermission(rule)],
          }),
        );
      } catch (err) {
        if (errorName(err) !== 'InvalidPermission.NotFound') throw err;
      }
    }
  }

  async deleteSecurityGroup(groupId: string): Promise<void> {
    try {
      await this.ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    } catch (err) {
      // DependencyViolation (an instance or another group's rule still uses it) is passed on.
      if (errorName(err) === 'InvalidGroup.NotFound') return;
      throw err;
    }
  }

  async describeKeyPair(keyName: string): Promise<KeyPairInfo | undefined> {
    try {
      // DescribeKeyPairs does not page.
      const out = await this.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }));
      const key = (out.KeyPairs ?? []).find((k) => k.KeyName === keyName);
      return key ? toKeyPairInfo(key) : undefined;
    } catch (err) {
      if (errorName(err) === 'InvalidKeyPair.NotFound') return undefined;
      throw err;
    }
  }

  async createKeyPair(input: {
    keyName: string;
    tags: Tags;
  }): Promise<{ info: KeyPairInfo; privateKey: string }> {
    const out = await this.ec2.send(
      new CreateKeyPairCommand({
        KeyName: input.keyName,
        KeyType: 'ed25519',
        ...tagSpecifications('key-pair', input.tags),
      }),
    );
    // Errors name the key, never the response: it carries the private key.
    if (!out.KeyMaterial)
      throw new Error(`CreateKeyPair ${input.keyName} returned no key material`);
    if (!out.KeyPairId) throw new Error(`CreateKeyPair ${input.keyName} returned no key pair id`);
    return {
      info: {
        keyName: out.KeyName ?? input.keyName,
        keyPairId: out.KeyPairId,
        ...(out.KeyFingerprint ? { fingerprint: out.KeyFingerprint } : {}),
        // The response carries the tags on AWS and moto; the request's tags if one does not.
        tags: out.Tags ? toTags(out.Tags) : { ...input.tags },
      },
      privateKey: out.KeyMaterial,
    };
  }

  async deleteKeyPair(keyName: string): Promise<void> {
    try {
      // AWS and moto both answer success for an absent key; the error is handled in case.
      await this.ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
    } catch (err) {
      if (errorName(err) === 'InvalidKeyPair.NotFound') return;
      throw err;
    }
  }
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function toTags(tags: Tag[] | undefined): Tags {
  const out: Tags = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** TagSpecifications for the create call, or nothing: an empty tag list is refused by EC2. */
function tagSpecifications(
  resourceType: ResourceType,
  tags: Tags,
): { TagSpecifications?: TagSpecification[] } {
  const list = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  return list.length > 0 ? { TagSpecifications: [{ ResourceType: resourceType, Tags: list }] } : {};
}

function toSubnetInfo(s: Subnet): SubnetInfo {
  return {
    subnetId: s.SubnetId ?? '',
    vpcId: s.VpcId ?? '',
    availabilityZone: s.AvailabilityZone ?? '',
    defaultForAz: s.DefaultForAz ?? false,
  };
}

function toKeyPairInfo(k: Ec2KeyPairInfo): KeyPairInfo {
  return {
    keyName: k.KeyName ?? '',
    keyPairId: k.KeyPairId ?? '',
    ...(k.KeyFingerprint ? { fingerprint: k.KeyFingerprint } : {}),
    tags: toTags(k.Tags),
  };
}

function toPermission(rule: IngressRule): IpPermission {
  const base = { IpProtocol: 'tcp', FromPort: rule.port, ToPort: rule.port };
  return 'cidr' in rule
    ? { ...base, IpRanges: [{ CidrIp: rule.cidr }] }
    : { ...base, UserIdGroupPairs: [{ GroupId: rule.sourceGroupId }] };
}

/** EC2 names these protocols; any other comes back as its IANA number. */
const PROTOCOL_NAMES: Record<string, string> = {
  '-1': 'all',
  '6': 'tcp',
  '17': 'udp',
  '1': 'icmp',
  '58': 'icmpv6',
};

function protocolName(p: IpPermission): string {
  const raw = (p.IpProtocol ?? '-1').toLowerCase();
  return PROTOCOL_NAMES[raw] ?? raw;
}

/** "tcp 22", "tcp 8000-8100", "udp 53", "icmp type 8", "all traffic", "protocol 50". */
function describeTraffic(p: IpPermission): string {
  const proto = protocolName(p);
  const from = p.FromPort;
  const to = p.ToPort;
  if (proto === 'all') return 'all traffic';
  if (proto === 'icmp' || proto === 'icmpv6') {
    const type = from !== undefined && from !== -1 ? ` type ${from}` : '';
    const code = to !== undefined && to !== -1 ? ` code ${to}` : '';
    return `${proto}${type}${code}`;
  }
  if (proto === 'tcp' || proto === 'udp') {
    if (from === undefined || from === -1) return `${proto} all ports`;
    return from === to || to === undefined ? `${proto} ${from}` : `${proto} ${from}-${to}`;
  }
  return /^\d+$/.test(proto) ? `protocol ${proto}` : proto;
}

function toSecurityGroupInfo(g: SecurityGroup): SecurityGroupInfo {
  const ingress: IngressRule[] = [];
  const otherIngress: string[] = [];
  for (const p of g.IpPermissions ?? []) {
    const singleTcpPort =
      protocolName(p) === 'tcp' &&
      p.FromPort !== undefined &&
      p.FromPort !== -1 &&
      p.FromPort === p.ToPort;
    const port = p.FromPort ?? 0;
    const traffic = describeTraffic(p);
    let sources = 0;
    for (const r of p.IpRanges ?? []) {
      if (!r.CidrIp) continue;
      sources++;
      if (singleTcpPort) ingress.push({ protocol: 'tcp', port, cidr: r.CidrIp });
      else otherIngress.push(`${traffic} from ${r.CidrIp}`);
    }
    for (const pair of p.UserIdGroupPairs ?? []) {
      sources++;
      if (singleTcpPort && pair.GroupId) {
        ingress.push({ protocol: 'tcp', port, sourceGroupId: pair.GroupId });
      } else {
        const group = pair.GroupId ?? pair.GroupName ?? 'an unnamed group';
        const owner = pair.UserId && pair.UserId !== g.OwnerId ? ` of account ${pair.UserId}` : '';
        otherIngress.push(`${traffic} from security group ${group}${owner}`);
      }
    }
    for (const r of p.Ipv6Ranges ?? []) {
      if (!r.CidrIpv6) continue;
      sources++;
      otherIngress.push(`${traffic} from ${r.CidrIpv6}`);
    }
    for (const l of p.PrefixListIds ?? []) {
      sources++;
      otherIngress.push(`${traffic} from prefix list ${l.PrefixListId ?? '(unnamed)'}`);
    }
    if (sources === 0) otherIngress.push(`${traffic} from no source`);
  }
  return {
    groupId: g.GroupId ?? '',
    groupName: g.GroupName ?? '',
    vpcId: g.VpcId ?? '',
    ...(g.Description !== undefined ? { description: g.Description } : {}),
    tags: toTags(g.Tags),
    ingress,
    otherIngress,
  };
}

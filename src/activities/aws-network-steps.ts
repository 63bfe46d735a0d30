import { Context } from '@temporalio/activity';
import { API_PORT, MSK_IAM_PORT, awsNames, awsTags, ownedBy } from '../domain/aws-resources';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { IngressRule, NetworkPort, SecurityGroupInfo } from '../ports/network';
import { invalid, summaryOf, type Mode } from './aws-step-helpers';

/**
 * The security groups of the aws target: the client host's (API port, SSH from a given CIDR) and
 * the MSK cluster's (9098 from the VPC), found by name in the VPC, proven by the pipeline tag, and
 * their ingress rules made exactly so.
 */

export interface EnsureSecurityGroupsInput {
  pipelineId: string;
  mode: Mode;
  /** The client host's subnet; absent: the default VPC. */
  subnetId?: string;
  apiCidr: string;
  sshCidr?: string;
  /** Also the cluster's group (9098 from the VPC), when pinpipe creates the cluster. */
  kafkaGroup: boolean;
}

export function createNetworkSteps(ports: { network: NetworkPort }) {
  const { network } = ports;

  async function vpcFor(subnetId: string | undefined): Promise<string> {
    if (subnetId !== undefined) {
      const subnet = await network.describeSubnet(subnetId);
      if (!subnet) throw invalid(`subnet ${subnetId} does not exist: correct clientHost.subnetId`);
      return subnet.vpcId;
    }
    const vpc = await network.defaultVpcId();
    if (!vpc) throw invalid('the region has no default VPC: set clientHost.subnetId');
    return vpc;
  }

  const ruleKey = (r: IngressRule) =>
    `${r.protocol}/${r.port}/${'cidr' in r ? r.cidr : r.sourceGroupId}`;

  /** One group: found by name in the VPC (tag-proven) or created; its rules made exactly so. */
  async function ensureGroup(
    pipelineId: string,
    mode: Mode,
    vpcId: string,
    name: string,
    role: 'client' | 'kafka',
    description: string,
    rules: IngressRule[],
  ): Promise<{ record: ResourceRecord; groupId?: string }> {
    const kind = role === 'kafka' ? 'kafka-security-group' : 'security-group';
    const found = await network.findSecurityGroup(vpcId, name);
    const deleteHow = (id: string) => `aws ec2 delete-security-group --group-id ${id}`;
    if (found && !ownedBy(found.tags, pipelineId)) {
      throw invalid(
        `security group ${found.groupId} (${name}) in ${vpcId} is not tagged for pipeline ${pipelineId}: delete or rename it`,
      );
    }
    const missing = (g: SecurityGroupInfo | undefined) =>
      rules.filter((r) => !g?.ingress.some((x) => ruleKey(x) === ruleKey(r)));
    const extra = (g: SecurityGroupInfo) =>
      g.ingress.filter((x) => !rules.some((r) => ruleKey(r) === ruleKey(x)));
    const describe = rules.map(ruleKey).join(', ');
    if (mode === 'plan') {
      if (!found)
        return {
          record: { kind, id: name, outcome: 'create', detail: describe },
        };
      const diff = [
        ...missing(found).map((r) => `missing ${ruleKey(r)}`),
        ...extra(found).map((r) => `extra ${ruleKey(r)}`),
        ...found.otherIngress.map((o) => `extra ${o}`),
      ];
      return {
        record: {
          kind,
          id: found.groupId,
          outcome: diff.length ? 'differs' : 'exists',
          detail: diff.join('; ') || describe,
          deleteHow: deleteHow(found.groupId),
          ownedByTag: true,
        },
        groupId: found.groupId,
      };
    }
    let groupId = found?.groupId;
    let outcome: ResourceRecord['outcome'] = 'exists';
    if (!groupId) {
      groupId = await network.createSecurityGroup({
        vpcId,
        groupName: name,
        description,
        tags: awsTags(pipelineId, role),
      });
      outcome = 'created';
    }
    const current = found ?? (await network.describeSecurityGroup(groupId));
    const add = missing(current);
    const remove = current ? extra(current) : [];
    if (add.length) await network.authorizeIngress(groupId, add);
    if (remove.length) await network.revokeIngress(groupId, remove);
    if (outcome === 'exists' && (add.length || remove.length)) outcome = 'updated';
    return {
      record: {
        kind,
        id: groupId,
        outcome,
        detail: `${name}: ${describe}${current?.otherIngress.length ? `; other rules left: ${current.otherIngress.join(', ')}` : ''}`,
        deleteHow: deleteHow(groupId),
        // Tag-proven (a group of this name without the tag is refused above): owned even when found.
        ownedByTag: true,
      },
      groupId,
    };
  }

  async function ensureSecurityGroups(input: EnsureSecurityGroupsInput): Promise<StepResult> {
    Context.current().heartbeat();
    const names = awsNames(input.pipelineId);
    const vpcId = await vpcFor(input.subnetId);
    const clientRules: IngressRule[] = [
      { protocol: 'tcp', port: API_PORT, cidr: input.apiCidr },
      ...(input.sshCidr ? [{ protocol: 'tcp' as const, port: 22, cidr: input.sshCidr }] : []),
    ];
    const client = await ensureGroup(
      input.pipelineId,
      input.mode,
      vpcId,
      names.clientSecurityGroup,
      'client',
      `pinpipe ${input.pipelineId} client host: ingest API${input.sshCidr ? ' and SSH' : ''}`,
      clientRules,
    );
    const resources = [client.record];
    const outputs: Record<string, string> = { vpcId };
    if (client.groupId) outputs.clientSecurityGroupId = client.groupId;
    if (input.kafkaGroup) {
      // From the VPC's own range rather than from the client's group: a rule naming another
      // group would stop either being deleted while the other stands.
      const vpcCidr = await network.vpcCidr(vpcId);
      if (!vpcCidr) throw new Error(`VPC ${vpcId} has no IPv4 CIDR block (or is gone)`);
      const kafka = await ensureGroup(
        input.pipelineId,
        input.mode,
        vpcId,
        names.kafkaSecurityGroup,
        'kafka',
        `pinpipe ${input.pipelineId} MSK cluster: TLS + IAM clients in the VPC`,
        [{ protocol: 'tcp', port: MSK_IAM_PORT, cidr: vpcCidr }],
      );
      resources.push(kafka.record);
      if (kafka.groupId) outputs.kafkaSecurityGroupId = kafka.groupId;
    }
    return { resources, summary: summaryOf(resources), outputs };
  }

  return { ensureSecurityGroups };
}

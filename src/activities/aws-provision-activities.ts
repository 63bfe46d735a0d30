import { randomBytes } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  API_PORT,
  MSK_IAM_PORT,
  awsNames,
  awsTags,
  ec2TrustPolicy,
  invokeUrl,
  leastPrivilegePolicy,
  ownedBy,
  sameJson,
} from '../domain/aws-resources';
import { withHeartbeatClock } from './heartbeat-clock';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { ApiGatewayPort } from '../ports/api-gateway';
import type { IamPort } from '../ports/iam';
import type { KafkaClusterInfo, MskPort } from '../ports/msk';
import type { IngressRule, NetworkPort, SecurityGroupInfo } from '../ports/network';
import type { SecretsPort } from '../ports/secrets';

/**
 * The aws target's own steps (DESIGN 5): security groups, the MSK cluster, the API token, the
 * SSH key pair, the IAM role and profile, the API Gateway proxy. Each looks before it acts,
 * finds by the name aws-resources.ts gives it, proves ownership by the pipeline tag, and in plan
 * mode only looks. No secret value leaves these functions: results carry names and ARNs only.
 */

export type Mode = 'apply' | 'plan';

export interface AwsProvisionPorts {
  network: NetworkPort;
  iam: IamPort;
  secrets: SecretsPort;
  msk: MskPort;
  apiGateway: ApiGatewayPort;
  /** How long ensureIamRole waits for a new instance profile to be visible (IAM is eventual). */
  profileWaitMs?: number;
}

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

export interface EnsureKafkaClusterInput {
  pipelineId: string;
  mode: Mode;
  kafka:
    | { mode: 'adopt'; clusterArn: string }
    | {
        mode: 'create';
        kafkaVersion: string;
        brokerCount: number;
        instanceType: string;
        volumeGiB: number;
        subnetIds?: string[];
      };
  /** The cluster's security group (from the security-group step). */
  securityGroupId?: string;
  vpcId?: string;
}

export interface KafkaClusterState {
  arn: string;
  state: string;
  creationTime?: string;
}

export interface EnsureSecretInput {
  pipelineId: string;
  mode: Mode;
}

export interface EnsureIamRoleInput {
  pipelineId: string;
  mode: Mode;
  bucket: string;
  clusterArn?: string;
  secretArns: string[];
}

export interface EnsureRestApiInput {
  pipelineId: string;
  mode: Mode;
  region: string;
  stage: string;
  /** The client host's API, e.g. http://203.0.113.7:8082. */
  targetBaseUrl?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidConfig');

/** A resource found by the pipeline's name must carry its tag: one that does not is refused. */
function requireOwned(
  found: { tags: Record<string, string> } | undefined,
  what: string,
  pipelineId: string,
): void {
  if (found && !ownedBy(found.tags, pipelineId)) {
    throw invalid(`${what} exists but is not tagged for pipeline ${pipelineId}: remove it`);
  }
}

/**
 * IAM is eventually consistent: a Get may miss what a Create made a moment ago (this run's
 * earlier attempt), and the Create then says it exists. That is the state wanted.
 */
async function alreadyExistsIsFine(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if ((err as { name?: string }).name !== 'EntityAlreadyExistsException') throw err;
  }
}

function summaryOf(resources: ResourceRecord[]): string {
  return resources
    .map((r) => `${r.kind} ${r.id} ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`)
    .join('; ');
}

export function createAwsProvisionActivities(ports: AwsProvisionPorts) {
  const { network, iam, secrets, msk, apiGateway } = ports;
  const profileWaitMs = ports.profileWaitMs ?? 120_000;

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

  /**
   * MSK takes the client subnets of two or three zones (two in some regions) and the same number
   * of brokers in each: three zones when the broker count divides by three, else two.
   */
  async function defaultSubnets(vpcId: string, brokerCount: number): Promise<string[]> {
    const count = brokerCount % 3 === 0 ? 3 : 2;
    const subnets = (await network.subnetsOfVpc(vpcId)).filter((s) => s.defaultForAz);
    const byZone = new Map<string, string>();
    for (const s of subnets.sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone)))
      if (!byZone.has(s.availabilityZone)) byZone.set(s.availabilityZone, s.subnetId);
    let picked = [...byZone.values()].slice(0, count);
    if (picked.length === 2 && brokerCount % 2 !== 0) picked = [];
    if (picked.length < 2) {
      throw invalid(
        `VPC ${vpcId} has no default subnets in ${count} zones for ${brokerCount} brokers (MSK puts as many in each zone): set aws.kafka.subnetIds, or a broker count that divides by the zones`,
      );
    }
    return picked;
  }

  /** The cluster step's result: its one record, and the cluster's ARN and state for the workflow. */
  const clusterResult = (
    c: KafkaClusterInfo,
    outcome: ResourceRecord['outcome'],
    pipelineId: string,
  ): StepResult => {
    const r: ResourceRecord = {
      kind: 'kafka-cluster',
      id: c.arn,
      outcome,
      detail: `${c.name} ${c.state}${c.iamAuth === false ? ', IAM authentication off' : ''}`,
      deleteHow: `aws kafka delete-cluster --cluster-arn ${c.arn}`,
      ...(ownedBy(c.tags, pipelineId) ? { ownedByTag: true } : {}),
    };
    return {
      resources: [r],
      summary: summaryOf([r]),
      outputs: { clusterArn: c.arn, clusterState: c.state },
    };
  };

  /**
   * Creates (or finds by name and tag) the pipeline's cluster, or looks at the one adopted;
   * returns at once with its state. The workflow waits for ACTIVE between durable timers.
   */
  async function ensureKafkaCluster(input: EnsureKafkaClusterInput): Promise<StepResult> {
    Context.current().heartbeat();
    const k = input.kafka;
    if (k.mode === 'adopt') {
      const c = await msk.describeCluster(k.clusterArn);
      if (!c) throw invalid(`no MSK cluster ${k.clusterArn}: correct aws.kafka.clusterArn`);
      if (c.iamAuth === false) {
        throw invalid(
          `MSK cluster ${c.name} does not have IAM client authentication on; pinpipe's hosts authenticate with IAM: turn it on or use aws.kafka.mode "brokers"`,
        );
      }
      return clusterResult(c, 'exists', input.pipelineId);
    }
    const name = awsNames(input.pipelineId).cluster;
    const found = (await msk.findClustersByName(name)).filter((c) => c.state !== 'DELETING');
    const foreign = found.find((c) => !ownedBy(c.tags, input.pipelineId));
    if (foreign) {
      throw invalid(
        `MSK cluster ${foreign.arn} is named ${name} but not tagged for pipeline ${input.pipelineId}: adopt it (aws.kafka.mode "adopt") or remove it`,
      );
    }
    const oldest = found.sort((a, b) =>
      (a.creationTime ?? '').localeCompare(b.creationTime ?? ''),
    )[0];
    if (oldest) {
      // The listing's state may lag; the cluster's own description is what the wait follows.
      const c = (await msk.describeCluster(oldest.arn)) ?? oldest;
      return clusterResult(c, 'exists', input.pipelineId);
    }
    if (input.mode === 'plan') {
      const r: ResourceRecord = {
        kind: 'kafka-cluster',
        id: name,
        outcome: 'create',
        detail: `${k.brokerCount} × ${k.instanceType}, Kafka ${k.kafkaVersion}, TLS + IAM`,
      };
      return { resources: [r], summary: summaryOf([r]) };
    }
    if (!input.securityGroupId || !input.vpcId) {
      throw new Error('the security-group step has not produced the cluster group yet');
    }
    const subnetIds = k.subnetIds ?? (await defaultSubnets(input.vpcId, k.brokerCount));
    if (subnetIds.length > 3) {
      throw invalid(
        `aws.kafka.subnetIds: MSK takes the subnets of two or three zones, not ${subnetIds.length}`,
      );
    }
    if (k.brokerCount % subnetIds.length !== 0) {
      throw invalid(
        `aws.kafka.brokerCount ${k.brokerCount} is not a multiple of the ${subnetIds.length} subnets: MSK puts the same number of brokers in each`,
      );
    }
    const created = await msk.createCluster({
      name,
      kafkaVersion: k.kafkaVersion,
      brokerCount: k.brokerCount,
      instanceType: k.instanceType,
      subnetIds,
      securityGroupIds: [input.securityGroupId],
      volumeGiB: k.volumeGiB,
      tags: awsTags(input.pipelineId, 'kafka'),
    });
    return clusterResult(created, 'created', input.pipelineId);
  }

  /** One look at the cluster, between the workflow's timers. */
  async function describeKafkaCluster(input: { arn: string }): Promise<KafkaClusterState> {
    const c = await msk.describeCluster(input.arn);
    if (!c)
      throw ApplicationFailure.nonRetryable(`MSK cluster ${input.arn} is gone`, 'ClusterGone');
    return {
      arn: c.arn,
      state: c.state,
      ...(c.creationTime ? { creationTime: c.creationTime } : {}),
    };
  }

  /** The cluster's TLS + IAM bootstrap servers (port 9098). */
  async function kafkaBootstrapBrokers(input: { arn: string }): Promise<{ brokers: string }> {
    const b = await msk.bootstrapBrokers(input.arn);
    if (!b.saslIam) {
      throw invalid(
        `MSK cluster ${input.arn} offers no TLS + IAM bootstrap servers (IAM authentication is off?)`,
      );
    }
    return { brokers: b.saslIam };
  }

  /** A secret holding a value made here; an existing one (tag-proven) is kept as it is. */
  async function ensureSecret(
    pipelineId: string,
    mode: Mode,
    name: string,
    description: string,
    makeValue: () => string,
  ): Promise<ResourceRecord & { arn?: string }> {
    const deleteHow = `aws secretsmanager delete-secret --force-delete-without-recovery --secret-id ${name}`;
    const found = await secrets.describeSecret(name);
    requireOwned(found, `secret ${name}`, pipelineId);
    if (mode === 'plan') {
      return found
        ? {
            kind: 'secret',
            id: name,
            outcome: found.deleted || !found.hasValue ? 'differs' : 'exists',
            detail: found.deleted ? 'scheduled for deletion' : found.hasValue ? '' : 'no value',
            deleteHow,
            arn: found.arn,
          }
        : { kind: 'secret', id: name, outcome: 'create' };
    }
    if (!found) {
      const made = await secrets.createSecret({
        name,
        value: makeValue(),
        description,
        tags: awsTags(pipelineId, 'secret'),
      });
      return { kind: 'secret', id: name, outcome: 'created', deleteHow, arn: made.arn };
    }
    let outcome: ResourceRecord['outcome'] = 'exists';
    if (found.deleted) {
      await secrets.restoreSecret(name);
      outcome = 'updated';
    }
    if (!found.hasValue) {
      await secrets.putSecretValue(name, makeValue());
      outcome = 'updated';
    }
    return { kind: 'secret', id: name, outcome, deleteHow, arn: found.arn };
  }

  /** The ingest API's bearer token: 32 random bytes, made here, never returned. */
  async function ensureApiToken(input: EnsureSecretInput): Promise<StepResult> {
    Context.current().heartbeat();
    const name = awsNames(input.pipelineId).apiTokenSecret;
    const { arn, ...record } = await ensureSecret(
      input.pipelineId,
      input.mode,
      name,
      `pinpipe ${input.pipelineId}: the ingest API's bearer token (PINPIPE_API_TOKEN)`,
      () => randomBytes(32).toString('base64url'),
    );
    return {
      resources: [record],
      summary: `${summaryOf([record])}; read it with: aws secretsmanager get-secret-value --secret-id ${name} --query SecretString --output text`,
      outputs: arn ? { apiTokenSecretArn: arn } : {},
    };
  }

  /**
   * The key pair and the secret holding its private key. A key pair whose key was lost (a
   * worker died between CreateKeyPair and storing it) is replaced: EC2 never shows a key twice.
   */
  async function ensureKeyPair(input: EnsureSecretInput): Promise<StepResult> {
    Context.current().heartbeat();
    const names = awsNames(input.pipelineId);
    const keyDeleteHow = `aws ec2 delete-key-pair --key-name ${names.keyPair}`;
    const secretDeleteHow = `aws secretsmanager delete-secret --force-delete-without-recovery --secret-id ${names.sshKeySecret}`;
    const pair = await network.describeKeyPair(names.keyPair);
    requireOwned(pair, `key pair ${names.keyPair}`, input.pipelineId);
    const secret = await secrets.describeSecret(names.sshKeySecret);
    requireOwned(secret, `secret ${names.sshKeySecret}`, input.pipelineId);
    const keyStored = secret !== undefined && !secret.deleted && secret.hasValue;
    const fetchHow = `aws secretsmanager get-secret-value --secret-id ${names.sshKeySecret} --query SecretString --output text > ${names.keyPair}.pem && chmod 600 ${names.keyPair}.pem`;
    if (input.mode === 'plan') {
      const resources: ResourceRecord[] = [
        pair
          ? {
              kind: 'key-pair',
              id: names.keyPair,
              outcome: keyStored ? 'exists' : 'differs',
              detail: keyStored ? '' : 'its private key is not in Secrets Manager',
              deleteHow: keyDeleteHow,
            }
          : { kind: 'key-pair', id: names.keyPair, outcome: 'create' },
        secret
          ? {
              kind: 'secret',
              id: names.sshKeySecret,
              outcome: keyStored ? 'exists' : 'differs',
              deleteHow: secretDeleteHow,
            }
          : { kind: 'secret', id: names.sshKeySecret, outcome: 'create' },
      ];
      return { resources, summary: summaryOf(resources) };
    }
    let keyOutcome: ResourceRecord['outcome'] = 'exists';
    let secretOutcome: ResourceRecord['outcome'] = 'exists';
    let secretArn = secret?.arn;
    if (!pair || !keyStored) {
      if (pair) {
        await network.deleteKeyPair(names.keyPair);
        keyOutcome = 'updated';
      } else keyOutcome = 'created';
      // A secret still holding an older key goes first: left in place, it would pass for the
      // new pair's if the worker died between CreateKeyPair and storing the new key.
      if (secret) {
        await withHeartbeatClock(
          () => undefined,
          () => secrets.deleteSecret(names.sshKeySecret),
        );
      }
      const made = await network.createKeyPair({
        keyName: names.keyPair,
        tags: awsTags(input.pipelineId, 'ssh'),
      });
      const s = await secrets.createSecret({
        name: names.sshKeySecret,
        value: made.privateKey,
        description: `pinpipe ${input.pipelineId}: private key of EC2 key pair ${names.keyPair}`,
        tags: awsTags(input.pipelineId, 'ssh'),
      });
      secretArn = s.arn;
      secretOutcome = secret ? 'updated' : 'created';
    }
    const resources: ResourceRecord[] = [
      {
        kind: 'key-pair',
        id: names.keyPair,
        outcome: keyOutcome,
        detail: 'private key in Secrets Manager',
        deleteHow: keyDeleteHow,
      },
      {
        kind: 'secret',
        id: names.sshKeySecret,
        outcome: secretOutcome,
        deleteHow: secretDeleteHow,
      },
    ];
    return {
      resources,
      summary: `${summaryOf(resources)}; fetch the key with: ${fetchHow}`,
      outputs: { keyName: names.keyPair, ...(secretArn ? { sshKeySecretArn: secretArn } : {}) },
    };
  }

  /**
   * The client host's role (EC2 may assume it), its least-privilege inline policy and its
   * instance profile; waits until the profile shows the role, since EC2 refuses a profile IAM
   * has not spread yet. A profile still not visible after the wait fails the attempt (retried).
   */
  async function ensureIamRole(input: EnsureIamRoleInput): Promise<StepResult> {
    const ctx = Context.current();
    ctx.heartbeat();
    const names = awsNames(input.pipelineId);
    const policy = leastPrivilegePolicy({
      pipelineId: input.pipelineId,
      bucket: input.bucket,
      ...(input.clusterArn ? { clusterArn: input.clusterArn } : {}),
      secretArns: input.secretArns,
    });
    const trust = ec2TrustPolicy();
    const role = await iam.getRole(names.role);
    requireOwned(role, `IAM role ${names.role}`, input.pipelineId);
    const profile = await iam.getInstanceProfile(names.instanceProfile);
    requireOwned(profile, `instance profile ${names.instanceProfile}`, input.pipelineId);
    const roleDeleteHow = `aws iam delete-role-policy --role-name ${names.role} --policy-name ${names.policy} && aws iam delete-role --role-name ${names.role}`;
    const profileDeleteHow = `aws iam remove-role-from-instance-profile --instance-profile-name ${names.instanceProfile} --role-name ${names.role} && aws iam delete-instance-profile --instance-profile-name ${names.instanceProfile}`;
    const currentPolicy = role ? await iam.getRolePolicy(names.role, names.policy) : undefined;
    const roleDiffs = role
      ? [
          sameJson(role.trustPolicy, trust) ? '' : 'trust policy differs',
          currentPolicy === undefined
            ? 'inline policy missing'
            : sameJson(currentPolicy, policy)
              ? ''
              : 'inline policy differs',
        ].filter(Boolean)
      : [];
    // A profile holds one role: another one in ours (tag-proven) is replaced by the pipeline's.
    const strangers = profile ? profile.roleNames.filter((r) => r !== names.role) : [];
    const profileDiff = [
      profile && !profile.roleNames.includes(names.role)
        ? `role ${names.role} not in the profile`
        : '',
      strangers.length ? `holds role ${strangers.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (input.mode === 'plan') {
      const resources: ResourceRecord[] = [
        role
          ? {
              kind: 'iam-role',
              id: names.role,
              outcome: roleDiffs.length ? 'differs' : 'exists',
              detail: roleDiffs.join('; '),
              deleteHow: roleDeleteHow,
            }
          : {
              kind: 'iam-role',
              id: names.role,
              outcome: 'create',
              detail: 'least privilege: its bucket, topics, groups and secret',
            },
        profile
          ? {
              kind: 'instance-profile',
              id: names.instanceProfile,
              outcome: profileDiff ? 'differs' : 'exists',
              detail: profileDiff,
              deleteHow: profileDeleteHow,
            }
          : { kind: 'instance-profile', id: names.instanceProfile, outcome: 'create' },
      ];
      return { resources, summary: summaryOf(resources) };
    }
    const roleOutcome: ResourceRecord['outcome'] = role
      ? roleDiffs.length
        ? 'updated'
        : 'exists'
      : 'created';
    if (!role) {
      await alreadyExistsIsFine(
        iam.createRole({
          roleName: names.role,
          trustPolicy: trust,
          description: `pinpipe ${input.pipelineId} client host`,
          tags: awsTags(input.pipelineId, 'client'),
        }),
      );
    } else if (!sameJson(role.trustPolicy, trust)) {
      await iam.updateTrustPolicy(names.role, trust);
    }
    if (!role || currentPolicy === undefined || !sameJson(currentPolicy, policy)) {
      await iam.putRolePolicy(names.role, names.policy, policy);
    }
    // Inline policies pinpipe did not write would widen the role: reported, not removed.
    const others = (await iam.listRolePolicies(names.role)).filter((p) => p !== names.policy);
    const profileOutcome: ResourceRecord['outcome'] = profile
      ? profileDiff
        ? 'updated'
        : 'exists'
      : 'created';
    if (!profile) {
      await alreadyExistsIsFine(
        iam.createInstanceProfile({
          name: names.instanceProfile,
          tags: awsTags(input.pipelineId, 'client'),
        }),
      );
    }
    for (const other of strangers)
      await iam.removeRoleFromInstanceProfile(names.instanceProfile, other);
    if (!profile || !profile.roleNames.includes(names.role))
      await iam.addRoleToInstanceProfile(names.instanceProfile, names.role);
    // IAM is eventually consistent: wait (heartbeating) until the profile shows its role.
    const deadline = Date.now() + profileWaitMs;
    for (let look = 1; ; look++) {
      const seen = await iam.getInstanceProfile(names.instanceProfile);
      ctx.heartbeat({ look });
      if (seen?.roleNames.includes(names.role)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `instance profile ${names.instanceProfile} does not show role ${names.role} yet after ${Math.round(profileWaitMs / 1000)} s (IAM is eventually consistent; retried)`,
        );
      }
      await sleep(Math.min(5_000, 250 * 2 ** look));
    }
    const resources: ResourceRecord[] = [
      {
        kind: 'iam-role',
        id: names.role,
        outcome: roleOutcome,
        detail: `least privilege${others.length ? `; other inline policies on it: ${others.join(', ')}` : ''}`,
        deleteHow: roleDeleteHow,
      },
      {
        kind: 'instance-profile',
        id: names.instanceProfile,
        outcome: profileOutcome,
        deleteHow: profileDeleteHow,
      },
    ];
    return {
      resources,
      summary: summaryOf(resources),
      outputs: { instanceProfile: names.instanceProfile },
    };
  }

  /** The REST API proxying ANY request to the client host's API, deployed to the stage. */
  async function ensureRestApi(input: EnsureRestApiInput): Promise<StepResult> {
    Context.current().heartbeat();
    const name = awsNames(input.pipelineId).restApi;
    const found = (await apiGateway.findRestApisByName(name)).sort((a, b) =>
      (a.createdDate ?? '').localeCompare(b.createdDate ?? ''),
    );
    const foreign = found.find((a) => !ownedBy(a.tags, input.pipelineId));
    if (foreign) {
      throw invalid(
        `REST API ${foreign.id} is named ${name} but not tagged for pipeline ${input.pipelineId}: remove it`,
      );
    }
    const deleteHow = (id: string) => `aws apigateway delete-rest-api --rest-api-id ${id}`;
    let api = found[0];
    const target = input.targetBaseUrl;
    const wired = async (apiId: string) => {
      const w = await apiGateway.proxyWiring(apiId);
      const want = target ? `${target}/{proxy}` : undefined;
      const wantRoot = target ? `${target}/` : undefined;
      return {
        // Both the root (`ANY /`) and `{proxy+}` pass through to the host, as putProxy wires them.
        ok:
          w.anyMethod &&
          w.integration?.type === 'HTTP_PROXY' &&
          (want === undefined || w.integration.uri === want) &&
          w.rootIntegration?.type === 'HTTP_PROXY' &&
          (wantRoot === undefined || w.rootIntegration.uri === wantRoot),
        deployed: (await apiGateway.stageDeployment(apiId, input.stage)) !== undefined,
      };
    };
    if (input.mode === 'plan') {
      if (!api) {
        const r: ResourceRecord = {
          kind: 'rest-api',
          id: name,
          outcome: 'create',
          detail: `{proxy+} ANY → ${target ?? 'the client host'}:${API_PORT}, stage ${input.stage}`,
        };
        return { resources: [r], summary: summaryOf([r]) };
      }
      const w = await wired(api.id);
      const r: ResourceRecord = {
        kind: 'rest-api',
        id: api.id,
        outcome: w.ok && w.deployed ? 'exists' : 'differs',
        detail: [
          w.ok ? '' : 'proxy wiring differs',
          w.deployed ? '' : `stage ${input.stage} missing`,
        ]
          .filter(Boolean)
          .join('; '),
        deleteHow: deleteHow(api.id),
      };
      return { resources: [r], summary: summaryOf([r]) };
    }
    if (!target) throw new Error('the client host has no public address to proxy to yet');
    let outcome: ResourceRecord['outcome'] = 'exists';
    if (!api) {
      api = await apiGateway.createRestApi({
        name,
        description: `pinpipe ${input.pipelineId}: the ingest API (Kafka REST Proxy v2) on the client host`,
        tags: awsTags(input.pipelineId, 'api'),
      });
      outcome = 'created';
    }
    const w = await wired(api.id);
    if (!w.ok) {
      await apiGateway.putProxy(api.id, target);
      if (outcome === 'exists') outcome = 'updated';
    }
    if (!w.ok || !w.deployed) {
      await apiGateway.deploy(api.id, input.stage, `pinpipe ${input.pipelineId} → ${target}`);
      if (outcome === 'exists') outcome = 'updated';
    }
    const url = invokeUrl(api.id, input.region, input.stage);
    const r: ResourceRecord = {
      kind: 'rest-api',
      id: api.id,
      outcome,
      detail: `${url} → ${target}`,
      deleteHow: deleteHow(api.id),
    };
    return {
      resources: [r],
      summary: summaryOf([r]),
      outputs: { invokeUrl: url, restApiId: api.id },
    };
  }

  return {
    ensureSecurityGroups,
    ensureKafkaCluster,
    describeKafkaCluster,
    kafkaBootstrapBrokers,
    ensureApiToken,
    ensureKeyPair,
    ensureIamRole,
    ensureRestApi,
  };
}

export type AwsProvisionActivities = ReturnType<typeof createAwsProvisionActivities>;

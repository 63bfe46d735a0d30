import assert from 'node:assert/strict';
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { GetRestApisCommand, type APIGatewayClient } from '@aws-sdk/client-api-gateway';
import {
  GetInstanceProfileCommand,
  GetRoleCommand,
  ListRoleTagsCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { ListClustersV2Command, type KafkaClient } from '@aws-sdk/client-kafka';
import {
  GetSecretValueCommand,
  ListSecretsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { createApiGatewayClient } from '../../src/adapters/aws-api-gateway';
import { createIamClient } from '../../src/adapters/aws-iam';
import { createMskClient } from '../../src/adapters/aws-msk';
import { createSecretsClient } from '../../src/adapters/aws-secrets';
import type { Adapters } from '../../src/adapters/create-adapters';
import { createEc2Client } from '../../src/adapters/ec2-client';
import { KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import type { AwsConfig } from '../../src/config';
import { awsNames } from '../../src/domain/aws-resources';
import { PIPELINE_TAG } from '../../src/domain/inventory';
import type { ProvisionInput } from '../../src/domain/provision-input';
import type { ResourceKind } from '../../src/domain/provision-steps';
import type { IamPort } from '../../src/ports/iam';
import type { KafkaPort } from '../../src/ports/kafka';
import type { BootstrapBrokers, KafkaClusterInfo, MskPort } from '../../src/ports/msk';
import type { PipelineControl } from '../../src/ports/pipeline-control';
import { createActivities } from '../../src/workers/create-activities';
import type { ProvisionResult } from '../../src/workflows/provision-pipeline';
import { secureKafkaStack, stackConfig } from './stack';

/**
 * moto keeps an MSK cluster CREATING forever and has no GetBootstrapBrokers: this double
 * passes every call to moto except those two. The cluster turns ACTIVE once `activate()` is
 * called (or after `activeAfterLooks` looks), and its TLS + IAM bootstrap servers are the local
 * stack's SASL_SSL listener (SCRAM standing in for IAM, which only MSK speaks).
 */
export class MotoMskWithActivation implements MskPort {
  looks = 0;
  private active = false;

  constructor(
    private readonly inner: MskPort,
    private readonly brokers: string,
    private readonly activeAfterLooks = Number.POSITIVE_INFINITY,
  ) {}

  activate(): void {
    this.active = true;
  }

  findClustersByName(name: string): Promise<KafkaClusterInfo[]> {
    return this.inner.findClustersByName(name);
  }

  async describeCluster(arn: string): Promise<KafkaClusterInfo | undefined> {
    const c = await this.inner.describeCluster(arn);
    if (!c) return undefined;
    this.looks++;
    const active = this.active || this.looks >= this.activeAfterLooks;
    return active && c.state === 'CREATING' ? { ...c, state: 'ACTIVE' } : c;
  }

  createCluster(...args: Parameters<MskPort['createCluster']>): Promise<KafkaClusterInfo> {
    return this.inner.createCluster(...args);
  }

  bootstrapBrokers(): Promise<BootstrapBrokers> {
    return Promise.resolve({ saslIam: this.brokers });
  }

  deleteCluster(arn: string): Promise<void> {
    return this.inner.deleteCluster(arn);
  }
}

/** The stack's SASL_SSL listener, as the "MSK" bootstrap servers of the double above. */
export function secureBrokers(): string {
  return secureKafkaStack().brokers.join(',');
}

/** kafkaAt for tests: any brokers, with the SASL_SSL listener's TLS + SCRAM settings. */
export function secureKafkaAt(brokers: string[]): KafkaPort & { disconnect(): Promise<void> } {
  const secure = secureKafkaStack();
  const config = stackConfig();
  return KafkajsKafka.fromOptions({
    ...config.kafka,
    brokers,
    security: {
      ssl: true,
      caFile: secure.caFile,
      saslMechanism: 'scram-sha-512',
      username: secure.username,
      password: secure.password,
    },
  });
}

/**
 * The worker's activities on the stack's adapters with the aws target's doubles: `msk` (a
 * MotoMskWithActivation) for MSK and secureKafkaAt for the cluster's brokers; `overrides` swap
 * the IAM port or the instance profile's wait.
 */
export function activitiesWithMskDouble(
  adapters: Adapters,
  control: PipelineControl,
  msk: MskPort,
  overrides: { iam?: IamPort; profileWaitMs?: number } = {},
) {
  return createActivities({
    ...adapters,
    aws: { ...adapters.aws, msk, ...overrides },
    kafkaAt: secureKafkaAt,
    control,
    duckdb: duckDbS3OptionsFrom(stackConfig()),
  });
}

/**
 * An aws run of `pipelineId` that starts no ingestion and no schedule, looks at the cluster every
 * second, and checks `endpointUrl` (the ingest API in the test process: the stage URL cannot be
 * reached from here).
 */
export function awsProvisionInput(
  pipelineId: string,
  endpointUrl: string,
  extra: Partial<ProvisionInput> = {},
): ProvisionInput {
  return {
    pipelineId,
    target: 'aws',
    endpoint: { url: endpointUrl },
    clientHost: { imageId: 'ami-12c6146b', readyTimeoutSeconds: 60 },
    aws: { sshCidr: '203.0.113.7/32', kafka: { pollSeconds: 1 } },
    ingestion: { start: false },
    schedule: { enabled: false },
    ...extra,
  };
}

/** The aws resources a run of the aws target makes (and owns: the cluster too). */
export const AWS_RESOURCE_KINDS: readonly ResourceKind[] = [
  'security-group',
  'kafka-cluster',
  'secret',
  'key-pair',
  'iam-role',
  'instance-profile',
  'rest-api',
  'instance',
];

/** A plan lists each of `kinds` as to be created. */
export function assertPlanCreates(plan: ProvisionResult, kinds: readonly ResourceKind[]): void {
  const planned = plan.resources.filter((r) => r.outcome === 'create').map((r) => r.kind);
  for (const kind of kinds)
    assert.ok(planned.includes(kind), `plan lists ${kind}: ${planned.join(', ')}`);
}

/** Exactly one of each aws resource (two security groups: client and kafka), the host with its key pair. */
export function assertOneOfEach(a: AwsAudit, pipelineId: string): void {
  const names = awsNames(pipelineId);
  assert.equal(a.securityGroups.length, 2, 'client and kafka security groups');
  assert.deepEqual(a.keyPairs, [names.keyPair]);
  assert.deepEqual(a.roles, [names.role]);
  assert.deepEqual(a.instanceProfiles, [{ name: names.instanceProfile, roles: [names.role] }]);
  assert.deepEqual(
    a.secrets,
    [names.apiTokenSecret, names.signingKeySecret, names.sshKeySecret].sort(),
  );
  assert.equal(a.clusters.length, 1, `clusters: ${a.clusters.join(', ')}`);
  assert.equal(a.restApis.length, 1, `REST APIs: ${a.restApis.join(', ')}`);
  assert.equal(a.instances.length, 1, `instances: ${a.instances.map((i) => i.id).join(', ')}`);
  assert.equal(a.instances[0]!.keyName, names.keyPair);
}

/**
 * assertOneOfEach, and wired to each other: the host has the instance profile and is in the
 * pipeline's security group (with `oneGroup`: in that one only).
 */
export function assertOneOfEachWired(
  a: AwsAudit,
  pipelineId: string,
  options: { oneGroup?: boolean } = {},
): void {
  assertOneOfEach(a, pipelineId);
  const host = a.instances[0]!;
  const names = awsNames(pipelineId);
  assert.match(host.profileArn ?? '', new RegExp(`instance-profile/${names.instanceProfile}$`));
  if (options.oneGroup) assert.equal(host.groups.length, 1);
  assert.ok(a.securityGroups.includes(host.groups[0]!), 'the host is in its security group');
}

/** Every aws-target resource tagged for the pipeline, counted with plain SDK calls. */
export interface AwsAudit {
  securityGroups: string[];
  keyPairs: string[];
  instances: Array<{ id: string; profileArn?: string; groups: string[]; keyName?: string }>;
  roles: string[];
  instanceProfiles: Array<{ name: string; roles: string[] }>;
  secrets: string[];
  clusters: string[];
  restApis: string[];
}

export class AwsAuditor {
  readonly ec2: EC2Client;
  readonly iam: IAMClient;
  readonly secrets: SecretsManagerClient;
  readonly msk: KafkaClient;
  readonly apigw: APIGatewayClient;

  constructor(aws: AwsConfig = stackConfig().aws) {
    this.ec2 = createEc2Client(aws);
    this.iam = createIamClient(aws);
    this.secrets = createSecretsClient(aws);
    // The adapter's client only for its fix of moto's zone-less timestamps (see aws-msk.ts).
    this.msk = createMskClient(aws);
    this.apigw = createApiGatewayClient(aws);
  }

  destroy(): void {
    for (const c of [this.ec2, this.iam, this.secrets, this.msk, this.apigw]) c.destroy();
  }

  async audit(pipelineId: string): Promise<AwsAudit> {
    const tagFilter = { Name: `tag:${PIPELINE_TAG}`, Values: [pipelineId] };
    const groups = await this.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [tagFilter] }));
    const keys = await this.ec2.send(new DescribeKeyPairsCommand({ Filters: [tagFilter] }));
    const reservations = await this.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          tagFilter,
          { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
        ],
      }),
    );
    const names = awsNames(pipelineId);
    const roles: string[] = [];
    try {
      await this.iam.send(new GetRoleCommand({ RoleName: names.role }));
      const tags = await this.iam.send(new ListRoleTagsCommand({ RoleName: names.role }));
      if (tags.Tags?.some((t) => t.Key === PIPELINE_TAG && t.Value === pipelineId))
        roles.push(names.role);
    } catch (err) {
      if ((err as Error).name !== 'NoSuchEntityException') throw err;
    }
    const instanceProfiles: AwsAudit['instanceProfiles'] = [];
    try {
      const p = await this.iam.send(
        new GetInstanceProfileCommand({ InstanceProfileName: names.instanceProfile }),
      );
      instanceProfiles.push({
        name: names.instanceProfile,
        roles: (p.InstanceProfile?.Roles ?? []).map((r) => r.RoleName ?? ''),
      });
    } catch (err) {
      if ((err as Error).name !== 'NoSuchEntityException') throw err;
    }
    const secrets = await this.secrets.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-key', Values: [PIPELINE_TAG] },
          { Key: 'tag-value', Values: [pipelineId] },
        ],
      }),
    );
    const clusters = await this.msk.send(new ListClustersV2Command({}));
    const apis = await this.apigw.send(new GetRestApisCommand({ limit: 500 }));
    return {
      securityGroups: (groups.SecurityGroups ?? []).map((g) => g.GroupId ?? '').sort(),
      keyPairs: (keys.KeyPairs ?? []).map((k) => k.KeyName ?? '').sort(),
      instances: (reservations.Reservations ?? []).flatMap((r) =>
        (r.Instances ?? []).map((i) => ({
          id: i.InstanceId ?? '',
          ...(i.IamInstanceProfile?.Arn ? { profileArn: i.IamInstanceProfile.Arn } : {}),
          groups: (i.SecurityGroups ?? []).map((g) => g.GroupId ?? '').sort(),
          ...(i.KeyName ? { keyName: i.KeyName } : {}),
        })),
      ),
      roles,
      instanceProfiles,
      secrets: (secrets.SecretList ?? [])
        .filter((s) => s.Tags?.some((t) => t.Key === PIPELINE_TAG && t.Value === pipelineId))
        .map((s) => s.Name ?? '')
        .sort(),
      clusters: (clusters.ClusterInfoList ?? [])
        .filter((c) => c.Tags?.[PIPELINE_TAG] === pipelineId && c.State !== 'DELETING')
        .map((c) => c.ClusterArn ?? ''),
      restApis: (apis.items ?? [])
        .filter((a) => a.tags?.[PIPELINE_TAG] === pipelineId)
        .map((a) => a.id ?? ''),
    };
  }

  /** The instance's user data as the host would run it. */
  async userData(instanceId: string): Promise<string> {
    const out = await this.ec2.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
    );
    return Buffer.from(out.UserData?.Value ?? '', 'base64').toString('utf8');
  }

  async secretValue(name: string): Promise<string | undefined> {
    const out = await this.secrets.send(new GetSecretValueCommand({ SecretId: name }));
    return out.SecretString;
  }
}

export function emptyAudit(): AwsAudit {
  return {
    securityGroups: [],
    keyPairs: [],
    instances: [],
    roles: [],
    instanceProfiles: [],
    secrets: [],
    clusters: [],
    restApis: [],
  };
}

import {
  CreateClusterV2Command,
  DeleteClusterCommand,
  DescribeClusterV2Command,
  GetBootstrapBrokersCommand,
  KafkaClient,
  KafkaServiceException,
  ListClustersV2Command,
  type Cluster,
} from '@aws-sdk/client-kafka';
import type { AwsConfig } from '../config';
import type { BootstrapBrokers, CreateClusterInput, KafkaClusterInfo, MskPort } from '../ports/msk';

/**
 * moto (5.2.5) writes a cluster's `creationTime` with Python's naive `datetime.now().isoformat()`
 * (`2026-01-02T03:04:05.123456`, no offset), which the SDK refuses as RFC 3339, failing the whole
 * DescribeClusterV2 / ListClustersV2 response. Only with an endpoint override (never on AWS,
 * whose timestamps carry `Z`), this adds the `Z` before the SDK parses the body; moto's clock is
 * taken to be UTC.
 */
const naiveCreationTime = /("creationTime"\s*:\s*"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)"/g;

async function readBody(body: unknown): Promise<Uint8Array | undefined> {
  if (body instanceof Uint8Array) return body;
  if (body && typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk);
    }
    return Buffer.concat(chunks);
  }
  return undefined;
}

export function createMskClient(aws: AwsConfig): KafkaClient {
  const client = new KafkaClient({
    region: aws.region,
    ...(aws.controlEndpoint ? { endpoint: aws.controlEndpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 3,
  });
  if (aws.controlEndpoint) {
    client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const response = out.response as { statusCode?: number; body?: unknown };
        if (!response.statusCode || response.statusCode >= 300) return out;
        const bytes = await readBody(response.body);
        if (!bytes) return out;
        const text = new TextDecoder().decode(bytes);
        response.body = new TextEncoder().encode(text.replace(naiveCreationTime, '$1Z"'));
        return out;
      },
      // Low priority in the deserialize step: between the HTTP handler and the deserializer.
      { step: 'deserialize', priority: 'low', name: 'pinpipeNaiveCreationTime' },
    );
  }
  return client;
}

function toInfo(c: Cluster): KafkaClusterInfo {
  const auth = c.Provisioned?.ClientAuthentication ?? c.Serverless?.ClientAuthentication;
  return {
    arn: c.ClusterArn ?? '',
    name: c.ClusterName ?? '',
    state: c.State ?? 'unknown',
    tags: { ...(c.Tags ?? {}) },
    ...(c.CreationTime ? { creationTime: c.CreationTime.toISOString() } : {}),
    ...(auth ? { iamAuth: auth.Sasl?.Iam?.Enabled === true } : {}),
  };
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? '';
}

/**
 * An answer that is not an AWS error at all (no modelled exception: an HTML page, a bare 500).
 * AWS answers every failure with a modelled exception; moto answers an unimplemented call or a
 * KeyError in its model (an unknown ARN) with an HTML 500.
 */
function isUnmodelledFailure(err: unknown): boolean {
  return !(err instanceof KafkaServiceException);
}

export class AwsMsk implements MskPort {
  constructor(private readonly kafka: KafkaClient) {}

  async findClustersByName(name: string): Promise<KafkaClusterInfo[]> {
    return (await this.listClusters(name)).filter((c) => c.name === name);
  }

  async describeCluster(arn: string): Promise<KafkaClusterInfo | undefined> {
    try {
      const out = await this.kafka.send(new DescribeClusterV2Command({ ClusterArn: arn }));
      return out.ClusterInfo ? toInfo(out.ClusterInfo) : undefined;
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return undefined;
      // moto 5.2.5 answers an unknown ARN with an HTML 500 rather than NotFoundException: the
      // list (authoritative on both) decides whether the cluster is absent.
      if (isUnmodelledFailure(err) && !(await this.listed(arn))) return undefined;
      throw err;
    }
  }

  async createCluster(input: CreateClusterInput): Promise<KafkaClusterInfo> {
    const out = await this.kafka.send(
      new CreateClusterV2Command({
        ClusterName: input.name,
        Tags: input.tags,
        Provisioned: {
          KafkaVersion: input.kafkaVersion,
          NumberOfBrokerNodes: input.brokerCount,
          BrokerNodeGroupInfo: {
            ClientSubnets: input.subnetIds,
            SecurityGroups: input.securityGroupIds,
            InstanceType: input.instanceType,
            StorageInfo: { EbsStorageInfo: { VolumeSize: input.volumeGiB } },
          },
          EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
          ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
        },
      }),
    );
    if (!out.ClusterArn) throw new Error('CreateClusterV2 returned no cluster ARN');
    return {
      arn: out.ClusterArn,
      name: out.ClusterName ?? input.name,
      state: out.State ?? 'CREATING',
      tags: { ...input.tags },
      iamAuth: true,
    };
  }

  async bootstrapBrokers(arn: string): Promise<BootstrapBrokers> {
    try {
      const out = await this.kafka.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }));
      return {
        ...(out.BootstrapBrokerStringSaslIam ? { saslIam: out.BootstrapBrokerStringSaslIam } : {}),
        ...(out.BootstrapBrokerStringTls ? { tls: out.BootstrapBrokerStringTls } : {}),
        ...(out.BootstrapBrokerString ? { plaintext: out.BootstrapBrokerString } : {}),
      };
    } catch (err) {
      // AWS's own failures (a cluster not ACTIVE yet: BadRequestException) pass through as they
      // are. moto 5.2.5 does not implement GetBootstrapBrokers and answers an HTML 500.
      if (isUnmodelledFailure(err)) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata
          ?.httpStatusCode;
        throw new Error(
          `GetBootstrapBrokers is not available at this endpoint: it answered ` +
            `${status ? `HTTP ${status}` : 'nothing'} without an AWS error (moto does not ` +
            `implement the call): ${String((err as Error).message).split('\n')[0]}`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  async deleteCluster(arn: string): Promise<void> {
    try {
      await this.kafka.send(new DeleteClusterCommand({ ClusterArn: arn }));
    } catch (err) {
      if (errorName(err) === 'NotFoundException') return;
      // moto 5.2.5: an unknown ARN is an HTML 500 (see describeCluster).
      if (isUnmodelledFailure(err) && !(await this.listed(arn))) return;
      throw err;
    }
  }

  private async listed(arn: string): Promise<boolean> {
    return (await this.listClusters()).some((c) => c.arn === arn);
  }

  /** ListClustersV2, every page; `prefix` is MSK's ClusterNameFilter (a name prefix). */
  private async listClusters(prefix?: string): Promise<KafkaClusterInfo[]> {
    const found: KafkaClusterInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.kafka.send(
        new ListClustersV2Command({
          ...(prefix ? { ClusterNameFilter: prefix } : {}),
          NextToken: token,
        }),
      );
      for (const c of page.ClusterInfoList ?? []) found.push(toInfo(c));
      token = page.NextToken;
    } while (token);
    return found;
  }
}

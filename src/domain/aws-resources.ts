/**
 * The aws target's resources by name, and the documents they carry (DESIGN 5). Pure: the
 * provisioning activities create what these functions name, teardown proves ownership with the
 * same tag, and the tests read the same policies. One pipeline, one name per resource: a second
 * run finds by name what the first made, which is what makes every step idempotent.
 */

import { PIPELINE_TAG } from './inventory';
import { TABLES, topicFor } from './tables';

/** The tag every aws resource carries, plus a Name for the consoles. */
export function awsTags(pipelineId: string, role: string): Record<string, string> {
  return { [PIPELINE_TAG]: pipelineId, Name: `pinpipe-${pipelineId}-${role}` };
}

export function ownedBy(tags: Record<string, string>, pipelineId: string): boolean {
  return tags[PIPELINE_TAG] === pipelineId;
}

export interface AwsNames {
  clientSecurityGroup: string;
  kafkaSecurityGroup: string;
  role: string;
  instanceProfile: string;
  /** The role's inline policy. */
  policy: string;
  keyPair: string;
  sshKeySecret: string;
  apiTokenSecret: string;
  /** PINPIPE_SIGNING_KEY, shared by the host's API and worker (signed runs of records). */
  signingKeySecret: string;
  cluster: string;
  restApi: string;
  stage: string;
  /**
   * The client host's worker's task queue: ingestion runs there, next to the cluster it reads
   * (the provisioning worker may be anywhere, and its role may not reach MSK).
   */
  hostTaskQueue: string;
}

export function awsNames(pipelineId: string): AwsNames {
  const base = `pinpipe-${pipelineId}`;
  return {
    clientSecurityGroup: `${base}-client`,
    kafkaSecurityGroup: `${base}-kafka`,
    role: `${base}-client`,
    instanceProfile: `${base}-client`,
    policy: `${base}-least-privilege`,
    keyPair: base,
    sshKeySecret: `pinpipe/${pipelineId}/ssh-private-key`,
    apiTokenSecret: `pinpipe/${pipelineId}/api-token`,
    signingKeySecret: `pinpipe/${pipelineId}/signing-key`,
    cluster: base,
    restApi: base,
    stage: 'v1',
    hostTaskQueue: `${base}-host`,
  };
}

/**
 * The application tarball (`npm pack` output) in the pipeline bucket, which the client host
 * fetches when aws.appSource is unset (its role may read its bucket).
 */
export const APP_OBJECT_KEY = '_pinpipe/app/pinpipe.tgz';
export const appObjectUrl = (bucket: string) => `s3://${bucket}/${APP_OBJECT_KEY}`;

/** The ingest API's port on the client host (DESIGN 8). */
export const API_PORT = 8082;
/** MSK's port for TLS + IAM clients. */
export const MSK_IAM_PORT = 9098;

/** EC2 may assume the client host's role; nothing else. */
export function ec2TrustPolicy(): unknown {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'ec2.amazonaws.com' },
        Action: 'sts:AssumeRole',
      },
    ],
  };
}

export interface LeastPrivilegeInput {
  pipelineId: string;
  bucket: string;
  /** The MSK cluster's ARN; absent when the brokers are not MSK (no kafka-cluster statements). */
  clusterArn?: string;
  /** The ARNs of the secrets the host reads (the API token). */
  secretArns: string[];
}

/**
 * The client host's inline policy: its bucket (objects and listing), its topics and consumer
 * groups on its cluster, its secrets. MSK's topic and group ARNs are the cluster's ARN with
 * `cluster` replaced by `topic` / `group` and the topic name appended (MSK IAM access control).
 */
export function leastPrivilegePolicy(input: LeastPrivilegeInput): unknown {
  const statements: unknown[] = [
    {
      Sid: 'Bucket',
      Effect: 'Allow',
      Action: ['s3:ListBucket', 's3:GetBucketLocation'],
      Resource: `arn:aws:s3:::${input.bucket}`,
    },
    {
      Sid: 'Objects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      Resource: `arn:aws:s3:::${input.bucket}/*`,
    },
  ];
  if (input.clusterArn !== undefined) {
    const topicBase = input.clusterArn.replace(':cluster/', ':topic/');
    const groupBase = input.clusterArn.replace(':cluster/', ':group/');
    statements.push(
      {
        Sid: 'Cluster',
        Effect: 'Allow',
        // The API's producer is idempotent (kafkajs): MSK asks for this on the cluster.
        Action: [
          'kafka-cluster:Connect',
          'kafka-cluster:DescribeCluster',
          'kafka-cluster:WriteDataIdempotently',
        ],
        Resource: input.clusterArn,
      },
      {
        Sid: 'Topics',
        Effect: 'Allow',
        Action: [
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:ReadData',
          'kafka-cluster:WriteData',
        ],
        Resource: TABLES.map((t) => `${topicBase}/${topicFor(input.pipelineId, t)}`),
      },
      {
        // The sink's groups (workflow-ids.ts ingestGroupId), which mirror its ledger.
        Sid: 'Groups',
        Effect: 'Allow',
        Action: ['kafka-cluster:AlterGroup', 'kafka-cluster:DescribeGroup'],
        Resource: `${groupBase}/pinpipe-sink-${input.pipelineId}.*`,
      },
    );
  }
  if (input.secretArns.length > 0) {
    statements.push({
      Sid: 'Secrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue'],
      Resource: input.secretArns,
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** API Gateway's invoke URL of a REST API stage. */
export function invokeUrl(apiId: string, region: string, stage: string): string {
  return `https://${apiId}.execute-api.${region}.amazonaws.com/${stage}`;
}

/** Order-insensitive JSON equality, for comparing policies IAM hands back with ours. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([x], [y]) =>
      x < y ? -1 : x > y ? 1 : 0,
    );
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

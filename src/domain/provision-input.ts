/**
 * The provisionPipeline workflow's input (DESIGN 2, 3 and 5). Validated in the workflow so a bad
 * start fails at once, non-retryable, with a message naming the field. Corrections sent with the
 * `retryStep` update are validated against the same schema after merging.
 */

import { z } from 'zod';
import { ingestTopicInputSchema } from './ingest-input';
import { PIPELINE_ID_PATTERN, bucketFor } from './tables';
import { formatZodIssues } from './zod-messages';

const DAY_MS = 24 * 3600_000;

/** An IPv4 CIDR block. */
const CIDR_PATTERN = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;

/** A five-field cron expression (the nightly schedule's spec); fields are checked by Temporal. */
const CRON_PATTERN = /^\s*\S+(\s+\S+){4}\s*$/;

export const provisionInputSchema = z
  .object({
    pipelineId: z.string().regex(PIPELINE_ID_PATTERN, 'expected 12 lowercase hex characters'),
    /** `local` runs every step against the local stack (moto for EC2); `aws` against AWS. */
    target: z.enum(['local', 'aws']).default('local'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region such as us-east-1')
      .default('us-east-1'),
    /** `plan` changes nothing and reports, per resource, create / exists / differs. */
    mode: z.enum(['apply', 'plan']).default('apply'),
    bucket: z
      .object({
        /** Defaults to `user-<id>-bucket`. */
        name: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name')
          .optional(),
        /** Default SSE-S3 encryption, where the target supports it. */
        encryption: z.boolean().default(true),
        /** Block every kind of public access, where the target supports it. */
        blockPublicAccess: z.boolean().default(true),
      })
      .prefault({}),
    topics: z
      .object({
        partitions: z.int().min(1).max(1000).default(3),
        replicationFactor: z.int().min(1).max(10).default(1),
        retentionMs: z
          .int()
          .min(3600_000)
          .max(365 * DAY_MS)
          .default(7 * DAY_MS),
      })
      .prefault({}),
    clientHost: z
      .object({
        /** The AMI; when absent, the newest Amazon Linux 2023 x86_64 image of the region. */
        imageId: z
          .string()
          .regex(/^ami-[0-9a-z]+$/, 'expected an AMI id such as ami-0abc1234')
          .optional(),
        instanceType: z
          .string()
          .regex(/^[a-z0-9-]+\.[a-z0-9]+$/, 'expected e.g. t3.micro')
          .default('t3.micro'),
        subnetId: z
          .string()
          .regex(/^subnet-[0-9a-z]+$/, 'expected subnet-…')
          .optional(),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-z]+$/, 'expected sg-…')).optional(),
        keyName: z.string().min(1).optional(),
        /** Kafka bootstrap servers the host's ingest API produces to (MSK's, on AWS). */
        kafkaBrokers: z
          .string()
          .regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, 'expected host:port[,host:port…]')
          .default('127.0.0.1:9092'),
        /** Cloud-init script; the default installs and starts the ingest API. */
        userData: z.string().max(16_000).optional(),
        /** How long to wait for `running` and passing status checks. */
        readyTimeoutSeconds: z.int().min(5).max(3600).default(600),
      })
      .prefault({}),
    /** The aws target's own resources (ignored by the local target). */
    aws: z
      .object({
        /** SSH (port 22) to the client host from this CIDR; absent: no SSH rule. */
        sshCidr: z
          .string()
          .regex(CIDR_PATTERN, 'expected an IPv4 CIDR such as 203.0.113.7/32')
          .optional(),
        /** Who may reach the ingest API's port directly (API Gateway's proxy calls from AWS addresses). */
        apiCidr: z
          .string()
          .regex(CIDR_PATTERN, 'expected an IPv4 CIDR such as 0.0.0.0/0')
          .default('0.0.0.0/0'),
        kafka: z
          .object({
            /**
             * `create` an MSK cluster (TLS + IAM), `adopt` the one at `clusterArn`, or use
             * `clientHost.kafkaBrokers` as given (`brokers`: no cluster is touched).
             */
            mode: z.enum(['create', 'adopt', 'brokers']).default('create'),
            clusterArn: z
              .string()
              .regex(
                /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+$/,
                'expected an MSK cluster ARN',
              )
              .optional(),
            kafkaVersion: z
              .string()
              .regex(/^\d+\.\d+\.\d+/, 'expected e.g. 3.6.0')
              .default('3.6.0'),
            /** A multiple of the number of subnets (MSK puts the same number in each). */
            brokerCount: z.int().min(2).max(30).default(2),
            instanceType: z
              .string()
              .regex(/^kafka\.[a-z0-9]+\.[a-z0-9]+$/, 'expected e.g. kafka.t3.small')
              .default('kafka.t3.small'),
            volumeGiB: z.int().min(1).max(16384).default(10),
            /** At least two, in different zones; absent: the default VPC's default subnets. */
            subnetIds: z
              .array(z.string().regex(/^subnet-[0-9a-z]+$/, 'expected subnet-…'))
              .min(2)
              .optional(),
            /** How often the durable wait looks at a cluster being created. */
            pollSeconds: z.int().min(1).max(600).default(30),
            /** How long a cluster may stay CREATING before the step fails (and parks). */
            readyTimeoutMinutes: z.int().min(1).max(240).default(90),
          })
          .prefault({}),
        apiGateway: z
          .object({
            enabled: z.boolean().default(true),
            stage: z
              .string()
              .regex(/^[a-zA-Z0-9_]{1,128}$/, 'expected a stage name such as v1')
              .default('v1'),
          })
          .prefault({}),
        /**
         * Where the client host fetches the application (`npm pack` output): an `s3://` or
         * `https://` URL. Absent: `s3://<bucket>/_pinpipe/app/pinpipe.tgz` (the host's role may read
         * its bucket), or an AMI that has /opt/pinpipe already.
         */
        appSource: z
          .string()
          .regex(/^(s3|https):\/\/\S+$/, 'expected an s3:// or https:// URL')
          .optional(),
        /** Temporal's address (host:port) for the host's worker; absent: the host runs the API only. */
        temporalAddress: z
          .string()
          .regex(/^[^\s:]+:\d+$/, 'expected host:port')
          .optional(),
      })
      .prefault({}),
    endpoint: z
      .object({
        /** The ingest API's base URL; for `aws`, defaults to the client host's public IP. */
        url: z.url().optional(),
        /** How long to wait for `/healthz` to answer 200 (a new host needs minutes). */
        /** How long to wait for `/healthz`; default 30 s locally, 900 s on aws (a new host). */
        readyTimeoutSeconds: z.int().min(1).max(3600).optional(),
      })
      .prefault({}),
    ingestion: z
      .object({
        start: z.boolean().default(true),
        maxRecords: ingestTopicInputSchema.shape.maxRecords.optional(),
        maxBytes: ingestTopicInputSchema.shape.maxBytes.optional(),
        rotateIntervalMs: ingestTopicInputSchema.shape.rotateIntervalMs.optional(),
      })
      .prefault({}),
    schedule: z
      .object({
        enabled: z.boolean().default(true),
        cron: z
          .string()
          .regex(CRON_PATTERN, 'expected a cron expression with 5 fields')
          .default('0 2 * * *'),
        timezone: z.string().min(1).default('UTC'),
        paused: z.boolean().default(false),
      })
      .prefault({}),
    /** Attempts per step before it parks in awaiting-correction (each step has its own backoff). */
    maxAttemptsPerStep: z.int().min(1).max(100).default(5),
  })
  .superRefine((input, ctx) => {
    const kafka = input.aws.kafka;
    if (kafka.mode === 'adopt' && kafka.clusterArn === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['aws', 'kafka', 'clusterArn'],
        message: 'aws.kafka.mode "adopt" needs the cluster ARN',
      });
    }
    if (kafka.mode !== 'adopt' && kafka.clusterArn !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['aws', 'kafka', 'mode'],
        message: 'a clusterArn is adopted: set aws.kafka.mode to "adopt"',
      });
    }
  });

export type ProvisionInput = z.input<typeof provisionInputSchema>;
export type ProvisionSettings = z.output<typeof provisionInputSchema> & { bucketName: string };

export type ParseProvisionInput =
  { ok: true; settings: ProvisionSettings } | { ok: false; reason: string };

export function parseProvisionInput(input: unknown): ParseProvisionInput {
  const parsed = provisionInputSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, reason: formatZodIssues(parsed.error.issues, { root: 'input' }) };
  }
  return {
    ok: true,
    settings: {
      ...parsed.data,
      bucketName: parsed.data.bucket.name ?? bucketFor(parsed.data.pipelineId),
    },
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Applies a correction to the input a run started with: objects merge key by key, anything
 * else (scalars, arrays) replaces. `pipelineId` cannot change: the run owns one pipeline.
 */
export function mergeCorrection(base: ProvisionInput, patch: unknown): unknown {
  return mergeJson(base, patch as Json);
}

function mergeJson(base: Json, patch: Json): Json {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: { [key: string]: Json } = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const previous = out[key];
    out[key] = previous === undefined ? value : mergeJson(previous, value);
  }
  return out;
}

function isPlainObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

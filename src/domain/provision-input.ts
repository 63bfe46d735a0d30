/**
 * The provisionPipeline workflow's input (DESIGN 2, 3 and 5). Validated in the workflow so a bad
 * start fails at once, non-retryable, with a message naming the field. Corrections sent with the
 * `retryStep` update are validated against the same schema after merging.
 */

import { z } from 'zod';
import { ingestTopicInputSchema } from './ingest-input';
import { PIPELINE_ID_PATTERN, bucketFor } from './tables';

const DAY_MS = 24 * 3600_000;

/** A five-field cron expression (the nightly schedule's spec); fields are checked by Temporal. */
const CRON_PATTERN = /^\s*\S+(\s+\S+){4}\s*$/;

export const provisionInputSchema = z.object({
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
  endpoint: z
    .object({
      /** The ingest API's base URL; for `aws`, defaults to the client host's public IP. */
      url: z.url().optional(),
      /** How long to wait for `/healthz` to answer 200 (a new host needs minutes). */
      readyTimeoutSeconds: z.int().min(1).max(3600).default(30),
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
});

export type ProvisionInput = z.input<typeof provisionInputSchema>;
export type ProvisionSettings = z.output<typeof provisionInputSchema> & { bucketName: string };

export type ParseProvisionInput =
  { ok: true; settings: ProvisionSettings } | { ok: false; reason: string };

export function parseProvisionInput(input: unknown): ParseProvisionInput {
  const parsed = provisionInputSchema.safeParse(input);
  if (!parsed.success) {
    const reason = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`)
      .join('; ');
    return { ok: false, reason };
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

import { statSync } from 'node:fs';
import path from 'node:path';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import {
  COMPRESSIONS,
  SASL_MECHANISMS,
  kafkaSecurityProblems,
  type KafkaSecurity,
  type KafkaSettings,
} from './kafka-settings';
import { zodIssueMessages } from './domain/zod-messages';

/**
 * The one place that reads the environment. Called only by process edges (worker, API, CLI);
 * everything below them receives typed values. Every error names the variable and the form it
 * expects, so a person can fix it without reading code.
 */

const hostPort = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

const brokerList = z
  .string()
  .trim()
  .min(1)
  .transform((value) => value.split(',').map((b) => b.trim()))
  .refine((brokers) => brokers.every((b) => hostPort.test(b)), {
    message: 'expected a comma-separated list of host:port, e.g. 127.0.0.1:9092',
  });

const httpUrl = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\/[^\s/]+/.test(v) && URL.canParse(v), {
    message: 'expected an http(s) URL, e.g. http://127.0.0.1:7070',
  });

const port = z.coerce
  .number({ message: 'expected a port number' })
  .int('expected a port number')
  .min(1, 'expected a port number between 1 and 65535')
  .max(65535, 'expected a port number between 1 and 65535');

/**
 * DuckDB's httpfs extension as a file. DuckDB takes the extension's name from the file name, so
 * it must be `httpfs.duckdb_extension`; checked here so a wrong path fails at start, not at night.
 */
const httpfsExtensionFile = z
  .string()
  .trim()
  .transform((value) => path.resolve(value))
  .superRefine((file, ctx) => {
    const fix =
      'point it at the httpfs.duckdb_extension built for the DuckDB of @duckdb/node-api ' +
      '(`bash scripts/stack.sh bin duckdb-httpfs` prints one), or unset it to LOAD httpfs from ' +
      "DuckDB's own extension directory";
    if (path.basename(file) !== 'httpfs.duckdb_extension') {
      ctx.addIssue({ code: 'custom', message: `not a file named httpfs.duckdb_extension; ${fix}` });
      return;
    }
    const stats = statSync(file, { throwIfNoEntry: false });
    if (!stats) ctx.addIssue({ code: 'custom', message: `${file} does not exist; ${fix}` });
    else if (!stats.isFile())
      ctx.addIssue({ code: 'custom', message: `${file} is not a file; ${fix}` });
  });

const emptyAsUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const flag = z.preprocess(
  emptyAsUndefined,
  z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .optional()
    .transform((v) => v === 'true' || v === '1'),
);

/** A file that must exist and be readable at start (a CA bundle). */
const existingFile = z
  .string()
  .trim()
  .transform((value) => path.resolve(value))
  .superRefine((file, ctx) => {
    const stats = statSync(file, { throwIfNoEntry: false });
    if (!stats) ctx.addIssue({ code: 'custom', message: `${file} does not exist` });
    else if (!stats.isFile()) ctx.addIssue({ code: 'custom', message: `${file} is not a file` });
  });

export const envSchema = z.object({
  // Unset means: take them from the Temporal profile (TEMPORAL_PROFILE / temporal.toml), else local.
  TEMPORAL_ADDRESS: z.preprocess(
    emptyAsUndefined,
    z.string().regex(hostPort, 'expected host:port, e.g. 127.0.0.1:7233').optional(),
  ),
  TEMPORAL_NAMESPACE: z.preprocess(emptyAsUndefined, z.string().min(1).optional()),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('pinpipe'),
  /** Where the CLI points people to watch a workflow (the Web UI, or Temporal Cloud's). */
  TEMPORAL_UI_URL: httpUrl.default('http://127.0.0.1:8233'),
  KAFKA_BROKERS: brokerList.default(['127.0.0.1:9092']),
  KAFKA_CLIENT_ID: z.string().min(1).default('pinpipe'),
  /** TLS to every broker (MSK, Confluent Cloud); KAFKA_SSL_CA_FILE adds a private CA. */
  KAFKA_SSL: flag,
  KAFKA_SSL_CA_FILE: z.preprocess(emptyAsUndefined, existingFile.optional()),
  KAFKA_SASL_MECHANISM: z.preprocess(
    emptyAsUndefined,
    z
      .enum(SASL_MECHANISMS, {
        message: `expected one of ${SASL_MECHANISMS.join(', ')} (or unset for no SASL)`,
      })
      .optional(),
  ),
  KAFKA_SASL_USERNAME: z.preprocess(emptyAsUndefined, z.string().optional()),
  KAFKA_SASL_PASSWORD: z.preprocess(emptyAsUndefined, z.string().optional()),
  /** A ready OAuth 2 bearer token (JWT) for KAFKA_SASL_MECHANISM=oauthbearer. */
  KAFKA_SASL_OAUTHBEARER_TOKEN: z.preprocess(emptyAsUndefined, z.string().optional()),
  /** Codec of the batches the API and the emulator produce; the sink reads every codec. */
  KAFKA_COMPRESSION: z
    .enum(COMPRESSIONS, { message: `expected one of ${COMPRESSIONS.join(', ')}` })
    .default('none'),
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'expected an AWS region, e.g. us-east-1')
    .default('us-east-1'),
  AWS_ACCESS_KEY_ID: z.preprocess(emptyAsUndefined, z.string().optional()),
  AWS_SECRET_ACCESS_KEY: z.preprocess(emptyAsUndefined, z.string().optional()),
  AWS_ENDPOINT_URL_S3: z.preprocess(emptyAsUndefined, httpUrl.optional()),
  AWS_ENDPOINT_URL_EC2: z.preprocess(emptyAsUndefined, httpUrl.optional()),
  AWS_ENDPOINT_URL: z.preprocess(emptyAsUndefined, httpUrl.optional()),
  PINPIPE_PIPELINE_ID: z
    .string()
    .regex(/^[0-9a-f]{12}$/, 'expected 12 lowercase hex characters, e.g. 5eedcafe0001')
    .default('5eedcafe0001'),
  /**
   * The pipelines the ingest API serves; a topic of any other answers 404. Unset: only
   * PINPIPE_PIPELINE_ID.
   */
  PINPIPE_PIPELINE_IDS: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((value) => [...new Set(value.split(',').map((id) => id.trim()))])
      .superRefine((ids, ctx) => {
        const bad = ids.filter((id) => !/^[0-9a-f]{12}$/.test(id));
        if (bad.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message:
              `not a pipeline id: ${bad.map((id) => JSON.stringify(id)).join(', ')}; expected a ` +
              'comma-separated list of pipeline ids, 12 lowercase hex characters each, e.g. ' +
              '5eedcafe0001,0a1b2c3d4e5f (or unset to serve PINPIPE_PIPELINE_ID only)',
          });
        }
      })
      .optional(),
  ),
  PINPIPE_API_TOKEN: z.preprocess(emptyAsUndefined, z.string().min(8).optional()),
  /** Shared by the ingest API and the workers (kafka-settings.ts, signingKey). */
  PINPIPE_SIGNING_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .min(
        32,
        'expected at least 32 characters (e.g. `openssl rand -hex 32`), the same for the ' +
          'ingest API and every worker; or unset, and the sink validates every record',
      )
      .optional(),
  ),
  PINPIPE_API_PORT: port.default(8082),
  /** 127.0.0.1 locally; 0.0.0.0 on the EC2 client host, behind its security group. */
  PINPIPE_API_HOST: z
    .string()
    .regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'expected an IP address to listen on, e.g. 127.0.0.1')
    .default('127.0.0.1'),
  PINPIPE_METRICS_PORT: port.default(9464),
  /** The analytics read the clean zone in S3 with DuckDB's httpfs, loaded from this file. */
  PINPIPE_DUCKDB_HTTPFS: z.preprocess(emptyAsUndefined, httpfsExtensionFile.optional()),
});

export type Env = z.infer<typeof envSchema>;

export interface AwsConfig {
  region: string;
  /** Only set when both key variables are; otherwise the SDK's default credential chain applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  s3Endpoint?: string;
  ec2Endpoint?: string;
  /**
   * Where IAM, Secrets Manager, API Gateway and MSK are called (AWS_ENDPOINT_URL): moto on the
   * local stack; unset on AWS. EC2 falls back to it when AWS_ENDPOINT_URL_EC2 is unset.
   */
  controlEndpoint?: string;
}

export interface Config {
  temporal: {
    /** Address, namespace, TLS and API key from Temporal's standard env/profile configuration. */
    connect: ClientConnectConfig;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
  };
  kafka: KafkaSettings;
  aws: AwsConfig;
  pipelineId: string;
  /** `pipelines`: the pipeline ids the ingest API serves (PINPIPE_PIPELINE_IDS). */
  api: { port: number; host: string; token?: string; pipelines: string[] };
  metrics: { port: number };
  /** Unset httpfsExtension: `LOAD httpfs` from DuckDB's extension directory. */
  duckdb: { httpfsExtension?: string };
}

/** Addresses that only this machine can reach. */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Why the ingest API must not listen as configured, or undefined: anyone who reaches a
 * non-loopback address could write to the pipeline's topics, so listening there needs
 * PINPIPE_API_TOKEN (DESIGN section 8). Checked by the API's entry point only: the worker and
 * the CLI share the environment but do not listen.
 */
export function apiListenProblem(api: Config['api']): string | undefined {
  if (api.token || LOOPBACK.test(api.host)) return undefined;
  return (
    `PINPIPE_API_HOST=${JSON.stringify(api.host)} listens beyond this machine, so the API ` +
    'needs PINPIPE_API_TOKEN (clients then send Authorization: Bearer <token>); set one ' +
    '(e.g. `openssl rand -hex 24`) or listen on 127.0.0.1'
  );
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      // `NAME="value": message`, one problem per line.
      zodIssueMessages(parsed.error.issues, {
        root: 'environment',
        label: (name, issue) => {
          if (issue.path.length === 0) return name;
          const value = env[name];
          return `${name}=${value === undefined ? 'unset' : JSON.stringify(value)}`;
        },
      }),
    );
  }
  const e = parsed.data;
  if (Boolean(e.AWS_ACCESS_KEY_ID) !== Boolean(e.AWS_SECRET_ACCESS_KEY)) {
    throw new ConfigError([
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both or neither (neither uses the default AWS credential chain)',
    ]);
  }
  const security: KafkaSecurity = {
    ssl: e.KAFKA_SSL,
    ...(e.KAFKA_SSL_CA_FILE ? { caFile: e.KAFKA_SSL_CA_FILE } : {}),
    ...(e.KAFKA_SASL_MECHANISM ? { saslMechanism: e.KAFKA_SASL_MECHANISM } : {}),
    ...(e.KAFKA_SASL_USERNAME ? { username: e.KAFKA_SASL_USERNAME } : {}),
    ...(e.KAFKA_SASL_PASSWORD ? { password: e.KAFKA_SASL_PASSWORD } : {}),
    ...(e.KAFKA_SASL_OAUTHBEARER_TOKEN ? { oauthToken: e.KAFKA_SASL_OAUTHBEARER_TOKEN } : {}),
  };
  const kafkaProblems = kafkaSecurityProblems(security);
  if (kafkaProblems.length > 0) throw new ConfigError(kafkaProblems);
  const envVars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  let connect: ClientConnectConfig;
  try {
    connect = loadClientConnectConfig({ overrideEnvVars: envVars });
  } catch (err) {
    throw new ConfigError([`Temporal client configuration (TEMPORAL_*): ${String(err)}`]);
  }
  connect.connectionOptions.address ??= '127.0.0.1:7233';
  const namespace = connect.namespace ?? 'default';
  return {
    temporal: {
      connect: { ...connect, namespace },
      namespace,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    },
    kafka: {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID,
      security,
      compression: e.KAFKA_COMPRESSION,
      region: e.AWS_REGION,
      ...(e.PINPIPE_SIGNING_KEY ? { signingKey: e.PINPIPE_SIGNING_KEY } : {}),
    },
    aws: {
      region: e.AWS_REGION,
      ...(e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? {
            credentials: {
              accessKeyId: e.AWS_ACCESS_KEY_ID,
              secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
            },
          }
        : {}),
      ...(e.AWS_ENDPOINT_URL_S3 ? { s3Endpoint: e.AWS_ENDPOINT_URL_S3 } : {}),
      ...((e.AWS_ENDPOINT_URL_EC2 ?? e.AWS_ENDPOINT_URL)
        ? { ec2Endpoint: e.AWS_ENDPOINT_URL_EC2 ?? e.AWS_ENDPOINT_URL }
        : {}),
      ...(e.AWS_ENDPOINT_URL ? { controlEndpoint: e.AWS_ENDPOINT_URL } : {}),
    },
    pipelineId: e.PINPIPE_PIPELINE_ID,
    api: {
      port: e.PINPIPE_API_PORT,
      host: e.PINPIPE_API_HOST,
      ...(e.PINPIPE_API_TOKEN ? { token: e.PINPIPE_API_TOKEN } : {}),
      pipelines: e.PINPIPE_PIPELINE_IDS ?? [e.PINPIPE_PIPELINE_ID],
    },
    metrics: { port: e.PINPIPE_METRICS_PORT },
    duckdb: e.PINPIPE_DUCKDB_HTTPFS ? { httpfsExtension: e.PINPIPE_DUCKDB_HTTPFS } : {},
  };
}

import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetPublicAccessBlockCommand,
  PutBucketEncryptionCommand,
  PutPublicAccessBlockCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AwsConfig } from '../config';
import {
  CONDITIONAL_WRITE_PROBE_PREFIX,
  classifyConditionalWriteProbe,
  type ConditionalWriteVerdict,
  type ProbeAnswer,
} from '../domain/conditional-writes';
import type {
  BucketSecurity,
  BucketSecurityWanted,
  SecuritySetting,
  ObjectHead,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
  PutIfAbsentResult,
  PutObjectInput,
} from '../ports/object-store';

/**
 * Whether object bodies go unsigned (`x-amz-content-sha256: UNSIGNED-PAYLOAD`): over HTTPS, where
 * TLS already guards the bytes (the SDK v2 and the Java SDK default to it there), and to a
 * loopback endpoint, which no network lies between. Hashing every body for SigV4 cost the sink
 * ~0.3 µs a record (SHA-256 of its NDJSON) on the 2-core machine. Elsewhere (plain HTTP across a
 * network) bodies stay signed.
 */
export function unsignedPayloadFor(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return true; // AWS itself, over HTTPS
  const url = new URL(endpoint);
  return url.protocol === 'https:' || /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);
}

const BODY_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);

export function createS3Client(aws: AwsConfig): S3Client {
  const client = createPlainS3Client(aws);
  if (unsignedPayloadFor(aws.s3Endpoint)) {
    client.middlewareStack.add(
      (next, context) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (BODY_COMMANDS.has(context.commandName ?? '') && request.headers) {
          // SigV4 signs the header's value instead of hashing the body when it is set.
          request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        }
        return next(args);
      },
      { step: 'build', name: 'pinpipeUnsignedPayload' },
    );
  }
  return client;
}

function createPlainS3Client(aws: AwsConfig): S3Client {
  return new S3Client({
    region: aws.region,
    ...(aws.s3Endpoint ? { endpoint: aws.s3Endpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    // Path-style works with every S3-compatible server and needs no wildcard DNS.
    forcePathStyle: true,
    // Only send/verify the newer flexible checksums where S3 demands them: S3-compatible
    // servers differ in support, and MD5/ETag integrity still applies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

function status(err: unknown): number | undefined {
  if (err instanceof S3ServiceException) return err.$metadata.httpStatusCode;
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata;
  return meta?.httpStatusCode;
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return status(err) === 404 || name === 'NotFound' || name === 'NoSuchKey';
}

/**
 * S3 answers 412 when the key exists; 409 when a concurrent conditional write is in flight (the
 * object may not be there yet: the caller looks, and tries again later if it is not).
 */
function isAlreadyExists(err: unknown): boolean {
  const name = errorName(err);
  return (
    status(err) === 412 ||
    name === 'PreconditionFailed' ||
    (status(err) === 409 && name === 'ConditionalRequestConflict')
  );
}

/** Each request of the conditional-write probe: a worker start must not hang on a dead server. */
const PROBE_REQUEST_TIMEOUT_MS = 10_000;

/** How a failed request reads in a probe verdict: status, S3 error code, message. */
function probeAnswerOf(err: unknown): ProbeAnswer {
  const httpStatus = status(err);
  const e = err as { name?: string; code?: string; message?: string } | undefined;
  // Without an HTTP status it is a network error: its code (ECONNREFUSED) says more than its name.
  const code = httpStatus === undefined ? (e?.code ?? e?.name) : e?.name;
  return {
    ...(httpStatus !== undefined ? { status: httpStatus } : {}),
    ...(code ? { code } : {}),
    ...(e?.message ? { message: e.message } : {}),
  };
}

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly s3: S3Client) {}

  /** The endpoint as a person knows it: the configured URL, else AWS S3 in its region. */
  private async endpointName(): Promise<string> {
    const custom = await this.s3.config.endpoint?.();
    if (custom) {
      const port = custom.port ? `:${custom.port}` : '';
      return `${custom.protocol}//${custom.hostname}${port}${custom.path ?? ''}`.replace(
        /\/+$/,
        '',
      );
    }
    return `AWS S3 (${await this.s3.config.region()})`;
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: bucket }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async ensureBucket(bucket: string): Promise<{ created: boolean }> {
    if (await this.bucketExists(bucket)) return { created: false };
    try {
      await this.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      return { created: true };
    } catch (err) {
      // Lost a race with another creator of the same bucket: it is ours either way.
      if (errorName(err) === 'BucketAlreadyOwnedByYou') return { created: false };
      throw err;
    }
  }

  async deleteBucket(bucket: string): Promise<void> {
    try {
      await this.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (isNotFound(err) || errorName(err) === 'NoSuchBucket') return;
      throw err;
    }
  }

  async putIfAbsent(input: PutObjectInput): Promise<PutIfAbsentResult> {
    try {
      const out = await this.s3.send(
        new PutObjectCommand({ ...this.putParams(input), IfNoneMatch: '*' }),
      );
      return { status: 'created', ...(out.ETag ? { etag: out.ETag } : {}) };
    } catch (err) {
      if (isAlreadyExists(err)) return { status: 'exists' };
      throw err;
    }
  }

  async probeConditionalWrites(bucket: string): Promise<ConditionalWriteVerdict> {
    const endpoint = await this.endpointName();
    const key = `${CONDITIONAL_WRITE_PROBE_PREFIX}${randomUUID()}`;
    const conditionalPut = async (body: string): Promise<ProbeAnswer> => {
      try {
        const out = await this.s3.send(
          new PutObjectCommand({
            ...this.putParams({ bucket, key, body, contentType: 'text/plain; charset=utf-8' }),
            IfNoneMatch: '*',
          }),
          { abortSignal: AbortSignal.timeout(PROBE_REQUEST_TIMEOUT_MS) },
        );
        return { status: out.$metadata.httpStatusCode ?? 200 };
      } catch (err) {
        return probeAnswerOf(err);
      }
    };
    try {
      const first = await conditionalPut('pinpipe conditional-write probe: first write\n');
      const written = first.code === undefined && first.status !== undefined;
      const second = written
        ? await conditionalPut('pinpipe conditional-write probe: second write (must be refused)\n')
        : undefined;
      return classifyConditionalWriteProbe({
        endpoint,
        bucket,
        key,
        first,
        ...(second ? { second } : {}),
      });
    } finally {
      // The probe leaves nothing behind; a delete that fails leaves one tiny object under
      // _pinpipe/probe/, which teardown --delete-data removes with the rest.
      await this.delete({ bucket, key }).catch(() => undefined);
    }
  }

  async put(input: PutObjectInput): Promise<{ etag?: string }> {
    const out = await this.s3.send(new PutObjectCommand(this.putParams(input)));
    return out.ETag ? { etag: out.ETag } : {};
  }

  async putFile(
    input: Omit<PutObjectInput, 'body'> & { file: string },
  ): Promise<{ etag?: string }> {
    const { size } = await stat(input.file);
    const out = await this.s3.send(
      new PutObjectCommand({
        ...this.putParams({ ...input, body: '' }),
        Body: createReadStream(input.file),
        ContentLength: size,
      }),
    );
    return out.ETag ? { etag: out.ETag } : {};
  }

  async get(ref: ObjectRef): Promise<Uint8Array | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async getStream(
    ref: ObjectRef & { start?: number },
  ): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const out = await this.s3.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(ref.start ? { Range: `bytes=${ref.start}-` } : {}),
        }),
      );
      // In Node the body is a Readable: iterable, and destroyed (request aborted) on break.
      return (out.Body as AsyncIterable<Uint8Array> | undefined) ?? (async function* () {})();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async head(ref: ObjectRef): Promise<ObjectHead | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
      return {
        key: ref.key,
        size: out.ContentLength ?? 0,
        ...(out.ETag ? { etag: out.ETag } : {}),
        ...(out.LastModified ? { lastModified: out.LastModified } : {}),
        ...(out.ContentType ? { contentType: out.ContentType } : {}),
        metadata: out.Metadata ?? {},
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async *list(input: {
    bucket: string;
    prefix: string;
    pageSize?: number;
  }): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: input.bucket,
          Prefix: input.prefix,
          ContinuationToken: token,
          ...(input.pageSize ? { MaxKeys: input.pageSize } : {}),
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield {
          key: o.Key,
          size: o.Size ?? 0,
          ...(o.ETag ? { etag: o.ETag } : {}),
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deleteMany(bucket: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    if (keys.length > 1000) throw new Error('deleteMany takes at most 1,000 keys per call');
    const out = await this.s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) {
      const first = failed[0];
      throw new Error(
        `could not delete ${failed.length} object(s) in ${bucket}, e.g. ${first?.Key}: ${first?.Code} ${first?.Message}`,
      );
    }
  }

  async bucketSecurity(bucket: string): Promise<BucketSecurity> {
    const encryption = await probeSetting(async () => {
      const out = await this.s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
      return (out.ServerSideEncryptionConfiguration?.Rules ?? []).length > 0;
    }, 'ServerSideEncryptionConfigurationNotFoundError');
    const publicAccessBlock = await probeSetting(async () => {
      const out = await this.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }));
      const c = out.PublicAccessBlockConfiguration;
      return Boolean(
        c?.BlockPublicAcls && c.BlockPublicPolicy && c.IgnorePublicAcls && c.RestrictPublicBuckets,
      );
    }, 'NoSuchPublicAccessBlockConfiguration');
    return { encryption, publicAccessBlock };
  }

  async secureBucket(bucket: string, wanted: BucketSecurityWanted): Promise<BucketSecurity> {
    const current = await this.bucketSecurity(bucket);
    if (wanted.encryption && current.encryption === 'off') {
      await this.s3.send(
        new PutBucketEncryptionCommand({
          Bucket: bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
          },
        }),
      );
      current.encryption = 'on';
    }
    if (wanted.blockPublicAccess && current.publicAccessBlock === 'off') {
      await this.s3.send(
        new PutPublicAccessBlockCommand({
          Bucket: bucket,
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            IgnorePublicAcls: true,
            BlockPublicPolicy: true,
            RestrictPublicBuckets: true,
          },
        }),
      );
      current.publicAccessBlock = 'on';
    }
    return current;
  }

  async delete(ref: ObjectRef): Promise<void> {
    try {
      await this.s3.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  private putParams(input: PutObjectInput) {
    return {
      Bucket: input.bucket,
      Key: input.key,
      Body: input.body,
      ContentType: input.contentType ?? 'application/octet-stream',
      Metadata: input.metadata ?? {},
    };
  }
}

/** Reads one bucket setting: `off` when the server says it is not configured, `unsupported` on 501. */
async function probeSetting(
  read: () => Promise<boolean>,
  notConfiguredCode: string,
): Promise<SecuritySetting> {
  try {
    return (await read()) ? 'on' : 'off';
  } catch (err) {
    if (status(err) === 501 || errorName(err) === 'NotImplemented') return 'unsupported';
    if (errorName(err) === notConfiguredCode || isNotFound(err)) return 'off';
    throw err;
  }
}

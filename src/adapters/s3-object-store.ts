import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AwsConfig } from '../config';
import type {
  ObjectHead,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
  PutIfAbsentResult,
  PutObjectInput,
} from '../ports/object-store';

export function createS3Client(aws: AwsConfig): S3Client {
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

/** S3 answers 412 when the key exists; 409 when a concurrent conditional write is in flight. */
function isAlreadyExists(err: unknown): boolean {
  const name = errorName(err);
  return (
    status(err) === 412 ||
    name === 'PreconditionFailed' ||
    (status(err) === 409 && name === 'ConditionalRequestConflict')
  );
}

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly s3: S3Client) {}

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

  async put(input: PutObjectInput): Promise<{ etag?: string }> {
    const out = await this.s3.send(new PutObjectCommand(this.putParams(input)));
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

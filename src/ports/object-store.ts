import type { ConditionalWriteVerdict } from '../domain/conditional-writes';

/** The object store as the activities see it: S3 semantics, nothing SDK-specific. */

export interface ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  lastModified?: Date;
}

export interface ObjectHead extends ObjectInfo {
  contentType?: string;
  /** User metadata (x-amz-meta-*), keys lower-cased as S3 returns them. */
  metadata: Record<string, string>;
}

export interface PutObjectInput {
  bucket: string;
  key: string;
  body: string | Uint8Array;
  contentType?: string;
  metadata?: Record<string, string>;
}

/** `exists` is not an error: a conditional put that lost the race is how idempotent writers adopt. */
export type PutIfAbsentResult = { status: 'created'; etag?: string } | { status: 'exists' };

export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface ObjectStore {
  /** Creates the bucket if missing; `created` is false when it already existed and is ours. */
  ensureBucket(bucket: string): Promise<{ created: boolean }>;
  bucketExists(bucket: string): Promise<boolean>;
  /** Deletes an empty bucket; missing is fine. */
  deleteBucket(bucket: string): Promise<void>;
  /**
   * Writes with `If-None-Match: *`: never replaces an existing object, on a server that honours
   * the header (probeConditionalWrites proves it does; a server that ignores it replaces).
   */
  putIfAbsent(input: PutObjectInput): Promise<PutIfAbsentResult>;
  /**
   * Proves the server honours `If-None-Match: *` in this bucket: writes a new object under
   * `_pinpipe/probe/` twice, conditionally (the second must be refused), then deletes it.
   * Never throws: an unreachable server is the verdict `error`.
   */
  probeConditionalWrites(bucket: string): Promise<ConditionalWriteVerdict>;
  /** Unconditional write (manifests, the commit points that are meant to be swapped). */
  put(input: PutObjectInput): Promise<{ etag?: string }>;
  /** Unconditional write of a local file, streamed (never held in memory whole). */
  putFile(input: Omit<PutObjectInput, 'body'> & { file: string }): Promise<{ etag?: string }>;
  /** The whole object, or undefined when there is none. */
  get(ref: ObjectRef): Promise<Uint8Array | undefined>;
  /**
   * The object's bytes from `start` (0 by default) to its end, as a stream the reader may stop
   * early (breaking out of the loop aborts the request); undefined when there is no object.
   */
  getStream(ref: ObjectRef & { start?: number }): Promise<AsyncIterable<Uint8Array> | undefined>;
  head(ref: ObjectRef): Promise<ObjectHead | undefined>;
  /** Every object under the prefix, in key order, following continuation tokens. */
  list(input: { bucket: string; prefix: string; pageSize?: number }): AsyncIterable<ObjectInfo>;
  /** Deleting a missing object is fine (S3 semantics). */
  delete(ref: ObjectRef): Promise<void>;
  /** Deletes up to 1,000 keys in one request; missing keys are fine. */
  deleteMany(bucket: string, keys: string[]): Promise<void>;
  /** Default encryption and public-access block, as far as the server reports them. */
  bucketSecurity(bucket: string): Promise<BucketSecurity>;
  /** Turns on what is asked; a server without the feature answers `unsupported`, not an error. */
  secureBucket(bucket: string, wanted: BucketSecurityWanted): Promise<BucketSecurity>;
}

/** `unsupported`: the server does not implement the setting (versitygw, some S3 clones). */
export type SecuritySetting = 'on' | 'off' | 'unsupported';

export interface BucketSecurity {
  encryption: SecuritySetting;
  publicAccessBlock: SecuritySetting;
}

export interface BucketSecurityWanted {
  encryption: boolean;
  blockPublicAccess: boolean;
}

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  CONDITIONAL_WRITE_PROBE_PREFIX,
  classifyConditionalWriteProbe,
  type ConditionalWriteVerdict,
  type ProbeAnswer,
} from '../../src/domain/conditional-writes';
import type {
  BucketSecurity,
  BucketSecurityWanted,
  ObjectHead,
  ObjectInfo,
  ObjectRef,
  ObjectStore,
  PutIfAbsentResult,
  PutObjectInput,
} from '../../src/ports/object-store';
import { awsError, Faults } from './faults';

/**
 * What the server does with `If-None-Match: *`: `supported` (S3: 412 on an existing key),
 * `ignored` (replaces, as some S3 clones do), `refused` (501 NotImplemented), `unreachable`
 * (the probe gets no answer: its verdict is `error`).
 */
export type ConditionalWriteMode = 'supported' | 'ignored' | 'refused' | 'unreachable';

export interface StoredObject {
  body: Uint8Array;
  contentType?: string;
  metadata: Record<string, string>;
  etag: string;
  lastModified: Date;
}

interface Bucket {
  objects: Map<string, StoredObject>;
  security: BucketSecurity;
}

export type ObjectStoreMethod = keyof ObjectStore;

const encoder = new TextEncoder();
const bytesOf = (body: string | Uint8Array) =>
  typeof body === 'string' ? encoder.encode(body) : new Uint8Array(body);
const etagOf = (body: Uint8Array) => `"${createHash('md5').update(body).digest('hex')}"`;

/**
 * ObjectStore in memory with S3's semantics where the activities rely on them: a write to a
 * missing bucket fails (NoSuchBucket), `putIfAbsent` never replaces (unless the mode says the
 * server ignores the header), listing is in key order, deleting what is missing is fine, a
 * bucket with objects cannot be deleted, user metadata keys are lower-cased.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly buckets = new Map<string, Bucket>();
  readonly faults = new Faults<ObjectStoreMethod>();
  conditionalWrites: ConditionalWriteMode = 'supported';
  /** Whether the server implements bucket encryption and public-access blocks. */
  securitySupported = true;
  /** Size of the chunks `getStream` yields (uneven reads are what real bodies give). */
  streamChunkBytes = 64 * 1024;
  /**
   * `bucket/key`s another conditional write is in flight for: a conditional put answers 409
   * ConditionalRequestConflict (the adapter's `exists`) while no object is visible yet.
   */
  readonly inFlight = new Set<string>();

  constructor(options: { buckets?: string[]; conditionalWrites?: ConditionalWriteMode } = {}) {
    for (const b of options.buckets ?? []) this.createBucket(b);
    if (options.conditionalWrites) this.conditionalWrites = options.conditionalWrites;
  }

  // ---- helpers for tests -----------------------------------------------------------------

  createBucket(bucket: string): void {
    if (this.buckets.has(bucket)) return;
    const security: BucketSecurity = this.securitySupported
      ? { encryption: 'off', publicAccessBlock: 'off' }
      : { encryption: 'unsupported', publicAccessBlock: 'unsupported' };
    this.buckets.set(bucket, { objects: new Map(), security });
  }

  object(bucket: string, key: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(key);
  }

  text(bucket: string, key: string): string | undefined {
    const o = this.object(bucket, key);
    return o ? Buffer.from(o.body).toString('utf8') : undefined;
  }

  keys(bucket: string, prefix = ''): string[] {
    return [...(this.buckets.get(bucket)?.objects.keys() ?? [])]
      .filter((k) => k.startsWith(prefix))
      .sort();
  }

  /** Every bucket, key, body digest and metadata: equal snapshots mean nothing changed. */
  snapshot(): unknown {
    return [...this.buckets.entries()].sort().map(([name, b]) => ({
      name,
      security: { ...b.security },
      objects: this.keys(name).map((k) => {
        const o = b.objects.get(k)!;
        return { key: k, etag: o.etag, metadata: o.metadata, contentType: o.contentType };
      }),
    }));
  }

  // ---- ObjectStore -------------------------------------------------------------------------

  ensureBucket(bucket: string): Promise<{ created: boolean }> {
    return this.faults.run('ensureBucket', () => {
      const created = !this.buckets.has(bucket);
      this.createBucket(bucket);
      return { created };
    });
  }

  bucketExists(bucket: string): Promise<boolean> {
    return this.faults.run('bucketExists', () => this.buckets.has(bucket));
  }

  deleteBucket(bucket: string): Promise<void> {
    return this.faults.run('deleteBucket', () => {
      const b = this.buckets.get(bucket);
      if (!b) return;
      if (b.objects.size > 0) throw awsError('BucketNotEmpty', `bucket ${bucket} is not empty`);
      this.buckets.delete(bucket);
    });
  }

  putIfAbsent(input: PutObjectInput): Promise<PutIfAbsentResult> {
    return this.faults.run('putIfAbsent', (): PutIfAbsentResult => {
      if (this.conditionalWrites === 'refused') throw awsError('NotImplemented');
      const b = this.bucketOf(input.bucket);
      if (this.inFlight.has(`${input.bucket}/${input.key}`)) return { status: 'exists' };
      if (b.objects.has(input.key) && this.conditionalWrites !== 'ignored') {
        return { status: 'exists' };
      }
      return { status: 'created', etag: this.write(b, input).etag };
    });
  }

  probeConditionalWrites(bucket: string): Promise<ConditionalWriteVerdict> {
    return this.faults.run('probeConditionalWrites', () => this.probe(bucket));
  }

  private probe(bucket: string): ConditionalWriteVerdict {
    const key = `${CONDITIONAL_WRITE_PROBE_PREFIX}probe`;
    const answer = (): ProbeAnswer => {
      if (this.conditionalWrites === 'unreachable')
        return { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' };
      if (this.conditionalWrites === 'refused')
        return { status: 501, code: 'NotImplemented', message: 'not implemented' };
      if (!this.buckets.has(bucket)) return { status: 404, code: 'NoSuchBucket' };
      const exists = this.buckets.get(bucket)!.objects.has(key);
      if (exists && this.conditionalWrites === 'supported')
        return { status: 412, code: 'PreconditionFailed' };
      this.buckets.get(bucket)!.objects.set(key, {
        body: new Uint8Array(),
        metadata: {},
        etag: '""',
        lastModified: new Date(),
      });
      return { status: 200 };
    };
    const first = answer();
    const second = first.code === undefined ? answer() : undefined;
    this.buckets.get(bucket)?.objects.delete(key);
    return classifyConditionalWriteProbe({
      endpoint: 'memory://',
      bucket,
      key,
      first,
      ...(second ? { second } : {}),
    });
  }

  put(input: PutObjectInput): Promise<{ etag?: string }> {
    return this.faults.run('put', () => ({
      etag: this.write(this.bucketOf(input.bucket), input).etag,
    }));
  }

  async putFile(
    input: Omit<PutObjectInput, 'body'> & { file: string },
  ): Promise<{ etag?: string }> {
    const body = await readFile(input.file);
    return this.faults.run('putFile', () => ({
      etag: this.write(this.bucketOf(input.bucket), { ...input, body }).etag,
    }));
  }

  get(ref: ObjectRef): Promise<Uint8Array | undefined> {
    return this.faults.run('get', () => {
      const o = this.bucketOf(ref.bucket).objects.get(ref.key);
      return o ? new Uint8Array(o.body) : undefined;
    });
  }

  getStream(ref: ObjectRef & { start?: number }): Promise<AsyncIterable<Uint8Array> | undefined> {
    return this.faults.run('getStream', () => {
      const o = this.bucketOf(ref.bucket).objects.get(ref.key);
      if (!o) return undefined;
      const body = o.body;
      const chunk = this.streamChunkBytes;
      return (async function* () {
        for (let at = ref.start ?? 0; at < body.length; at += chunk) {
          yield await Promise.resolve(body.slice(at, Math.min(body.length, at + chunk)));
        }
      })();
    });
  }

  head(ref: ObjectRef): Promise<ObjectHead | undefined> {
    return this.faults.run('head', () => {
      const o = this.bucketOf(ref.bucket).objects.get(ref.key);
      if (!o) return undefined;
      return {
        key: ref.key,
        size: o.body.length,
        etag: o.etag,
        lastModified: o.lastModified,
        ...(o.contentType ? { contentType: o.contentType } : {}),
        metadata: { ...o.metadata },
      };
    });
  }

  async *list(input: { bucket: string; prefix: string }): AsyncIterable<ObjectInfo> {
    this.faults.enter('list');
    const b = this.bucketOf(input.bucket);
    for (const key of this.keys(input.bucket, input.prefix)) {
      const o = b.objects.get(key);
      if (!o) continue; // deleted while listing
      yield await Promise.resolve({
        key,
        size: o.body.length,
        etag: o.etag,
        lastModified: o.lastModified,
      });
    }
  }

  delete(ref: ObjectRef): Promise<void> {
    return this.faults.run('delete', () => void this.bucketOf(ref.bucket).objects.delete(ref.key));
  }

  deleteMany(bucket: string, keys: string[]): Promise<void> {
    return this.faults.run('deleteMany', () => {
      if (keys.length > 1000) throw new Error('deleteMany takes at most 1,000 keys per call');
      const b = this.bucketOf(bucket);
      for (const k of keys) b.objects.delete(k);
    });
  }

  bucketSecurity(bucket: string): Promise<BucketSecurity> {
    return this.faults.run('bucketSecurity', () => ({ ...this.bucketOf(bucket).security }));
  }

  secureBucket(bucket: string, wanted: BucketSecurityWanted): Promise<BucketSecurity> {
    return this.faults.run('secureBucket', () => {
      const s = this.bucketOf(bucket).security;
      if (wanted.encryption && s.encryption === 'off') s.encryption = 'on';
      if (wanted.blockPublicAccess && s.publicAccessBlock === 'off') s.publicAccessBlock = 'on';
      return { ...s };
    });
  }

  // ---- internals ---------------------------------------------------------------------------

  private bucketOf(bucket: string): Bucket {
    const b = this.buckets.get(bucket);
    if (!b) throw awsError('NoSuchBucket', `The specified bucket does not exist: ${bucket}`);
    return b;
  }

  private write(b: Bucket, input: PutObjectInput): StoredObject {
    const body = bytesOf(input.body);
    const stored: StoredObject = {
      body,
      ...(input.contentType ? { contentType: input.contentType } : {}),
      metadata: Object.fromEntries(
        Object.entries(input.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      ),
      etag: etagOf(body),
      lastModified: new Date(),
    };
    b.objects.set(input.key, stored);
    return stored;
  }

  /** Runs a call with its faults: `before` ones leave everything as it was. */
}

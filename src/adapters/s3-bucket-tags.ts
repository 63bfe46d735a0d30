import {
  GetBucketTaggingCommand,
  PutBucketTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { BucketTags } from '../ports/bucket-tags';

function errorOf(err: unknown): { name?: string; status?: number } {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return { name: e?.name, status: e?.$metadata?.httpStatusCode };
}

/** A server without bucket tagging (some S3 clones) answers 501: no tags, not an error. */
function notImplemented(err: unknown): boolean {
  const { name, status } = errorOf(err);
  return status === 501 || name === 'NotImplemented';
}

export class S3BucketTags implements BucketTags {
  constructor(private readonly s3: S3Client) {}

  async get(bucket: string): Promise<Record<string, string>> {
    try {
      const out = await this.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }));
      const tags: Record<string, string> = {};
      for (const t of out.TagSet ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
      return tags;
    } catch (err) {
      if (errorOf(err).name === 'NoSuchTagSet' || notImplemented(err)) return {};
      throw err;
    }
  }

  async add(bucket: string, tags: Record<string, string>): Promise<boolean> {
    let current: Record<string, string>;
    try {
      current = await this.get(bucket);
      const merged = { ...current, ...tags };
      // PutBucketTagging replaces the whole set: write only when something is missing, and
      // with every tag already there.
      if (Object.entries(tags).every(([k, v]) => current[k] === v)) return true;
      await this.s3.send(
        new PutBucketTaggingCommand({
          Bucket: bucket,
          Tagging: { TagSet: Object.entries(merged).map(([Key, Value]) => ({ Key, Value })) },
        }),
      );
      return true;
    } catch (err) {
      if (notImplemented(err)) return false;
      throw err;
    }
  }
}

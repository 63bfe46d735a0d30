import type { BucketTags } from '../../src/ports/bucket-tags';
import { Faults } from './faults';

/**
 * BucketTags in memory. `supported: false` is a server without bucket tagging: `get` answers
 * {} and `add` false, as the S3 adapter does on 501.
 */
export class MemoryBucketTags implements BucketTags {
  readonly tags = new Map<string, Record<string, string>>();
  readonly faults = new Faults<keyof BucketTags>();
  supported = true;

  constructor(initial: Record<string, Record<string, string>> = {}) {
    for (const [bucket, tags] of Object.entries(initial)) this.tags.set(bucket, { ...tags });
  }

  get(bucket: string): Promise<Record<string, string>> {
    return this.faults.run('get', () =>
      this.supported ? { ...(this.tags.get(bucket) ?? {}) } : {},
    );
  }

  add(bucket: string, tags: Record<string, string>): Promise<boolean> {
    return this.faults.run('add', () => {
      if (!this.supported) return false;
      this.tags.set(bucket, { ...(this.tags.get(bucket) ?? {}), ...tags });
      return true;
    });
  }
}

/**
 * Bucket tags, apart from the object store: pinpipe tags a bucket it creates with
 * `pinpipe:pipeline=<id>`, and teardown requires that tag on a bucket not named `user-<id>-bucket`.
 */
export interface BucketTags {
  /** The bucket's tags; {} when it has none or the server does not implement bucket tagging. */
  get(bucket: string): Promise<Record<string, string>>;
  /** Adds the tags, keeping the others; false when the server does not implement bucket tagging. */
  add(bucket: string, tags: Record<string, string>): Promise<boolean>;
}

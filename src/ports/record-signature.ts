/**
 * The MAC of signed groups (src/domain/signed-groups.ts), keyed with PINPIPE_SIGNING_KEY: the
 * ingest API's producer tags the runs of records it validated, and the sink verifies them.
 */
export interface RecordSignature {
  /** The tag (base64url) over the topic, the count and the lines. */
  tag(topic: string, count: number, lines: Uint8Array): string;
  /** True when `tag` is the tag of these lines. */
  verify(topic: string, count: number, lines: Uint8Array, tag: string): boolean;
}

/**
 * The MAC of signed groups (src/domain/signed-groups.ts), keyed with PINPIPE_SIGNING_KEY: the
 * ingest API's producer tags the runs of records it validated, and the sink verifies them.
 */
export interface RecordSignature {
  /** The tag (base64url) over the topic, the count and the lines. */
  tag(topic: string, count: number, lines: Uint8Array): string;
  /** True when `tag` is the tag of these lines. */
  verify(topic: string, count: number, lines: Uint8Array, tag: string): boolean;
  /**
   * Whether each range's tag is the tag of its bytes of `lines`, perhaps on another thread:
   * `lines` may be moved there and back, so the caller goes on with the `lines` returned.
   */
  verifyRanges(
    topic: string,
    lines: Uint8Array,
    ranges: readonly SignedRange[],
  ): Promise<{ lines: Uint8Array; verdicts: boolean[] }>;
}

/** A run's claim over bytes [at, at + size) of a lines buffer. */
export interface SignedRange {
  at: number;
  size: number;
  count: number;
  tag: string;
}

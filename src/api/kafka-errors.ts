/**
 * Sorts a failed Kafka call into what the API tells the client. kafkajs wraps errors in causes
 * (retries exhausted → the last protocol or connection error), so the whole chain is inspected.
 */
export type KafkaFailure =
  | { kind: 'unknown-topic' }
  /** The broker refused the records themselves (too large, invalid): retrying cannot help. */
  | { kind: 'rejected'; reason: string }
  /** Connection problems, timeouts, leader elections: worth retrying. */
  | { kind: 'transient'; reason: string };

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  retriable?: unknown;
  message?: unknown;
  cause?: unknown;
}

function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = err;
  while (e && typeof e === 'object' && out.length < 10) {
    out.push(e);
    e = (e as ErrorLike).cause;
  }
  return out;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function classifyKafkaError(err: unknown): KafkaFailure {
  const errors = chain(err);
  if (errors.some((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION')) return { kind: 'unknown-topic' };
  // The adapter's own check when its cached metadata no longer has the topic.
  if (
    errors.some((e) => typeof e.message === 'string' && /^topic .* does not exist$/.test(e.message))
  ) {
    return { kind: 'unknown-topic' };
  }
  const refused = errors.find((e) => e.name === 'KafkaJSProtocolError' && e.retriable === false);
  if (refused) {
    return {
      kind: 'rejected',
      reason: `Kafka refused the records: ${String(refused.type)}: ${describeError(refused)}`,
    };
  }
  return { kind: 'transient', reason: describeError(err) };
}

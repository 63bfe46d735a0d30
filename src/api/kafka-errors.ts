import { ProduceAttemptError, ProduceNotSentError } from '../adapters/produce-coalescer';
import { TimeoutError } from './with-timeout';

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

/**
 * What a failed produce means for the client's records:
 * - `unknown-topic`: the topic does not exist; none of them is in Kafka.
 * - `refused`: the broker refused them; none is in Kafka and retrying the same records cannot help.
 * - `not-sent`: Kafka failed before they reached the producer; none is in Kafka, retry is safe.
 * - `unknown`: they reached the producer and may or may not be in Kafka.
 */
export type ProduceFailure =
  | { kind: 'unknown-topic' }
  | { kind: 'refused'; reason: string }
  | { kind: 'not-sent'; reason: string }
  | { kind: 'unknown'; reason: string };

export function classifyProduceFailure(err: unknown): ProduceFailure {
  // The API's own deadline: the produce goes on without us, and may still succeed.
  if (err instanceof TimeoutError) return { kind: 'unknown', reason: err.message };
  if (err instanceof ProduceNotSentError) return { kind: 'not-sent', reason: err.message };
  if (err instanceof ProduceAttemptError) {
    const failure = classifyKafkaError(err.cause);
    // One send carries one topic (produce-coalescer.ts): a missing topic holds none of them.
    if (failure.kind === 'unknown-topic') return failure;
    // A partition's batch is written whole or not at all; with several, the others may be in.
    if (failure.kind === 'rejected' && err.partitionBatches === 1) {
      return { kind: 'refused', reason: failure.reason };
    }
    return {
      kind: 'unknown',
      reason:
        failure.kind === 'rejected'
          ? `${failure.reason}, for a send of ${err.partitionBatches} partition batches of which some may have been written`
          : `the send to Kafka failed after the records were handed to the producer: ${failure.reason}`,
    };
  }
  // Anything else failed before the records reached the producer (a topic lookup, a connect).
  const failure = classifyKafkaError(err);
  if (failure.kind === 'unknown-topic') return failure;
  if (failure.kind === 'rejected') return { kind: 'refused', reason: failure.reason };
  return { kind: 'not-sent', reason: failure.reason };
}

import type { KafkaPort } from '../ports/kafka';
import { kafkaUnavailable } from './errors';
import { describeError } from './kafka-errors';
import type { TopicRegistry } from './topic-registry';
import { withTimeout } from './with-timeout';

/** What every route handler receives from the server. */
export interface ApiContext {
  kafka: KafkaPort;
  topics: TopicRegistry;
  maxBodyBytes: number;
  /** Upper bound on any Kafka call made for a request. */
  kafkaTimeoutMs: number;
  /** Upper bound on the health check's Kafka call (load balancers probe with short timeouts). */
  healthTimeoutMs: number;
  log: (line: string) => void;
}

/** A Kafka metadata call for a request: bounded in time, 503 (retriable) when Kafka fails. */
export async function kafkaCall<T>(ctx: ApiContext, what: string, call: Promise<T>): Promise<T> {
  try {
    return await withTimeout(call, ctx.kafkaTimeoutMs, what);
  } catch (err) {
    ctx.log(`${what} failed: ${describeError(err)}`);
    throw kafkaUnavailable(describeError(err));
  }
}

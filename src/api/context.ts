import { parseTopic, type TopicName } from '../domain/tables';
import type { KafkaAdmin, KafkaProducer } from '../ports/kafka';
import { kafkaUnavailable, topicNotFound } from './errors';
import { describeError } from './kafka-errors';
import type { TopicRegistry } from './topic-registry';
import { withTimeout } from './with-timeout';

/** What every route handler receives from the server. */
export interface ApiContext {
  /** Topic lookups (the health check, the topic routes, the topic cache) and produce. */
  kafka: KafkaAdmin & KafkaProducer;
  topics: TopicRegistry;
  /**
   * The pipelines this API serves: topics of any other pipeline are not found, whether or not
   * Kafka has them. Undefined: every pipeline (an embedded server that was not told).
   */
  pipelines: ReadonlySet<string> | undefined;
  maxBodyBytes: number;
  /** Upper bound on any Kafka metadata call made for a request. */
  kafkaTimeoutMs: number;
  /** Upper bound on a produce; past it the outcome is unknown (504). */
  produceTimeoutMs: number;
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

/** Whether `topic` is `<id>.<table>` of a pipeline this API serves. */
export function isServedTopic(ctx: ApiContext, topic: string): boolean {
  const name = parseTopic(topic);
  return name !== undefined && (ctx.pipelines?.has(name.pipelineId) ?? true);
}

const LISTED_PIPELINES = 10;

/** What a 404 says about the topics this API serves. */
function servedHint(ctx: ApiContext): string {
  if (!ctx.pipelines) return 'this API serves pipeline topics <12 hex id>.pin, .geo and .user';
  const ids = [...ctx.pipelines];
  const listed = ids.slice(0, LISTED_PIPELINES).join(', ');
  const more = ids.length > LISTED_PIPELINES ? ` and ${ids.length - LISTED_PIPELINES} more` : '';
  return (
    `this API serves pipeline${ids.length === 1 ? '' : 's'} ${listed}${more} ` +
    '(topics <id>.pin, <id>.geo, <id>.user)'
  );
}

/**
 * The table of a topic this API serves, or 404 40401 (the proxy's "topic not found") naming the
 * pipelines it does serve. Checked before Kafka is asked anything, so a name outside them costs
 * no lookup and takes no room in the topic cache.
 */
export function servedTopic(ctx: ApiContext, topic: string): TopicName {
  const name = parseTopic(topic);
  if (!name || !(ctx.pipelines?.has(name.pipelineId) ?? true)) {
    throw topicNotFound(topic, servedHint(ctx));
  }
  return name;
}

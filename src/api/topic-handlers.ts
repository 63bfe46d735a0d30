import type { ServerResponse } from 'node:http';
import { type ApiContext, isServedTopic, kafkaCall, servedTopic } from './context';
import { sendJson, topicNotFound } from './errors';

/**
 * `GET /topics`: the topics of the pipelines this API serves (others on the broker, other
 * pipelines' included, are not this API's business).
 */
export async function handleListTopics(ctx: ApiContext, res: ServerResponse): Promise<void> {
  const topics = await kafkaCall(ctx, 'list topics', ctx.kafka.listTopics());
  sendJson(res, 200, topics.filter((t) => isServedTopic(ctx, t)).sort());
}

async function partitionsOf(ctx: ApiContext, topic: string): Promise<number> {
  servedTopic(ctx, topic);
  const count = await kafkaCall(ctx, 'topic lookup', ctx.topics.partitionCount(topic));
  if (count === undefined) throw topicNotFound(topic);
  return count;
}

/**
 * KafkaAdmin knows partition counts, not leaders or replicas: those fields keep the proxy's
 * shape with null/empty values rather than made-up broker ids.
 */
function describePartitions(count: number) {
  return Array.from({ length: count }, (_, partition) => ({
    partition,
    leader: null,
    replicas: [],
  }));
}

/** `GET /topics/{topic}`. */
export async function handleGetTopic(
  ctx: ApiContext,
  res: ServerResponse,
  topic: string,
): Promise<void> {
  const count = await partitionsOf(ctx, topic);
  sendJson(res, 200, { name: topic, configs: {}, partitions: describePartitions(count) });
}

/** `GET /topics/{topic}/partitions`. */
export async function handleGetPartitions(
  ctx: ApiContext,
  res: ServerResponse,
  topic: string,
): Promise<void> {
  sendJson(res, 200, describePartitions(await partitionsOf(ctx, topic)));
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProducedOffset } from '../ports/kafka';
import { type ApiContext, kafkaCall, servedTopic } from './context';
import {
  ApiError,
  ErrorCode,
  RecordErrorCode,
  kafkaUnavailable,
  produceOutcomeUnknown,
  sendJson,
  topicNotFound,
} from './errors';
import { classifyProduceFailure } from './kafka-errors';
import { planRecords } from './record-plan';
import { assertJsonContentType, decodeJson, readBody } from './request-body';
import { parseProduceRequest } from './request-schema';
import { withTimeout } from './with-timeout';

export interface OffsetEntry {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

/**
 * `POST /topics/{topic}` (and `/topics/{topic}/partitions/{p}`): REST Proxy v2 produce.
 * Valid records are produced in one send; each invalid one gets its own error entry. The
 * answer is 200 only when every record has an entry saying what happened to it. Otherwise it
 * says truthfully what is known about the request's records (README, "The ingest API"):
 * 404 40401 the topic is not there (nothing produced), 503 50301 Kafka failed before they were
 * sent (nothing produced, retrying is safe), 504 50401 they were handed to Kafka and may or may
 * not be in it (retrying may duplicate them).
 */
export async function handleProduce(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  topic: string,
  pathPartition?: number,
): Promise<void> {
  assertJsonContentType(req.headers['content-type']);
  const name = servedTopic(ctx, topic);
  const partitions = await kafkaCall(ctx, 'topic lookup', ctx.topics.partitionCount(topic));
  if (partitions === undefined) throw topicNotFound(topic);
  if (pathPartition !== undefined && pathPartition >= partitions) {
    throw new ApiError(
      404,
      ErrorCode.partitionNotFound,
      `Partition ${pathPartition} of topic ${topic} not found`,
    );
  }
  const request = parseProduceRequest(decodeJson(await readBody(req, ctx.maxBodyBytes)));
  const plan = planRecords({
    table: name.table,
    records: request.records,
    partitions,
    ...(pathPartition === undefined ? {} : { partition: pathPartition }),
  });
  const outgoing = plan.flatMap((p) => (p.kind === 'produce' ? [p.record] : []));

  let produced: ProducedOffset[] = [];
  let refused: string | undefined;
  if (outgoing.length > 0) {
    try {
      produced = await withTimeout(
        ctx.kafka.produce(topic, outgoing),
        ctx.produceTimeoutMs,
        'Kafka produce',
      );
    } catch (err) {
      const failure = classifyProduceFailure(err);
      if (failure.kind === 'unknown-topic') {
        ctx.topics.forget(topic);
        throw topicNotFound(topic);
      }
      ctx.log(`produce to ${topic} failed (${outgoing.length} records): ${failure.reason}`);
      if (failure.kind === 'not-sent') {
        throw kafkaUnavailable(
          `${failure.reason}; no record of this request was acknowledged, and none was sent: ` +
            'retrying cannot duplicate them',
        );
      }
      if (failure.kind === 'unknown') throw produceOutcomeUnknown(failure.reason);
      refused = failure.reason;
    }
    if (refused === undefined && produced.length !== outgoing.length) {
      // The port said it produced them, so they are most likely in Kafka, but not where.
      throw produceOutcomeUnknown(
        `Kafka returned ${produced.length} offsets for ${outgoing.length} records`,
      );
    }
  }

  let next = 0;
  const offsets = plan.map((p): OffsetEntry => {
    if (p.kind === 'reject') return failed(p.reason);
    if (refused !== undefined) return failed(refused);
    const o = produced[next++]!;
    return { partition: o.partition, offset: o.offset, error_code: null, error: null };
  });
  sendJson(res, 200, { offsets, key_schema_id: null, value_schema_id: null });
}

function failed(reason: string): OffsetEntry {
  return { partition: null, offset: null, error_code: RecordErrorCode.nonRetriable, error: reason };
}

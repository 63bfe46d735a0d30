import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseTopic } from '../domain/tables';
import type { ProducedOffset } from '../ports/kafka';
import { type ApiContext, kafkaCall } from './context';
import {
  ApiError,
  ErrorCode,
  RecordErrorCode,
  kafkaUnavailable,
  sendJson,
  topicNotFound,
} from './errors';
import { classifyKafkaError, type KafkaFailure } from './kafka-errors';
import { planRecords } from './record-plan';
import { assertJsonContentType, decodeJson, readBody } from './request-body';
import { parseProduceRequest } from './request-schema';
import { TimeoutError, withTimeout } from './with-timeout';

export interface OffsetEntry {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

/**
 * `POST /topics/{topic}` (and `/topics/{topic}/partitions/{p}`): REST Proxy v2 produce.
 * Valid records are produced in one send; each invalid one gets its own error entry. The
 * answer is 200 only when every record has an entry saying what happened to it: when Kafka
 * fails, the whole request fails with a retriable 503 instead.
 */
export async function handleProduce(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  topic: string,
  pathPartition?: number,
): Promise<void> {
  assertJsonContentType(req.headers['content-type']);
  const name = parseTopic(topic);
  if (!name) throw topicNotFound(topic);
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
        ctx.kafkaTimeoutMs,
        'Kafka produce',
      );
    } catch (err) {
      const failure: KafkaFailure =
        err instanceof TimeoutError
          ? { kind: 'transient', reason: err.message }
          : classifyKafkaError(err);
      if (failure.kind === 'unknown-topic') {
        ctx.topics.forget(topic);
        throw topicNotFound(topic);
      }
      ctx.log(`produce to ${topic} failed (${outgoing.length} records): ${failure.reason}`);
      if (failure.kind === 'transient') {
        throw kafkaUnavailable(`${failure.reason}; no record of this request was acknowledged`);
      }
      refused = failure.reason;
    }
    if (refused === undefined && produced.length !== outgoing.length) {
      throw new Error(`Kafka returned ${produced.length} offsets for ${outgoing.length} records`);
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

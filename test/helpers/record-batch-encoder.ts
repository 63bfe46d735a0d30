/**
 * Kafka record batches encoded by kafkajs's own (unexported) encoder: an implementation of the
 * format independent of pinpipe's decoder, for tests that need exact batch bytes.
 */

interface KafkajsEncoder {
  buffer: Buffer;
}
/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's encoders are not exported */
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: Record<string, unknown>) => Promise<KafkajsEncoder>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  o: Record<string, unknown>,
) => KafkajsEncoder;
const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

export interface RecordSpec {
  offsetDelta: number;
  timestampDelta?: number;
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export interface BatchOptions {
  gzip?: boolean;
  producerId?: number;
  transactional?: boolean;
  firstTimestamp?: number;
  maxTimestamp?: number;
}

const ATTRIBUTES_AT = 21;
const bytes = (v: string | Buffer | null | undefined) =>
  v === undefined || v === null ? null : Buffer.from(v);

export async function encodeBatch(
  baseOffset: number,
  records: RecordSpec[],
  o: BatchOptions = {},
): Promise<Buffer> {
  const encoded = await RecordBatch({
    compression: o.gzip ? 1 : 0,
    firstOffset: Long.fromNumber(baseOffset),
    firstTimestamp: o.firstTimestamp ?? Date.now(),
    maxTimestamp: o.maxTimestamp ?? o.firstTimestamp ?? Date.now(),
    lastOffsetDelta: Math.max(...records.map((r) => r.offsetDelta)),
    producerId: Long.fromNumber(o.producerId ?? -1),
    transactional: o.transactional ?? false,
    records: records.map((r) =>
      Record({
        offsetDelta: r.offsetDelta,
        timestampDelta: Long.fromNumber(r.timestampDelta ?? 0),
        key: bytes(r.key),
        value: bytes(r.value),
        headers: r.headers ?? {},
      }),
    ),
  });
  return encoded.buffer;
}

/** Sets attribute bits kafkajs's encoder has no option for (the decoder does not check CRCs). */
export function withAttributes(batch: Buffer, bits: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeInt16BE(copy.readInt16BE(ATTRIBUTES_AT) | bits, ATTRIBUTES_AT);
  return copy;
}

export const COMPRESSION_SNAPPY = 2;
export const CONTROL_BATCH = 0x20;

/**
 * Kafka's Fetch request and response, version 4 (Kafka 0.11 to 4.x all speak it), encoded and
 * decoded by hand: pinpipe's partition reader asks for one partition at an exact offset and
 * wants the record bytes, not kafkajs's per-record objects (whose decoding costs as much as a
 * whole plain kafkajs consumer does). Pure functions over Buffers; no I/O.
 */

export const FETCH_API_KEY = 1;
export const FETCH_VERSION = 4;
export const ISOLATION_READ_COMMITTED = 1;

export interface FetchRequest {
  correlationId: number;
  clientId: string;
  topic: string;
  partition: number;
  fetchOffset: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  isolationLevel: number;
}

/** The whole frame: size prefix, request header v1, Fetch v4 body. */
export function encodeFetchRequest(r: FetchRequest): Buffer {
  const clientId = Buffer.from(r.clientId, 'utf8');
  const topic = Buffer.from(r.topic, 'utf8');
  const size = 2 + 2 + 4 + 2 + clientId.length + 4 + 4 + 4 + 4 + 1 + 4 + 2 + topic.length + 4 + 16;
  const b = Buffer.alloc(4 + size);
  let at = 0;
  at = b.writeInt32BE(size, at);
  at = b.writeInt16BE(FETCH_API_KEY, at);
  at = b.writeInt16BE(FETCH_VERSION, at);
  at = b.writeInt32BE(r.correlationId, at);
  at = b.writeInt16BE(clientId.length, at);
  at += clientId.copy(b, at);
  at = b.writeInt32BE(-1, at); // replica id: a consumer
  at = b.writeInt32BE(r.maxWaitMs, at);
  at = b.writeInt32BE(r.minBytes, at);
  at = b.writeInt32BE(r.maxBytes, at);
  at = b.writeInt8(r.isolationLevel, at);
  at = b.writeInt32BE(1, at); // one topic
  at = b.writeInt16BE(topic.length, at);
  at += topic.copy(b, at);
  at = b.writeInt32BE(1, at); // one partition
  at = b.writeInt32BE(r.partition, at);
  at = b.writeBigInt64BE(BigInt(r.fetchOffset), at);
  b.writeInt32BE(r.partitionMaxBytes, at);
  return b;
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: number;
}

export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  abortedTransactions: AbortedTransaction[];
  /** The record batches as the broker sent them; the last one may be cut short. */
  records: Buffer;
}

export class ProtocolError extends Error {
  override name = 'KafkaProtocolError';
}

/** A record batch this decoder cannot read, however often it is fetched again. */
export class UnsupportedBatchError extends ProtocolError {
  override name = 'UnsupportedBatchError';
  constructor(
    message: string,
    readonly baseOffset: number,
  ) {
    super(message);
  }
}

/** A Fetch v4 response body (after the size prefix and correlation id). */
export function decodeFetchResponse(body: Buffer): FetchedPartition[] {
  let at = 0;
  const need = (n: number) => {
    if (at + n > body.length) throw new ProtocolError('Fetch response ends early');
  };
  const int16 = () => (need(2), (at += 2), body.readInt16BE(at - 2));
  const int32 = () => (need(4), (at += 4), body.readInt32BE(at - 4));
  const int64 = () => (need(8), (at += 8), body.readBigInt64BE(at - 8));
  const string = () => {
    const len = int16();
    need(len);
    at += len;
    return body.toString('utf8', at - len, at);
  };
  int32(); // throttle time
  const out: FetchedPartition[] = [];
  for (let t = int32(); t > 0; t--) {
    string(); // topic: we asked for one
    for (let p = int32(); p > 0; p--) {
      const partition = int32();
      const errorCode = int16();
      const highWatermark = Number(int64());
      const lastStableOffset = Number(int64());
      const abortedTransactions: AbortedTransaction[] = [];
      for (let a = int32(); a > 0; a--) {
        abortedTransactions.push({ producerId: int64(), firstOffset: Number(int64()) });
      }
      const size = int32();
      const records = size > 0 ? (need(size), body.subarray(at, (at += size))) : Buffer.alloc(0);
      out.push({
        partition,
        errorCode,
        highWatermark,
        lastStableOffset,
        abortedTransactions,
        records,
      });
    }
  }
  return out;
}

/** Names of the error codes a Fetch can answer with (the rest are shown by number). */
export const FETCH_ERRORS: Record<number, { name: string; retriable: boolean }> = {
  1: { name: 'OFFSET_OUT_OF_RANGE', retriable: false },
  3: { name: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true },
  5: { name: 'LEADER_NOT_AVAILABLE', retriable: true },
  6: { name: 'NOT_LEADER_OR_FOLLOWER', retriable: true },
  7: { name: 'REQUEST_TIMED_OUT', retriable: true },
  29: { name: 'TOPIC_AUTHORIZATION_FAILED', retriable: false },
  35: { name: 'UNSUPPORTED_VERSION', retriable: false },
  56: { name: 'KAFKA_STORAGE_ERROR', retriable: true },
  74: { name: 'FENCED_LEADER_EPOCH', retriable: true },
  75: { name: 'UNKNOWN_LEADER_EPOCH', retriable: true },
};

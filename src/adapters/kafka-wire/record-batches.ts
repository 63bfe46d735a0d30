import { gunzipSync } from 'node:zlib';
import type { ConsumedRecord } from '../../ports/kafka';
import { type AbortedTransaction, ProtocolError, UnsupportedBatchError } from './fetch-codec';

/**
 * Kafka's record batches (magic 2, the only format Kafka 4 stores) decoded straight into
 * ConsumedRecords: offsets and timestamps as numbers, keys as strings, values as views into the
 * fetched buffer (no copy), headers decoded once per distinct header block. Pure; no I/O.
 */

const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const RECORDS_START = 61;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

export interface DecodedRecords {
  records: ConsumedRecord[];
  /** Where the next fetch starts: after the last complete batch (control batches included). */
  nextOffset: number;
}

/**
 * The reading position of the varint reader below. Module state rather than an object: decoding
 * is synchronous and this is the hot loop (several varints per record).
 */
let pos = 0;

/** A zig-zag varint (or varlong: values past 32 bits survive) at `pos`, which moves past it. */
function varint(buf: Buffer): number {
  let byte = buf[pos++];
  // Most varints here (lengths, deltas, counts) fit in one byte.
  if (byte !== undefined && byte < 0x80) return (byte >>> 1) ^ -(byte & 1);
  let value = 0;
  let scale = 1;
  for (;;) {
    if (byte === undefined) throw new ProtocolError('record ends inside a varint');
    // Multiply, not shift: a varlong (timestamp delta) can pass 32 bits.
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
    byte = buf[pos++];
  }
  // Zig-zag: 0, -1, 1, -2, ... (arithmetic, so values past 2^31 survive).
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function recordsOf(batch: Buffer, attributes: number, baseOffset: number): Buffer {
  const body = batch.subarray(RECORDS_START);
  const codec = attributes & COMPRESSION_MASK;
  if (codec === 0) return body;
  if (codec === 1) return gunzipSync(body);
  throw new UnsupportedBatchError(
    `record batch compressed with ${CODECS[codec] ?? `codec ${codec}`}: pinpipe reads ` +
      'uncompressed and gzip batches only (set compression.type=gzip or none on the producer)',
    baseOffset,
  );
}

/** Aborted producers whose transactions cover a batch (Kafka's READ_COMMITTED rule). */
class AbortedFilter {
  private readonly pending: AbortedTransaction[];
  private readonly aborted = new Set<bigint>();

  constructor(transactions: readonly AbortedTransaction[]) {
    this.pending = [...transactions].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /** True when the batch's records belong to an aborted transaction. */
  skips(producerId: bigint, lastOffset: number, isControl: boolean, abortMarker: boolean): boolean {
    while (this.pending.length > 0 && this.pending[0]!.firstOffset <= lastOffset) {
      this.aborted.add(this.pending.shift()!.producerId);
    }
    if (isControl) {
      if (abortMarker) this.aborted.delete(producerId);
      return true;
    }
    return this.aborted.has(producerId);
  }
}

/**
 * Decodes every complete batch in `data`, keeping records at or after `fromOffset`. A batch cut
 * short at the end of a fetch is left for the next fetch.
 */
export function decodeRecordBatches(
  data: Buffer,
  fromOffset: number,
  abortedTransactions: readonly AbortedTransaction[] = [],
): DecodedRecords {
  const records: ConsumedRecord[] = [];
  const filter = new AbortedFilter(abortedTransactions);
  let nextOffset = fromOffset;
  // The last header block decoded: where it lies (in `blockOf`) and what it decoded to.
  let blockOf: Buffer | undefined;
  let blockStart = 0;
  let blockEnd = 0;
  let headers: Record<string, string> | undefined;
  let at = 0;
  while (at + 12 <= data.length) {
    const baseOffset = Number(data.readBigInt64BE(at));
    const end = at + 12 + data.readInt32BE(at + 8);
    if (end > data.length) break;
    const batch = data.subarray(at, end);
    at = end;
    const magic = batch.readInt8(16);
    if (magic !== 2) {
      throw new UnsupportedBatchError(
        `record batch of message format ${magic}: pinpipe reads format 2 (Kafka 0.11 and later)`,
        baseOffset,
      );
    }
    const attributes = batch.readInt16BE(21);
    const lastOffset = baseOffset + batch.readInt32BE(23);
    nextOffset = Math.max(nextOffset, lastOffset + 1);
    if (lastOffset < fromOffset) continue;
    const isControl = (attributes & CONTROL) !== 0;
    const body = recordsOf(batch, attributes, baseOffset);
    if ((attributes & TRANSACTIONAL) !== 0 || isControl) {
      const abortMarker = isControl && controlType(body) === 0;
      if (filter.skips(batch.readBigInt64BE(43), lastOffset, isControl, abortMarker)) continue;
    }
    const baseTimestamp = Number(batch.readBigInt64BE(27));
    const appendTime = (attributes & LOG_APPEND_TIME) !== 0 ? Number(batch.readBigInt64BE(35)) : -1;
    const count = batch.readInt32BE(57);
    pos = 0;
    for (let i = 0; i < count; i++) {
      const length = varint(body);
      const recordEnd = pos + length;
      pos += 1; // attributes, unused
      const timestampDelta = varint(body);
      const offset = baseOffset + varint(body);
      const keyLength = varint(body);
      const key = keyLength < 0 ? null : body.toString('utf8', pos, (pos += keyLength));
      const valueLength = varint(body);
      const value = valueLength < 0 ? null : body.subarray(pos, (pos += valueLength));
      const headerStart = pos;
      if (recordEnd > body.length) throw new ProtocolError('record runs past its batch');
      if (offset < fromOffset) {
        pos = recordEnd;
        continue;
      }
      // Records of one producer usually carry identical headers: decode a block once.
      if (!sameBytes(blockOf, blockStart, blockEnd, body, headerStart, recordEnd)) {
        blockOf = body;
        blockStart = headerStart;
        blockEnd = recordEnd;
        headers = decodeHeaders(body);
      }
      pos = recordEnd;
      const record: ConsumedRecord = {
        offset,
        timestamp: appendTime >= 0 ? appendTime : baseTimestamp + timestampDelta,
        key,
        value,
        size: (value?.length ?? 0) + (keyLength > 0 ? keyLength : 0),
      };
      if (headers) record.headers = headers;
      records.push(record);
    }
  }
  return { records, nextOffset };
}

/** Byte equality of two short ranges, without a view per comparison (this runs per record). */
function sameBytes(
  a: Buffer | undefined,
  aStart: number,
  aEnd: number,
  b: Buffer,
  bStart: number,
  bEnd: number,
): boolean {
  if (a === undefined || aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/** Header values decoded as UTF-8; a header with a null value is left out. */
function decodeHeaders(buf: Buffer): Record<string, string> | undefined {
  const count = varint(buf);
  if (count <= 0) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const keyLength = varint(buf);
    const name = buf.toString('utf8', pos, (pos += keyLength));
    const valueLength = varint(buf);
    if (valueLength < 0) continue;
    const value = buf.toString('utf8', pos, (pos += valueLength));
    // The first of repeated names wins, as the kafkajs reader did.
    if (!(name in out)) out[name] = value;
  }
  return Object.freeze(out);
}

/** The type of a control record (0 abort, 1 commit), from its key. */
function controlType(body: Buffer): number {
  pos = 0;
  varint(body); // length
  pos += 1;
  varint(body); // timestamp delta
  varint(body); // offset delta
  const keyLength = varint(body);
  if (keyLength < 4) throw new ProtocolError('control record without a type');
  return body.readInt16BE(pos + 2);
}

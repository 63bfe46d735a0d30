import {
  type API,
  compressionsAlgorithmsByBitmask,
  crc32c,
  type fetchV17,
  IS_COMPRESSED,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  protocolErrorsCodesById,
  Reader,
  ResponseError,
  UnsupportedCompressionError,
} from '@platformatic/kafka';
import type { ConsumedRecord } from '../ports/kafka';

// ---------------------------------------------------------------------------------------------
// Hostile bytes. What a broker (or anything between it and this process) sends is decoded here
// without trusting it: every length, count and offset is checked against the bytes that are
// there before it is used, so no input loops, reads backwards, allocates past its own size (and
// the frame and decompression caps), or throws anything but a typed error. The frames around
// these bytes are checked as they arrive (guarded-connections.ts).

/** Fetch response bytes this reader will not decode (framing, lengths, counts, CRC, offsets). */
export class FetchDecodeError extends Error {
  override name = 'FetchDecodeError';
}

type FetchResponsePartitionAbortedTransaction = fetchV17.FetchResponsePartitionAbortedTransaction;

/**
 * A record batch as decoded here: its records straight as ConsumedRecords (absolute offsets and
 * timestamps), with none of the library's per-record objects in between. The sink reads ~10^5
 * records a second; every object a record costs is garbage collected work.
 */
export interface DecodedBatch {
  baseOffset: number;
  lastOffsetDelta: number;
  attributes: number;
  producerId: bigint;
  /** A control batch's type (0 abort, 1 commit); undefined for data batches. */
  controlType?: number;
  records: ConsumedRecord[];
}

/** The library's Fetch partition answer, with the records decoded as DecodedBatches. */
export type FetchResponsePartition = Omit<fetchV17.FetchResponsePartition, 'records'> & {
  records?: DecodedBatch[];
};
export type FetchResponse = Omit<fetchV17.FetchResponse, 'responses'> & {
  responses: { topicId: string; partitions: FetchResponsePartition[] }[];
};
export type FetchArgs = Parameters<typeof fetchV17.createRequest>;
/** The library's Fetch API, with decodeFetchResponse as its parser (PlatformaticReader). */
export type FetchApi = API<FetchArgs, FetchResponse>;

export const FETCH_API_KEY = 1;
const LOG_APPEND_TIME = 0x08;

export interface Fetched {
  records: ConsumedRecord[];
  nextOffset: number;
  highWatermark: number;
}

export const messageOf = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}` : `thrown ${String(err)}`;

/** Smallest record: its length, attributes, timestamp and offset deltas, key, value, headers. */
const MIN_RECORD_BYTES = 7;
/** A batch's header after its length field (leader epoch … records count). */
const BATCH_HEADER_BYTES = 49;
const BATCH_RECORDS_AT = 61;
/** Offsets and watermarks become numbers: beyond 2^53 they would not be the same numbers. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Bounds-checked reads over one buffer, up to `end`; anything out of bounds or range throws. */
class Wire {
  constructor(
    readonly b: Buffer,
    public at = 0,
    public end = b.length,
  ) {}

  get left(): number {
    return this.end - this.at;
  }

  fail(what: string, why: string): never {
    throw new FetchDecodeError(`${what} at byte ${this.at}: ${why}`);
  }

  take(n: number, what: string): number {
    if (n > this.end - this.at) this.fail(what, `needs ${n} bytes, ${this.end - this.at} left`);
    const at = this.at;
    this.at += n;
    return at;
  }

  int16(what: string): number {
    return this.b.readInt16BE(this.take(2, what));
  }

  int32(what: string): number {
    return this.b.readInt32BE(this.take(4, what));
  }

  int64(what: string): bigint {
    return this.b.readBigInt64BE(this.take(8, what));
  }

  /** An int64 offset or watermark, as a number: from `min` (−1: none) to 2^53 − 1. */
  offset(what: string, min = -1): number {
    const v = this.int64(what);
    if (v < BigInt(min) || v > BigInt(MAX_OFFSET)) this.fail(what, `${v} is out of range`);
    return Number(v);
  }

  uuid(what: string): string {
    const hex = this.b.toString('hex', this.take(16, what), this.at);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** An unsigned varint of at most `bytes` bytes (5: 32 bits, 8: up to 2^53). */
  uvarint(what: string, bytes = 5): number {
    let v = 0;
    for (let i = 0, scale = 1; i < bytes; i++, scale *= 128) {
      if (this.at >= this.end) this.fail(what, 'varint cut short');
      const byte = this.b[this.at++]!;
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (v > (bytes === 5 ? 0xffffffff : MAX_OFFSET)) this.fail(what, `varint ${v} too large`);
        return v;
      }
    }
    return this.fail(what, `varint longer than ${bytes} bytes`);
  }

  /** A zigzag varint (Kafka's varint; as varlong, up to ±2^52). */
  varint(what: string, bytes = 5): number {
    const byte = this.b[this.at];
    if (byte !== undefined && byte < 0x80 && this.at < this.end) {
      this.at++;
      return byte & 1 ? -(byte + 1) / 2 : byte / 2;
    }
    const v = this.uvarint(what, bytes);
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  }

  /** Varint-length bytes of a record (−1: null), a view of the buffer. */
  varbytes(what: string): Buffer | null {
    const n = this.varint(what);
    if (n === -1) return null;
    if (n < -1 || n > this.end - this.at) {
      this.fail(what, `length ${n}, ${this.end - this.at} left`);
    }
    return this.b.subarray(this.at, (this.at += n));
  }

  /** A compact array's element count (−1: null), each element at least `each` bytes. */
  count(what: string, each: number): number {
    const n = this.uvarint(what) - 1;
    if (n > this.left / each) this.fail(what, `${n} elements in ${this.left} bytes`);
    return n;
  }

  /** A tagged-field section: skipped, each field by its size. */
  tags(what: string): void {
    for (let n = this.count(what, 2); n > 0; n--) {
      this.uvarint(what);
      this.take(this.uvarint(what), what);
    }
  }
}

/**
 * A Fetch response (v13-v17, the layout is the same; `body` from after the response header) as
 * the library's parser would give it, decoded without trusting a length: @platformatic/kafka
 * 1.x's parser reads record counts, key and header lengths and header counts as they come
 * (negative lengths move it backwards, so some inputs loop until the heap is full), checks no
 * CRC, and lets record offsets fall outside their batch. Here every batch's CRC-32C is checked,
 * its offsets and counts must agree, and anything else is a FetchDecodeError. Partition errors
 * throw the library's ResponseError (with the response), as its parser does; a codec this
 * process cannot decode throws its UnsupportedCompressionError.
 */
export function decodeFetchResponse(
  body: Buffer,
  apiVersion = 17,
  apiKey = FETCH_API_KEY,
): FetchResponse {
  const errors: [string, [number, null]][] = [];
  const known = (code: number) => code !== 0 && protocolErrorsCodesById[code] !== undefined;
  let response: FetchResponse;
  try {
    const w = new Wire(body);
    const throttleTimeMs = w.int32('throttle time');
    const errorCode = w.int16('error code');
    const sessionId = w.int32('session id');
    if (known(errorCode)) errors.push(['', [errorCode, null]]);
    response = { throttleTimeMs, errorCode, sessionId, responses: [] };
    for (let t = w.count('topics', 18); t > 0; t--) {
      const topicId = w.uuid('topic id');
      const partitions: FetchResponsePartition[] = [];
      for (let n = w.count('partitions', 37); n > 0; n--) {
        const partitionIndex = w.int32('partition');
        const code = w.int16('error code');
        const highWatermark = BigInt(w.offset('high watermark'));
        const lastStableOffset = BigInt(w.offset('last stable offset'));
        const logStartOffset = BigInt(w.offset('log start offset'));
        const abortedTransactions: FetchResponsePartitionAbortedTransaction[] = [];
        for (let a = w.count('aborted transactions', 17); a > 0; a--) {
          const producerId = w.int64('producer id');
          abortedTransactions.push({
            producerId,
            firstOffset: BigInt(w.offset('first offset', 0)),
          });
          w.tags('aborted transaction tags');
        }
        const partition: FetchResponsePartition = {
          partitionIndex,
          errorCode: code,
          highWatermark,
          lastStableOffset,
          logStartOffset,
          abortedTransactions,
          preferredReadReplica: w.int32('preferred read replica'),
        };
        const size = w.uvarint('records length') - 1;
        if (size > 0) {
          partition.records = decodeBatches(body.subarray(w.take(size, 'records'), w.at));
        }
        w.tags('partition tags');
        if (known(code)) {
          const path = `/responses/${response.responses.length}/partitions/${partitions.length}`;
          errors.push([path, [code, null]]);
        }
        partitions.push(partition);
      }
      w.tags('topic tags');
      response.responses.push({ topicId, partitions });
    }
    w.tags('response tags');
    if (w.left !== 0) w.fail('response', `${w.left} bytes after its end`);
  } catch (err) {
    if (err instanceof FetchDecodeError || err instanceof UnsupportedCompressionError) throw err;
    throw new FetchDecodeError(`undecodable Fetch response: ${messageOf(err)}`, { cause: err });
  }
  if (errors.length > 0) {
    throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  }
  return response;
}

/**
 * The whole record batches of a records section. The last one may be cut (a broker fills a
 * fetch to its size), and is left for the next fetch; but a section with bytes and no whole
 * batch is malformed (a broker returns the first batch whole, however large).
 */
function decodeBatches(records: Buffer): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let previous = -1; // the last offset of the batch before
  let at = 0;
  while (records.length - at >= 12) {
    const length = records.readInt32BE(at + 8);
    const end = at + 12 + length;
    if (length < 0) throw new FetchDecodeError(`batch at byte ${at}: length ${length}`);
    if (end > records.length) break;
    const batch = decodeBatch(records.subarray(at, end), previous);
    previous = batch.baseOffset + batch.lastOffsetDelta;
    batches.push(batch);
    at = end;
  }
  if (batches.length === 0) {
    throw new FetchDecodeError(`a records section of ${records.length} bytes holds no whole batch`);
  }
  return batches;
}

function decodeBatch(b: Buffer, previous: number): DecodedBatch {
  const w = new Wire(b);
  const base = w.offset('base offset', 0);
  const where = `batch at offset ${base}`;
  const magic = b.length > 16 ? b[16]! : -1;
  if (magic !== 2) w.fail(where, `message format ${magic} (this reader reads format 2)`);
  if (b.length - 12 < BATCH_HEADER_BYTES) w.fail(where, `length ${b.length - 12}`);
  // The library's crc32c copies a plain Buffer (new Uint8Array(buffer)) but reads a
  // DynamicBuffer's in place.
  const crc = b.readUInt32BE(17);
  const actual = crc32c(Reader.from(b.subarray(21)).buffer);
  if (actual !== crc) w.fail(where, `CRC-32C ${actual} where the batch says ${crc}`);
  const attributes = b.readInt16BE(21);
  const lastOffsetDelta = b.readInt32BE(23);
  const last = base + lastOffsetDelta;
  if (lastOffsetDelta < 0 || last > MAX_OFFSET) {
    w.fail(where, `last offset delta ${lastOffsetDelta}`);
  }
  if (base <= previous) {
    w.fail(where, `starts at or before the end of the batch before (${previous})`);
  }
  const count = b.readInt32BE(57);
  if (count < 0 || count > lastOffsetDelta + 1) {
    w.fail(where, `${count} records for offsets ${base}..${last}`);
  }
  let data = b.subarray(BATCH_RECORDS_AT);
  const codec = attributes & IS_COMPRESSED;
  if (codec !== 0) {
    const algorithm = compressionsAlgorithmsByBitmask[codec];
    if (!algorithm) {
      throw new UnsupportedCompressionError(
        `Unsupported compression algorithm with bitmask ${codec}`,
      );
    }
    let out: Uint8Array;
    try {
      out = algorithm.decompressSync(data);
    } catch (err) {
      if (err instanceof UnsupportedCompressionError) throw err;
      return w.fail(where, `records do not decompress (codec ${codec}): ${messageOf(err)}`);
    }
    data = Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  // LogAppendTime: every record's timestamp is the batch's max timestamp.
  const appendTime = (attributes & LOG_APPEND_TIME) !== 0;
  const timestamps = {
    base: Number(b.readBigInt64BE(appendTime ? 35 : 27)),
    deltas: !appendTime,
  };
  const decoded = decodeRecords(data, count, base, lastOffsetDelta, timestamps);
  const batch: DecodedBatch = {
    baseOffset: base,
    lastOffsetDelta,
    attributes,
    producerId: b.readBigInt64BE(43),
    records: decoded.records,
  };
  if ((attributes & IS_CONTROL) !== 0 && count > 0) {
    // A control record's key: a version and a type, two bytes each.
    const key = decoded.firstKey;
    if (!key || key.length < 4) return w.fail(where, 'a control record without a type');
    batch.controlType = key.readInt16BE(2);
  }
  return batch;
}

/**
 * `count` records filling `data` exactly, at strictly increasing offsets inside their batch, as
 * ConsumedRecords: keys as strings, values as views of `data` (no copy), headers decoded once
 * per run of identical header blocks (a producer's records usually carry the same ones).
 */
function decodeRecords(
  data: Buffer,
  count: number,
  base: number,
  lastOffsetDelta: number,
  timestamps: { base: number; deltas: boolean },
): { records: ConsumedRecord[]; firstKey: Buffer | null } {
  const where = `batch at offset ${base}`;
  const w = new Wire(data);
  if (count > data.length / MIN_RECORD_BYTES) {
    w.fail(where, `${count} records in ${data.length} bytes`);
  }
  const records = new Array<ConsumedRecord>(count);
  let firstKey: Buffer | null = null;
  let previous = -1;
  let lastBlock: Buffer | undefined; // the header bytes of the last record that had headers
  let lastHeaders: Record<string, string> | undefined;
  for (let i = 0; i < count; i++) {
    w.end = data.length;
    const length = w.varint('record length');
    if (length < MIN_RECORD_BYTES - 1 || length > w.left) w.fail(where, `record length ${length}`);
    w.end = w.at + length;
    w.take(1, 'record attributes');
    const timestampDelta = w.varint('timestamp delta', 8);
    const offsetDelta = w.varint('offset delta');
    if (offsetDelta <= previous || offsetDelta > lastOffsetDelta) {
      w.fail(
        where,
        `a record at offset ${base + offsetDelta} (after ${base + previous}, batch ends at ${base + lastOffsetDelta})`,
      );
    }
    previous = offsetDelta;
    const key = w.varbytes('record key');
    if (i === 0) firstKey = key;
    const value = w.varbytes('record value');
    const headerCount = w.varint('header count');
    if (headerCount < 0 || headerCount > w.left / 2) {
      w.fail(where, `${headerCount} headers in ${w.left} bytes`);
    }
    let headers: Record<string, string> | undefined;
    if (headerCount > 0) {
      const blockStart = w.at;
      const pairs: [Buffer, Buffer | null][] = [];
      for (let h = 0; h < headerCount; h++) {
        const name = w.varbytes('header name');
        if (name === null) return w.fail(where, 'a header without a name');
        pairs.push([name, w.varbytes('header value')]);
      }
      const block = data.subarray(blockStart, w.at);
      if (lastBlock?.equals(block)) {
        headers = lastHeaders;
      } else {
        headers = decodeHeaders(pairs);
        lastBlock = block;
        lastHeaders = headers;
      }
    }
    if (w.left !== 0) w.fail(where, `a record of ${length} bytes with ${w.left} left over`);
    const record: ConsumedRecord = {
      offset: base + offsetDelta,
      timestamp: timestamps.deltas ? timestamps.base + timestampDelta : timestamps.base,
      key: key === null ? null : key.toString('utf8'),
      value,
      size: (value?.length ?? 0) + (key?.length ?? 0),
    };
    if (headers) record.headers = headers;
    records[i] = record;
  }
  w.end = data.length;
  if (w.left !== 0) w.fail(where, `${w.left} bytes after its ${count} records`);
  return { records, firstKey };
}

/**
 * A decoded partition answer's records from `fromOffset` on (toConsumedRecords), with what the
 * decoder cannot check: a high watermark, and no record at or past it. Kafka puts in a response
 * the high watermark from before it read the log and reads up to the one at the time of the
 * read, so a response can hold records past its own; those are left for the next fetch, whose
 * high watermark covers them. The same cut keeps a response that claims records far past the end
 * of the partition from moving a reader there.
 */
export function readFetched(answer: FetchResponsePartition, fromOffset: number): Fetched {
  const highWatermark = Number(answer.highWatermark);
  if (highWatermark < 0) throw new FetchDecodeError(`high watermark ${highWatermark}`);
  let decoded: ReturnType<typeof toConsumedRecords>;
  try {
    decoded = toConsumedRecords(answer.records ?? [], fromOffset, answer.abortedTransactions);
  } catch (err) {
    throw new FetchDecodeError(messageOf(err), { cause: err });
  }
  if (decoded.nextOffset <= highWatermark) return { ...decoded, highWatermark };
  let n = decoded.records.length;
  while (n > 0 && decoded.records[n - 1]!.offset >= highWatermark) n--;
  return {
    records: n === decoded.records.length ? decoded.records : decoded.records.slice(0, n),
    nextOffset: Math.max(fromOffset, highWatermark),
    highWatermark,
  };
}

/** Aborted producers whose transactions cover a batch (Kafka's READ_COMMITTED rule). */
class AbortedFilter {
  private readonly pending: { producerId: bigint; firstOffset: number }[];
  private readonly aborted = new Set<bigint>();

  constructor(transactions: readonly FetchResponsePartitionAbortedTransaction[]) {
    this.pending = transactions
      .map((t) => ({ producerId: t.producerId, firstOffset: Number(t.firstOffset) }))
      .sort((a, b) => a.firstOffset - b.firstOffset);
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
 * The decoded batches' records from `fromOffset` on. Control batches and aborted transactions are
 * left out; `nextOffset` is past the last batch, control batches included.
 */
export function toConsumedRecords(
  batches: readonly DecodedBatch[],
  fromOffset: number,
  abortedTransactions: readonly FetchResponsePartitionAbortedTransaction[] = [],
): { records: ConsumedRecord[]; nextOffset: number } {
  const records: ConsumedRecord[] = [];
  const filter = new AbortedFilter(abortedTransactions);
  let nextOffset = fromOffset;
  for (const batch of batches) {
    const lastOffset = batch.baseOffset + batch.lastOffsetDelta;
    nextOffset = Math.max(nextOffset, lastOffset + 1);
    if (lastOffset < fromOffset) continue;
    const isControl = (batch.attributes & IS_CONTROL) !== 0;
    if ((batch.attributes & IS_TRANSACTIONAL) !== 0 || isControl) {
      // Compaction can leave a control batch empty: it marks nothing then.
      const abortMarker = isControl && batch.controlType === 0;
      if (filter.skips(batch.producerId, lastOffset, isControl, abortMarker)) continue;
    }
    for (const r of batch.records) if (r.offset >= fromOffset) records.push(r);
  }
  return { records, nextOffset };
}

/** Header values decoded as UTF-8; a header with a null value is left out, the first name wins. */
function decodeHeaders(pairs: readonly [Buffer, Buffer | null][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (value === null) continue;
    const key = name.toString('utf8');
    if (!(key in out)) out[key] = value.toString('utf8');
  }
  return Object.freeze(out);
}

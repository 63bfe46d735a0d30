/**
 * Kafka wire bytes written by hand for tests that need exact (and exactly wrong) bytes: record
 * batches (format 2), Fetch v13+ response bodies and response frames. Every length, count, offset
 * and checksum can be overridden, so a test can say precisely which field lies. Checksums are
 * kafkajs's CRC-32C, an implementation independent of the one the reader checks with.
 */

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's crc32C is not exported */
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
/* eslint-enable @typescript-eslint/no-require-imports */

/** An append-only byte writer with Kafka's integer, varint and compact encodings. */
export class Bytes {
  private readonly parts: Buffer[] = [];

  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.raw(b);
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.raw(b);
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.raw(b);
  }

  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.raw(b);
  }

  int64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    return this.raw(b);
  }

  /** Unsigned LEB128 of any size (a hostile length can take more bytes than Kafka allows). */
  uvarint(v: number | bigint): this {
    let n = BigInt(v);
    if (n < 0n) throw new RangeError('uvarint of a negative number');
    const out: number[] = [];
    do {
      const low = Number(n & 0x7fn);
      n >>= 7n;
      out.push(n === 0n ? low : low | 0x80);
    } while (n !== 0n);
    return this.raw(Buffer.from(out));
  }

  /** Zigzag varint (Kafka's varint and varlong: the same encoding, 5 or 10 bytes at most). */
  varint(v: number | bigint): this {
    const n = BigInt(v);
    return this.uvarint(n >= 0n ? n * 2n : -n * 2n - 1n);
  }

  uuid(id: string): this {
    return this.raw(Buffer.from(id.replaceAll('-', ''), 'hex'));
  }

  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0);
    const b = Buffer.from(s);
    return this.uvarint(b.length + 1).raw(b);
  }

  compactBytes(b: Buffer | null): this {
    if (b === null) return this.uvarint(0);
    return this.uvarint(b.length + 1).raw(b);
  }

  /** An empty tagged-field section. */
  tags(): this {
    return this.uvarint(0);
  }

  raw(b: Buffer | Uint8Array): this {
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }

  get length(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface RecordSpec {
  offsetDelta: number;
  timestampDelta?: number | bigint;
  attributes?: number;
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: [string | Buffer, string | Buffer | null][];
}

const bytesOf = (v: string | Buffer | null | undefined) =>
  v === undefined || v === null ? null : Buffer.from(v);

/** One record as format 2 writes it: a varint length, then the record. */
export function encodeRecord(r: RecordSpec): Buffer {
  const body = new Bytes()
    .int8(r.attributes ?? 0)
    .varint(r.timestampDelta ?? 0)
    .varint(r.offsetDelta);
  for (const field of [bytesOf(r.key), bytesOf(r.value)]) {
    if (field === null) body.varint(-1);
    else body.varint(field.length).raw(field);
  }
  const headers = r.headers ?? [];
  body.varint(headers.length);
  for (const [name, value] of headers) {
    const n = Buffer.from(name);
    body.varint(n.length).raw(n);
    const v = bytesOf(value);
    if (v === null) body.varint(-1);
    else body.varint(v.length).raw(v);
  }
  const done = body.done();
  return new Bytes().varint(done.length).raw(done).done();
}

export interface BatchSpec {
  baseOffset: number | bigint;
  /** Records (encoded with encodeRecord), or raw bytes standing where the records go. */
  records: RecordSpec[] | Buffer;
  /** Defaults to the records' count (or 0 for raw bytes). */
  count?: number;
  /** Defaults to the largest record offset delta (or count − 1 for raw bytes). */
  lastOffsetDelta?: number;
  attributes?: number;
  /** Compresses the records section (attributes must then say which codec). */
  compress?: (records: Buffer) => Buffer;
  firstTimestamp?: number;
  maxTimestamp?: number;
  producerId?: number | bigint;
  magic?: number;
  /** A checksum to write instead of the right one. */
  crc?: number;
  /** A batch length to write instead of the right one. */
  length?: number;
}

/** ATTRIBUTES_AT: where a batch's attributes start (the CRC covers from there to its end). */
export const ATTRIBUTES_AT = 21;
export const IS_TRANSACTIONAL = 0x10;
export const IS_CONTROL = 0x20;
export const GZIP = 1;

/** A format-2 record batch (Kafka's DefaultRecordBatch layout). */
export function encodeBatch(spec: BatchSpec): Buffer {
  const raw = Buffer.isBuffer(spec.records);
  const list = Buffer.isBuffer(spec.records) ? [] : spec.records;
  const records = Buffer.isBuffer(spec.records)
    ? spec.records
    : Buffer.concat(list.map(encodeRecord));
  const count = spec.count ?? list.length;
  const lastOffsetDelta =
    spec.lastOffsetDelta ??
    (raw ? Math.max(0, count - 1) : Math.max(0, ...list.map((r) => r.offsetDelta)));
  const t0 = spec.firstTimestamp ?? Date.UTC(2026, 0, 1);
  const afterCrc = new Bytes()
    .int16(spec.attributes ?? 0)
    .int32(lastOffsetDelta)
    .int64(t0)
    .int64(spec.maxTimestamp ?? t0)
    .int64(spec.producerId ?? -1)
    .int16(spec.producerId === undefined ? -1 : 0)
    .int32(spec.producerId === undefined ? -1 : 0)
    .int32(count)
    .raw(spec.compress ? spec.compress(records) : records)
    .done();
  const crc = spec.crc ?? crc32C(afterCrc);
  const afterLength = new Bytes()
    .int32(0) // partition leader epoch
    .int8(spec.magic ?? 2)
    .uint32(crc)
    .raw(afterCrc)
    .done();
  return new Bytes()
    .int64(spec.baseOffset)
    .int32(spec.length ?? afterLength.length)
    .raw(afterLength)
    .done();
}

/** A batch's checksum computed again (after a test changed bytes it covers). */
export function resealBatch(batch: Buffer): Buffer {
  const copy = Buffer.from(batch);
  if (copy.length <= ATTRIBUTES_AT) return copy;
  copy.writeUInt32BE(crc32C(copy.subarray(ATTRIBUTES_AT)), 17);
  return copy;
}

export interface PartitionAnswer {
  partition: number;
  errorCode?: number;
  highWatermark: number | bigint;
  lastStableOffset?: number | bigint;
  logStartOffset?: number | bigint;
  aborted?: { producerId: number | bigint; firstOffset: number | bigint }[];
  /** Record batches, or null for Kafka's null records. */
  records?: Buffer | null;
}

/** A Fetch response body, v13 to v17 (topics by id; the layout is the same in all five). */
export function fetchBody(o: {
  topicId: string;
  partitions: PartitionAnswer[];
  errorCode?: number;
}): Buffer {
  const w = new Bytes()
    .int32(0) // throttle time
    .int16(o.errorCode ?? 0)
    .int32(0) // session id
    .uvarint(2) // one topic
    .uuid(o.topicId)
    .uvarint(o.partitions.length + 1);
  for (const p of o.partitions) {
    const hw = p.highWatermark;
    w.int32(p.partition)
      .int16(p.errorCode ?? 0)
      .int64(hw)
      .int64(p.lastStableOffset ?? hw)
      .int64(p.logStartOffset ?? 0)
      .uvarint((p.aborted?.length ?? 0) + 1);
    for (const a of p.aborted ?? []) w.int64(a.producerId).int64(a.firstOffset).tags();
    w.int32(-1) // preferred read replica
      .compactBytes(p.records === undefined ? Buffer.alloc(0) : p.records)
      .tags();
  }
  return w.tags().tags().done();
}

/**
 * A response frame: size, correlation id, the header's tagged fields (every flexible response
 * but ApiVersions has them), then the body.
 */
export function responseFrame(correlationId: number, body: Buffer, headerTags = true): Buffer {
  const head = new Bytes().int32(correlationId);
  if (headerTags) head.tags();
  const inner = Buffer.concat([head.done(), body]);
  return new Bytes().int32(inner.length).raw(inner).done();
}

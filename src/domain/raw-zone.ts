/**
 * The S3 raw zone's naming and the pure decisions of the sink (DESIGN 4 and 5): object keys from
 * (topic, partition, start offset, UTC day) in the Confluent S3 sink's layout, classification of
 * each Kafka record as valid or quarantined, and the split of a batch into objects.
 */

import { parseRaw } from './raw-schemas';
import type { Table } from './tables';

const pad10 = (n: number) => String(n).padStart(10, '0');

const DAY_MS = 86_400_000;
let cachedDay = { start: 0, end: 0, day: '1970-01-01' };

/** The UTC day of an epoch-milliseconds timestamp, `YYYY-MM-DD`. */
export function utcDay(epochMs: number): string {
  // Records arrive in timestamp order, so the last day answers almost every call (hot path).
  if (epochMs >= cachedDay.start && epochMs < cachedDay.end) return cachedDay.day;
  const start = Math.floor(epochMs / DAY_MS) * DAY_MS;
  cachedDay = { start, end: start + DAY_MS, day: new Date(start).toISOString().slice(0, 10) };
  return cachedDay.day;
}

export interface ObjectPosition {
  topic: string;
  partition: number;
  startOffset: number;
  day: string;
}

/** `topics/<topic>/dt=<day>/partition=<p>/<topic>+<p>+<startOffset, 10 digits>.json` */
export function rawObjectKey(p: ObjectPosition): string {
  return `topics/${p.topic}/dt=${p.day}/partition=${p.partition}/${p.topic}+${p.partition}+${pad10(p.startOffset)}.json`;
}

/** `quarantine/<table>/dt=<day>/partition=<p>/<topic>+<p>+<startOffset>.json` */
export function quarantineObjectKey(table: Table, p: ObjectPosition): string {
  return `quarantine/${table}/dt=${p.day}/partition=${p.partition}/${p.topic}+${p.partition}+${pad10(p.startOffset)}.json`;
}

const rawKeyPattern =
  /^topics\/([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/partition=(\d+)\/([^/]+)\+(\d+)\+(\d{10,})\.json$/;

/** The position encoded in a raw-zone key, or undefined for any other key. */
export function parseRawObjectKey(key: string): ObjectPosition | undefined {
  const m = rawKeyPattern.exec(key);
  if (!m || m[1] !== m[4] || m[3] !== m[5]) return undefined;
  return { topic: m[1]!, day: m[2]!, partition: Number(m[3]), startOffset: Number(m[6]) };
}

/** The prefix holding all of a topic's raw objects. */
export function rawTopicPrefix(topic: string): string {
  return `topics/${topic}/`;
}

/** The prefix holding one day of a topic's raw objects. */
export function rawDayPrefix(topic: string, day: string): string {
  return `${rawTopicPrefix(topic)}dt=${day}/`;
}

export interface KafkaRecordLike {
  offset: number;
  timestamp: number;
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

/** One NDJSON line's bytes (no newline); the sink concatenates them without decoding. */
export type ClassifiedRecord =
  | { kind: 'raw'; offset: number; day: string; line: Uint8Array }
  | { kind: 'quarantine'; offset: number; day: string; line: Uint8Array; reason: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const RETURN = 0x0d;

function isOneLine(bytes: Uint8Array): boolean {
  return bytes.indexOf(NEWLINE) < 0 && bytes.indexOf(RETURN) < 0;
}

function decode(value: Uint8Array | null): { text: string } | { error: string; shown: string } {
  if (value === null) return { error: 'record has no value (null)', shown: '' };
  try {
    return { text: utf8.decode(value) };
  } catch {
    let binary = '';
    for (const byte of value) binary += String.fromCharCode(byte);
    return { error: 'value is not UTF-8', shown: `base64:${btoa(binary)}` };
  }
}

/**
 * A valid record becomes one NDJSON line: its value as produced when that is one line, else
 * re-serialised; anything else becomes a quarantine line with the reason and its source position.
 * Every record not in a signed group that verifies (signed-groups.ts) is validated here,
 * whoever produced it: no header alone lets a record skip this.
 */
export function classifyRecord(
  table: Table,
  topic: string,
  partition: number,
  record: KafkaRecordLike,
): ClassifiedRecord {
  const day = utcDay(record.timestamp);
  const value = record.value;
  const decoded = decode(value);
  if ('error' in decoded) {
    return quarantined(topic, partition, record, day, decoded.error, decoded.shown);
  }
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(decoded.text);
  } catch (err) {
    const reason = `not JSON: ${(err as Error).message}`;
    return quarantined(topic, partition, record, day, reason, decoded.text);
  }
  const parsed = parseRaw(table, parsedJson);
  if (!parsed.ok) {
    return quarantined(topic, partition, record, day, `schema: ${parsed.reason}`, decoded.text);
  }
  const line = isOneLine(value!) ? value! : encoder.encode(JSON.stringify(parsedJson));
  return { kind: 'raw', offset: record.offset, day, line };
}

/**
 * A quarantine line: the reason and the record's source position. A function of its own, not a
 * closure made per record: the sink's profile showed ~0.5 µs a record spent making it.
 */
function quarantined(
  topic: string,
  partition: number,
  record: KafkaRecordLike,
  day: string,
  reason: string,
  shown: string,
): ClassifiedRecord {
  return {
    kind: 'quarantine',
    offset: record.offset,
    day,
    reason,
    line: encoder.encode(
      JSON.stringify({
        topic,
        partition,
        offset: record.offset,
        timestamp: new Date(record.timestamp).toISOString(),
        reason,
        value: shown,
      }),
    ),
  };
}

/** Lines joined by, and ended with, a newline: the body of one NDJSON object. */
export function encodeNdjson(lines: readonly Uint8Array[]): Uint8Array {
  let size = lines.length;
  for (const l of lines) size += l.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const l of lines) {
    out.set(l, at);
    at += l.length;
    out[at++] = NEWLINE;
  }
  return out;
}

/**
 * Records of a signed group that verified (signed-groups.ts), of one UTC day at consecutive
 * offsets: their NDJSON body as the API produced it, written as it is.
 */
export interface SignedRun {
  kind: 'signed';
  offset: number;
  lastOffset: number;
  day: string;
  /** The records' lines, each ended by a newline. */
  body: Uint8Array;
  count: number;
  /** Index of the run's first record in its batch (to cut the run at an offset: cutRun). */
  first: number;
}

/** What the sink segments: records one by one, and signed runs whole. */
export type BatchEntry = ClassifiedRecord | SignedRun;

/** The last offset an entry covers. */
export const entryEnd = (e: BatchEntry): number => (e.kind === 'signed' ? e.lastOffset : e.offset);

/** The part of a run from `offset` on (a write before it ended inside the run). */
export function cutRun(
  run: SignedRun,
  records: readonly { value: Uint8Array | null }[],
  offset: number,
): SignedRun {
  const skip = offset - run.offset;
  if (skip <= 0) return run;
  if (skip > run.lastOffset - run.offset) throw new RangeError(`offset ${offset} is past the run`);
  let bytes = 0;
  for (let i = run.first; i < run.first + skip; i++) bytes += records[i]!.value!.length + 1;
  return {
    ...run,
    offset,
    body: run.body.subarray(bytes),
    count: run.count - skip,
    first: run.first + skip,
  };
}

export interface Segment {
  kind: 'raw' | 'quarantine';
  day: string;
  firstOffset: number;
  lastOffset: number;
  /** The records' lines (records classified one by one)... */
  lines: Uint8Array[];
  /** ...or a signed run's body and record count. */
  signed?: { body: Uint8Array; count: number };
}

/** The object body of a segment, and how many records it holds. */
export function segmentBody(segment: Segment): { body: Uint8Array; count: number } {
  return segment.signed ?? { body: encodeNdjson(segment.lines), count: segment.lines.length };
}

/**
 * Consecutive records of the same kind and UTC day form one object, so the objects of a
 * partition tile its offsets with no gap and no overlap, and a batch crossing midnight splits.
 */
export function segmentRecords(records: readonly BatchEntry[]): Segment[] {
  const segments: Segment[] = [];
  for (let i = 0; i < records.length;) {
    const taken = takeSegment(records, i);
    segments.push(taken.segment);
    i = taken.next;
  }
  return segments;
}

/** The segment that starts at records[start], and the index just after it. */
export function takeSegment(
  records: readonly BatchEntry[],
  start: number,
): { segment: Segment; next: number } {
  const first = records[start];
  if (!first) throw new RangeError(`no record at index ${start}`);
  if (first.kind === 'signed') {
    const { body, count } = first;
    const segment: Segment = {
      kind: 'raw',
      day: first.day,
      firstOffset: first.offset,
      lastOffset: first.lastOffset,
      lines: [],
      signed: { body, count },
    };
    return { segment, next: start + 1 };
  }
  const segment: Segment = {
    kind: first.kind,
    day: first.day,
    firstOffset: first.offset,
    lastOffset: first.offset,
    lines: [first.line],
  };
  let i = start + 1;
  for (; i < records.length; i++) {
    const r = records[i]!;
    if (r.kind !== segment.kind || r.day !== segment.day || r.offset !== segment.lastOffset + 1)
      break;
    segment.lines.push(r.line);
    segment.lastOffset = r.offset;
  }
  return { segment, next: i };
}

export interface FlushPolicy {
  maxRecords: number;
  maxBytes: number;
  rotateIntervalMs: number;
}

export type FlushDecision = { flush: true } | { flush: false; waitMs: number };

/**
 * Write now when the batch is full (records or bytes) or its oldest record has waited the rotate
 * interval; otherwise say how long until it will have. Kafka keeps the records meanwhile.
 */
export function flushDecision(
  batch: { records: number; bytes: number; oldestTimestamp: number | undefined },
  policy: FlushPolicy,
  now: number,
): FlushDecision {
  if (batch.records === 0 || batch.oldestTimestamp === undefined) {
    return { flush: false, waitMs: policy.rotateIntervalMs };
  }
  if (batch.records >= policy.maxRecords || batch.bytes >= policy.maxBytes) return { flush: true };
  const age = now - batch.oldestTimestamp;
  if (age >= policy.rotateIntervalMs) return { flush: true };
  return { flush: false, waitMs: policy.rotateIntervalMs - age };
}

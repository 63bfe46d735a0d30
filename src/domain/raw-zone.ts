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

/** The prefix holding one day of a topic's raw objects. */
export function rawDayPrefix(topic: string, day: string): string {
  return `topics/${topic}/dt=${day}/`;
}

export interface KafkaRecordLike {
  offset: number;
  timestamp: number;
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

/**
 * The header the ingest API puts on a record it has validated against its table's raw schema
 * (validate once, at the edge, like a schema-registry id), so the sink can write the record
 * without parsing it again. Anyone who can produce to the topic can set a header, so the mark
 * is signed: `<table>/v2.<signature>`, the signature a keyed MAC (HMAC-SHA256 with the key the
 * API and the workers share, PINPIPE_RECORD_KEY; see src/activities/record-mark-key.ts) over
 * markPreamble(table, topic) followed by the value's bytes exactly as stored in Kafka. The table
 * in clear text only says what the mark claims (and lets a mark for another table be refused
 * without computing anything); the signature is what binds it. A mark copied onto another
 * value, table or topic, a mark from an unsigned (v1) or unknown version, a malformed one, or
 * one signed with another key is not trusted: the record is validated in full instead, so
 * nothing is lost and nothing unvalidated is written as valid. Without a key the API does not
 * mark at all and the sink trusts no mark.
 */
export const VALIDATED_HEADER = 'pinpipe-validated';
export const MARK_VERSION = 'v2';

/** A MAC of (preamble, value) in base64url without padding (43 characters for HMAC-SHA256). */
export type MarkSigner = (preamble: string, value: Uint8Array) => string;
/** Whether `signature` is the MAC of (preamble, value); compares in constant time. */
export type MarkVerifier = (preamble: string, value: Uint8Array, signature: string) => boolean;

/**
 * What the signature binds besides the value, which follows it: the header's name (so a MAC made
 * with the same key for another purpose is not a mark), the mark's version, the table and the
 * topic (so a record copied to another pipeline's topic is validated again there). NUL cannot
 * occur in a table or a Kafka topic name, so the encoding is unambiguous.
 */
export function markPreamble(table: Table, topic: string): string {
  return `${VALIDATED_HEADER}\0${MARK_VERSION}\0${table}\0${topic}\0`;
}

/** The header value the API stamps on `value` (its bytes as produced) for `table` on `topic`. */
export function validatedMark(
  table: Table,
  topic: string,
  value: Uint8Array,
  sign: MarkSigner,
): string {
  return `${table}/${MARK_VERSION}.${sign(markPreamble(table, topic), value)}`;
}

const markPattern = /^([a-z]+)\/(v[0-9]+)(?:\.(.*))?$/;
const signaturePattern = /^[A-Za-z0-9_-]{43}$/;

export type MarkVerdict = { trusted: true } | { trusted: false; reason: string };
const TRUSTED: MarkVerdict = { trusted: true };

/**
 * Whether the sink may write `value` for `table` without validating it: only when `mark` is a
 * well-formed current-version mark for this table whose signature over (table, topic, value)
 * checks out with the key. Otherwise the reason, for tests and diagnostics; the caller then
 * validates the record in full.
 */
export function checkValidatedMark(
  mark: string | undefined,
  table: Table,
  topic: string,
  value: Uint8Array,
  verify: MarkVerifier | undefined,
): MarkVerdict {
  if (mark === undefined) return { trusted: false, reason: 'no mark' };
  if (!verify) return { trusted: false, reason: 'no record key configured: no mark is trusted' };
  const m = markPattern.exec(mark);
  if (!m) return { trusted: false, reason: 'malformed mark' };
  const [, markTable, version, signature] = m;
  if (version !== MARK_VERSION) {
    return { trusted: false, reason: `unknown mark version ${version}` };
  }
  if (markTable !== table) return { trusted: false, reason: `mark for table ${markTable}` };
  if (signature === undefined || !signaturePattern.test(signature)) {
    return { trusted: false, reason: 'malformed signature' };
  }
  if (!verify(markPreamble(table, topic), value, signature)) {
    return { trusted: false, reason: 'signature does not match' };
  }
  return TRUSTED;
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
 * A record whose mark `verifyMark` confirms (checkValidatedMark) was validated by the API and is
 * written as is; without `verifyMark` (no key configured) every record is validated here.
 */
export function classifyRecord(
  table: Table,
  topic: string,
  partition: number,
  record: KafkaRecordLike,
  verifyMark?: MarkVerifier,
): ClassifiedRecord {
  const day = utcDay(record.timestamp);
  const value = record.value;
  const mark = record.headers?.[VALIDATED_HEADER];
  // The cheap checks first: the MAC is computed only for a one-line value that carries a mark.
  if (
    value !== null &&
    mark !== undefined &&
    verifyMark !== undefined &&
    isOneLine(value) &&
    checkValidatedMark(mark, table, topic, value, verifyMark).trusted
  ) {
    return { kind: 'raw', offset: record.offset, day, line: value };
  }
  const quarantine = (reason: string, shown: string): ClassifiedRecord => ({
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
  });
  const decoded = decode(value);
  if ('error' in decoded) return quarantine(decoded.error, decoded.shown);
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(decoded.text);
  } catch (err) {
    return quarantine(`not JSON: ${(err as Error).message}`, decoded.text);
  }
  const parsed = parseRaw(table, parsedJson);
  if (!parsed.ok) return quarantine(`schema: ${parsed.reason}`, decoded.text);
  const line = isOneLine(value!) ? value! : encoder.encode(JSON.stringify(parsedJson));
  return { kind: 'raw', offset: record.offset, day, line };
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

export interface Segment {
  kind: 'raw' | 'quarantine';
  day: string;
  firstOffset: number;
  lastOffset: number;
  lines: Uint8Array[];
}

/**
 * Consecutive records of the same kind and UTC day form one object, so the objects of a
 * partition tile its offsets with no gap and no overlap, and a batch crossing midnight splits.
 */
export function segmentRecords(records: readonly ClassifiedRecord[]): Segment[] {
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
  records: readonly ClassifiedRecord[],
  start: number,
): { segment: Segment; next: number } {
  const first = records[start];
  if (!first) throw new RangeError(`no record at index ${start}`);
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

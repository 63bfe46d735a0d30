/**
 * Signed groups: how the sink knows which records the ingest API already validated, without
 * trusting anything a producer can write. The API signs, per partition and per send, each run of
 * records it validated: the first record of the run carries the header
 * `pinpipe-signature: v1.<count>.<tag>`, where the tag is a MAC (record-signature.ts) over the
 * topic, the count and the run's values each followed by a newline, i.e. the exact NDJSON lines
 * the raw zone will hold. A producer without the key cannot make a tag that verifies, so its
 * records, headers or not, are validated in full. Pure: finding groups and framing the signed
 * bytes; the MAC itself is a port.
 */

import {
  type BatchEntry,
  classifyRecord,
  type KafkaRecordLike,
  type SignedRun,
  utcDay,
} from './raw-zone';
import type { Table } from './tables';

export const SIGNATURE_HEADER = 'pinpipe-signature';
const VERSION = 'v1';
/** A run longer than this is not signed as one (and a header claiming more is not believed). */
export const MAX_GROUP_RECORDS = 1_000_000;

export interface SignatureClaim {
  count: number;
  /** The MAC, base64url. */
  tag: string;
}

const headerPattern = /^v1\.([1-9][0-9]{0,6})\.([A-Za-z0-9_-]{16,86})$/;

export function formatSignatureHeader(claim: SignatureClaim): string {
  return `${VERSION}.${claim.count}.${claim.tag}`;
}

/** The claim a header makes, or undefined when it is not one this version reads. */
export function parseSignatureHeader(value: string | undefined): SignatureClaim | undefined {
  if (value === undefined) return undefined;
  const m = headerPattern.exec(value);
  if (!m) return undefined;
  const count = Number(m[1]);
  return count > MAX_GROUP_RECORDS ? undefined : { count, tag: m[2]! };
}

/** What is signed besides the lines: the topic (a run replayed into another topic fails). */
export function signedPrefix(topic: string, count: number): string {
  return `pinpipe-records-${VERSION}\n${topic}\n${count}\n`;
}

export interface SignedGroup extends SignatureClaim {
  /** Index of the group's first record in the batch. */
  start: number;
}

interface RecordWithHeaders {
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

/**
 * The groups a batch's records claim, whole ones only: a claim whose records run past the end of
 * the batch (a read that stopped inside it) or that holds another claim, a null value or a
 * record with a signature header of a form this version does not read is dropped, and its
 * records are validated like anyone's. Claims are not verified here.
 */
export function signedGroups(records: readonly RecordWithHeaders[]): SignedGroup[] {
  const groups: SignedGroup[] = [];
  let i = 0;
  while (i < records.length) {
    const header = records[i]!.headers?.[SIGNATURE_HEADER];
    const claim = parseSignatureHeader(header);
    if (!claim || i + claim.count > records.length) {
      i++;
      continue;
    }
    let end = i + 1;
    const last = i + claim.count;
    while (end < last) {
      const r = records[end]!;
      if (r.value === null || r.headers?.[SIGNATURE_HEADER] !== undefined) break;
      end++;
    }
    if (end === last && records[i]!.value !== null) {
      groups.push({ start: i, ...claim });
      i = end;
    } else {
      // The claim is broken; the record that broke it may start a claim of its own.
      i = Math.max(i + 1, end);
    }
  }
  return groups;
}

/**
 * The lines of records[start, start + count): each value followed by a newline, in one buffer,
 * as the raw zone writes them and the signature covers them.
 */
export function groupLines(
  records: readonly { value: Uint8Array | null }[],
  start: number,
  count: number,
  allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  let size = count;
  for (let i = start; i < start + count; i++) size += records[i]!.value?.length ?? 0;
  const out = allocate(size);
  let at = 0;
  for (let i = start; i < start + count; i++) {
    const v = records[i]!.value;
    if (v) {
      out.set(v, at);
      at += v.length;
    }
    out[at++] = 0x0a;
  }
  return out;
}

/** A group's claim over bytes [at, at + size) of the batch's lines buffer. */
export interface ClaimedRange extends SignedGroup {
  at: number;
  size: number;
}

/**
 * Checks each range's claim against its bytes of `lines` (a MAC with the key the API signs
 * with). It may move `lines` to another thread and back: the classification goes on with the
 * buffer it returns.
 */
export type VerifyRanges = (
  lines: Uint8Array,
  ranges: readonly ClaimedRange[],
) => Promise<{ lines: Uint8Array; verdicts: readonly boolean[] }>;

/**
 * A batch classified for the raw zone: the records of groups that verify become signed runs,
 * written as the API produced them; every other record is validated in full (classifyRecord).
 * Without `verify`, all are. The lines of every group are framed into one buffer, and a run's
 * body is a view of it: consecutive groups of one day make one run, each byte is copied once on
 * its way to S3, and no object is made per signed record. `allocate` gives that buffer (the sink
 * reuses them: a new one per batch made the garbage collector run for its external memory).
 */
export async function classifyBatch(
  table: Table,
  topic: string,
  partition: number,
  records: readonly KafkaRecordLike[],
  verify?: VerifyRanges,
  allocate?: (size: number) => Uint8Array,
): Promise<BatchEntry[]> {
  const out: BatchEntry[] = [];
  let next = 0;
  const validate = (end: number) => {
    for (; next < end; next++) out.push(classifyRecord(table, topic, partition, records[next]!));
  };
  const groups = verify ? signedGroups(records) : [];
  const last = groups[groups.length - 1];
  if (last) {
    const from = groups[0]!.start;
    const framed = groupLines(records, from, last.start + last.count - from, allocate);
    const ranges: ClaimedRange[] = [];
    let at = 0;
    for (let i = from, g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      for (; i < group.start; i++) at += (records[i]!.value?.length ?? 0) + 1;
      let size = 0;
      for (; i < group.start + group.count; i++) size += records[i]!.value!.length + 1;
      ranges.push({ ...group, at, size });
      at += size;
    }
    const { lines, verdicts } = await verify!(framed, ranges);
    ranges.forEach((range, k) => {
      validate(range.start);
      const end = range.start + range.count;
      if (verdicts[k] === true) {
        appendRuns(out, records, range.start, end, lines, range.at);
        next = end;
      } else {
        validate(end);
      }
    });
  }
  validate(records.length);
  return out;
}

/**
 * records[start, end), verified, whose lines start at `at` in `lines`: as signed runs split where
 * the UTC day changes or an offset is skipped, each joined to the run before it when that run
 * ends just before it, in the same buffer.
 */
function appendRuns(
  out: BatchEntry[],
  records: readonly KafkaRecordLike[],
  start: number,
  end: number,
  lines: Uint8Array,
  at: number,
): void {
  let runStart = start;
  let runAt = at;
  let cursor = at;
  const close = (stop: number) => {
    const first = records[runStart]!;
    const run: SignedRun = {
      kind: 'signed',
      offset: first.offset,
      lastOffset: records[stop - 1]!.offset,
      day: utcDay(first.timestamp),
      body: lines.subarray(runAt, cursor),
      count: stop - runStart,
      first: runStart,
    };
    const before = out[out.length - 1];
    if (
      before?.kind === 'signed' &&
      before.day === run.day &&
      before.lastOffset + 1 === run.offset &&
      before.body.buffer === run.body.buffer &&
      before.body.byteOffset + before.body.length === run.body.byteOffset
    ) {
      before.lastOffset = run.lastOffset;
      before.count += run.count;
      before.body = lines.subarray(before.body.byteOffset - lines.byteOffset, cursor);
    } else {
      out.push(run);
    }
  };
  for (let i = start; i < end; i++) {
    const r = records[i]!;
    if (
      i > runStart &&
      (utcDay(r.timestamp) !== utcDay(records[runStart]!.timestamp) ||
        r.offset !== records[i - 1]!.offset + 1)
    ) {
      close(i);
      runStart = i;
      runAt = cursor;
    }
    cursor += r.value!.length + 1;
  }
  close(end);
}

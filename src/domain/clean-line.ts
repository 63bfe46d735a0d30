/**
 * The nightly cleaning of one raw NDJSON line, as a pure specification: bytes → lines, a line →
 * a clean row or a quarantine reason. The nightly runs these rules in DuckDB SQL
 * (analytics/clean-sql.ts); a differential test holds the two to identical rows and reasons.
 *
 * Composition: JSON.parse → parseRawByType (raw-schemas) → cleanRecord (cleaning) → the quality
 * gates (GateTally's semantics: every gate counts its failures; `drop` gates also quarantine).
 * Reasons, first failing step only:
 * - `not UTF-8`: the line's bytes are not UTF-8 (cleanNdjsonLine only);
 * - `not JSON`: JSON.parse rejects the line (no parser message: SQL cannot reproduce V8's);
 * - `not JSON: unpaired surrogate escape`: see hasUnpairedSurrogate;
 * - `schema: <field>: <message>; ...`: parseRawByType's issues, in field order;
 * - `cleaning: <field>: <message>`: a valid value the clean schema cannot hold (see unfitValue);
 * - `gate <name>: <description>; ...`: the failed drop gates, in gate order.
 */

import { cleanRecord, type CleanRecordMap } from './cleaning';
import { DEFAULT_GATES, GateTally, type Expectation } from './quality-gates';
import { parseRawByType } from './raw-schemas';
import type { Table } from './tables';

export type CleanLineResult<T extends Table = Table> =
  | {
      ok: true;
      row: CleanRecordMap[T];
      /** Indexes (in gate order) of the warn/fail gates this kept row failed. */
      failedGates: number[];
    }
  | {
      ok: false;
      reason: string;
      /** Set when a drop gate rejected the row: the row, and every gate it failed. */
      row?: CleanRecordMap[T];
      failedGates?: number[];
    };

export const NOT_UTF8 = 'not UTF-8';
export const NOT_JSON = 'not JSON';
export const UNPAIRED_SURROGATE = 'not JSON: unpaired surrogate escape';

/**
 * Whether a parsed JSON value holds a string (or key) with an unpaired UTF-16 surrogate, which
 * JSON.parse makes of escapes like `"\ud800"`. Such a line is quarantined although JSON.parse
 * accepts it: the text has no UTF-8 form (Parquet strings are UTF-8), I-JSON (RFC 7493 §2.1)
 * forbids it, and DuckDB's JSON reader rejects it.
 */
export function hasUnpairedSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasUnpairedSurrogate);
  return Object.entries(value).some(([k, v]) => LONE_SURROGATE.test(k) || hasUnpairedSurrogate(v));
}

// String.prototype.isWellFormed is ES2024, beyond this project's lib setting.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Integer columns hold no negative zero (JSON `-0` parses to -0 in JS; Parquet INT64 and
 * DuckDB's JSON reader have none), and a coordinate of -0 is 0: normalised so the spec's rows
 * compare equal to what SQL writes.
 */
function withoutNegativeZero<T extends Table>(row: CleanRecordMap[T]): CleanRecordMap[T] {
  const copy: Record<string, unknown> = { ...row };
  for (const [key, value] of Object.entries(copy)) {
    if (Object.is(value, -0)) copy[key] = 0;
    if (Array.isArray(value)) copy[key] = value.map((v: unknown) => (Object.is(v, -0) ? 0 : v));
  }
  return copy as CleanRecordMap[T];
}

const INT32_MAX = 2 ** 31 - 1;
export const AGE_TOO_LARGE = `age: expected at most ${INT32_MAX} (a 32-bit INTEGER column), received number`;

/**
 * What a valid record's clean row cannot hold: `age` is a 32-bit INTEGER in the clean schema
 * (DESIGN 6, as Spark infers it) while the raw schema takes any safe integer. The default gate
 * age_in_range would drop such a row anyway; without it, the Parquet writer would fail the day.
 */
function unfitValue<T extends Table>(table: T, row: CleanRecordMap[T]): string | undefined {
  if (table === 'user' && (row as CleanRecordMap['user']).age > INT32_MAX) return AGE_TOO_LARGE;
  return undefined;
}

/** Cleans one line (the text between newlines, without its CR); never throws. */
export function cleanLine<T extends Table>(
  table: T,
  line: string,
  gates: readonly Expectation<T>[] = DEFAULT_GATES[table],
): CleanLineResult<T> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: NOT_JSON };
  }
  if (hasUnpairedSurrogate(value)) return { ok: false, reason: UNPAIRED_SURROGATE };
  const parsed = parseRawByType(table, value);
  if (!parsed.ok) return { ok: false, reason: `schema: ${parsed.reason}` };
  let row: CleanRecordMap[T];
  try {
    row = withoutNegativeZero<T>(cleanRecord(table, parsed.record));
  } catch (err) {
    // Unreachable while the schemas check what the cleaning relies on; kept as a safety net.
    return { ok: false, reason: `cleaning: ${(err as Error).message}` };
  }
  const unfit = unfitValue(table, row);
  if (unfit !== undefined) return { ok: false, reason: `cleaning: ${unfit}` };
  const tally = new GateTally(gates);
  const drop = tally.check(row);
  const failedGates = tally.snapshot().failed.flatMap((n, i) => (n > 0 ? [i] : []));
  return drop.length === 0
    ? { ok: true, row, failedGates }
    : { ok: false, reason: drop.join('; '), row, failedGates };
}

export interface NdjsonLine {
  /** Byte offset of the line's first byte in the buffer. */
  offset: number;
  /** The line's bytes, without the newline and without one CR before it. */
  bytes: Uint8Array;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * The lines of an NDJSON buffer: split at LF; a CR right before the LF (or the end) belongs to
 * the line ending (CRLF files); lines that are then empty are not records and are skipped.
 */
export function* ndjsonLines(buffer: Uint8Array): Generator<NdjsonLine> {
  let start = 0;
  while (start < buffer.length) {
    const newline = buffer.indexOf(NEWLINE, start);
    const end = newline < 0 ? buffer.length : newline;
    const stop = end > start && buffer[end - 1] === RETURN ? end - 1 : end;
    if (stop > start) yield { offset: start, bytes: buffer.subarray(start, stop) };
    start = end + 1;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** cleanLine for a line's bytes: `not UTF-8` when they are not. */
export function cleanNdjsonLine<T extends Table>(
  table: T,
  bytes: Uint8Array,
  gates?: readonly Expectation<T>[],
): CleanLineResult<T> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: NOT_UTF8 };
  }
  return cleanLine(table, text, gates);
}

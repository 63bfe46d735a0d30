/**
 * DuckDB values → the plain JSON-able values the rest of pinpipe uses (clean rows, analytics
 * JSON). Only the types the clean schema and the nine queries produce are accepted; anything else
 * is a programming error and fails loudly rather than leaking a DuckDB class into JSON.
 */

import {
  DuckDBListValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';
import { formatUtcIso } from '../domain/datetime';

export type PlainValue = string | number | null | PlainValue[];

/** `column` only names the culprit in error messages. */
export function toPlainValue(value: DuckDBValue, column: string): PlainValue {
  if (value === null || typeof value === 'number' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return bigintToNumber(value, column);
  if (value instanceof DuckDBListValue) {
    return value.items.map((item) => toPlainValue(item, column));
  }
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) {
    if (!value.isFinite)
      throw new Error(`column ${column}: infinite timestamp ${value.toString()}`);
    return formatUtcIso(microsToMillis(value.micros));
  }
  throw new Error(`column ${column}: unsupported DuckDB value ${String(value)}`);
}

/**
 * BIGINT → number. Every BIGINT here (ind, counts, follower counts, years) is far below 2^53;
 * one that is not would be corrupt data, so refuse it instead of silently rounding.
 */
export function bigintToNumber(value: bigint, column: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) {
    throw new Error(`column ${column}: ${value} does not fit a JS number exactly`);
  }
  return number;
}

/** Floor division, so a pre-1970 instant with sub-millisecond digits still rounds down. */
function microsToMillis(micros: bigint): number {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  return Number(millis);
}

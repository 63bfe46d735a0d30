/**
 * The nightly cleaning in DuckDB SQL: raw NDJSON files in, the clean Parquet part and the
 * quarantine NDJSON out, with the rules of domain/clean-line.ts (the specification; a
 * differential test holds the two to identical rows, reasons, counts and gate tallies).
 *
 *   cleanWithSql(connection, { table, inputs, parquetOut, quarantineOut, gates? })
 *     → { rawRecords, rowsIn, quarantined, gateState: { checked, failed[] } }
 *
 * - inputs: local files, each holding whole lines of raw object `source` starting at byte
 *   `baseOffset` of it, or whole S3 objects read in place (no copy through JS or the disk). Lines end at LF; a CR before the LF is dropped; empty lines are skipped
 *   and not counted. Every other line counts in `rawRecords`.
 * - parquetOut: the kept rows (valid, and no drop gate failed) with the exact clean schema
 *   (clean-schema.ts), the row of each distinct kept line once, in no particular order: exact
 *   duplicates are what the commit removes anyway, and writing every copy cost more than all the
 *   cleaning (a day of the source's draw with replacement is mostly repeated lines). Two
 *   different lines may still clean to the same row (e.g. differing only in `downloaded`).
 *   `rowsIn` counts every kept line, repeats included, so the commit's reconciliation
 *   (raw = out + quarantined + duplicates) holds. Written even when empty.
 * - quarantineOut: one NDJSON line per rejected line, `{"source", "offset" (byte offset of the
 *   line in its object: baseOffset + position in the file), "reason" (cleanLine's, exactly),
 *   "value" (the line's text; `base64:<bytes>` for a line that is not UTF-8)}`, in input order;
 *   `quarantined` counts them. Always written; an empty file when nothing was rejected.
 * - gateState: GateTally's snapshot (`checked` = rows that reached the gates, `failed[i]` per
 *   gate in `gates` order), so a caller sums shards and calls GateTally.restore/results.
 * - gates: the table's expectations (DEFAULT_GATES by default). SQL cannot run their JS checks,
 *   so each needs a SQL twin: DEFAULT_GATES' are built in (GATE_SQL); any other gate must carry
 *   `sql`, a boolean expression over the clean columns (it passes only when TRUE).
 *
 * Memory: meant for shards of up to ~128 MiB under a DuckDB memory_limit of 256 MB or more
 * (measured: 128 MiB of distinct pin lines, 512 MB limit shared by two slots, 574 MB RSS). DuckDB
 * holds the distinct lines and spills beyond its limit to the connection's temp_directory; JS
 * holds one input file at a time, and only one larger than DIRECT_BYTES. The call's tables are
 * temporary and dropped, its piece files removed, at the end.
 *
 * Rooms: this file runs the steps and writes the outputs; clean-sql-rules.ts holds the raw fields,
 * clean columns and gates' SQL, clean-sql-fast.ts and clean-sql-slow.ts the two paths below, and
 * clean-sql-inputs.ts the text files DuckDB reads.
 *
 * How, and why (measured on DuckDB 1.5.5):
 * - Lines: DuckDB reads files of up to DIRECT_BYTES itself (read_text, which also checks UTF-8)
 *   and splits them. JS cuts a larger file into 4 MiB piece files beside it, at line ends:
 *   `unnest(string_split(...))` copies the whole text per 2048 lines, quadratic in its size (3 s
 *   and an out-of-memory at 64 MiB). read_csv splits lines at CR too and knows no byte offsets.
 *   An input that is not UTF-8 fails read_text; it then takes a JS slow path: its lines are
 *   checked one by one, the invalid ones quarantined as `not UTF-8`, the others cleaned as usual.
 * - Each distinct line is cleaned once (cleanLine is a function of the line's text), with its
 *   number of occurrences as a weight; the quarantine finds every occurrence of a rejected line
 *   again, with its offset, only when there is one.
 * - Fast path, one JSON parse per line: json_transform into typed columns; the line must be
 *   exactly those values re-serialised in schema order (what JSON.stringify of a raw record
 *   gives), every value must pass cheap checks and no drop gate may fail. Such a line has no
 *   duplicate or extra keys, whitespace, escapes, or JSON only DuckDB's lenient reader accepts;
 *   its row is the spec's. json_transform fails the whole query on malformed JSON, so it runs
 *   unguarded first and, only if that fails, again behind json_valid (a second parse).
 * - Slow path, every other line (rare: producers post JSON.stringify output): all of the spec's
 *   rules over json_extract fragments, with exact reasons. json_keys and `$.*` give the LAST
 *   value of a duplicate key (as JSON.parse does; json_extract gives the first), and a regex
 *   finds trailing commas and NaN/Infinity, which DuckDB's JSON reader accepts and JSON.parse
 *   does not. TRY() is avoided: it ran json_extract row by row, 4-8 times slower.
 */

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type DuckDBConnection } from '@duckdb/node-api';
import { NOT_UTF8 } from '../domain/clean-line';
import { CLEAN_COLUMNS } from '../domain/cleaning';
import { DEFAULT_GATES } from '../domain/quality-gates';
import { type Table } from '../domain/tables';
import { cleanSchema, SQL_TYPE } from './clean-schema';
import { quoteIdentifier as id, quoteString as str } from './sql-text';
import { fastSql } from './clean-sql-fast';
import { TextFiles, type Tables } from './clean-sql-inputs';
import { gateChecks, gateColumn, linesSql, type SqlExpectation } from './clean-sql-rules';
import { slowColumnsSql, slowSql } from './clean-sql-slow';

export { readableInPlace } from './clean-sql-inputs';
export { GATE_SQL, type SqlExpectation } from './clean-sql-rules';

export interface CleanSqlInput {
  /**
   * A local NDJSON file of whole lines, or a whole S3 object `s3://bucket/key` that DuckDB reads
   * in place (see readableInPlace; the connection needs S3 access).
   */
  file: string;
  /** The raw object the lines come from (the quarantine's `source`). */
  source: string;
  /** Byte offset of the file's first byte within `source`. */
  baseOffset: number;
}

export interface CleanSqlResult {
  rawRecords: number;
  rowsIn: number;
  quarantined: number;
  gateState: { checked: number; failed: number[] };
}

export interface CleanSqlOptions<T extends Table> {
  table: T;
  inputs: readonly CleanSqlInput[];
  parquetOut: string;
  quarantineOut: string;
  gates?: readonly SqlExpectation<T>[];
}

const count = (value: unknown): number => Number(value ?? 0);

/** Cleans `inputs` into `parquetOut` and `quarantineOut`; see the top of this file. */
export async function cleanWithSql<T extends Table>(
  connection: DuckDBConnection,
  options: CleanSqlOptions<T>,
): Promise<CleanSqlResult> {
  const { table } = options;
  const gates: readonly SqlExpectation<T>[] = options.gates ?? DEFAULT_GATES[table];
  const gateSql = gateChecks(table, gates);
  // Plain identifiers (the appender takes names unquoted); unique, in case of a shared connection.
  const tag = randomBytes(6).toString('hex');
  const t: Tables = {
    files: `pinpipe_files_${tag}`,
    rejects: `pinpipe_rejects_${tag}`,
    sources: `pinpipe_sources_${tag}`,
    lines: `pinpipe_lines_${tag}`,
    fast: `pinpipe_fast_${tag}`,
    slow: `pinpipe_slow_${tag}`,
  };
  const texts = new TextFiles(connection, t, dirname(options.parquetOut));
  try {
    await texts.load(options.inputs);
    // Each distinct line is cleaned once (cleanLine is a function of the line's text): a day
    // drawn with replacement from the source repeats most of its lines.
    const distinct = () =>
      connection.run(
        `CREATE TEMP TABLE ${t.lines} AS SELECT line, count(*) AS n
        FROM (${linesSql(texts.textsSql(), 'file')}) WHERE line <> '' GROUP BY line`,
      );
    await distinct().catch(async () => {
      // read_text refuses an input that is not UTF-8: move such inputs to the JS path, retry.
      await texts.rerouteNonUtf8();
      await distinct();
    });
    const fast = (guard: boolean) =>
      connection.run(
        `CREATE TEMP TABLE ${t.fast} AS ${fastSql(table, `SELECT line, n FROM ${t.lines}`, gates, gateSql, guard)}`,
      );
    // Optimistic: json_transform fails the whole query on a line that is not JSON.
    await fast(false).catch(() => fast(true));
    const slowLines = await connection.runAndReadAll(
      `SELECT count(*) AS n FROM ${t.fast} WHERE status = 'slow'`,
    );
    // Binding the slow path's query alone takes tens of milliseconds: skipped without a line.
    await connection.run(
      count(slowLines.getRowObjectsJson()[0]?.n) > 0
        ? `CREATE TEMP TABLE ${t.slow} AS ${slowSql(table, `SELECT line, n FROM ${t.fast} WHERE status = 'slow'`, gates, gateSql)}`
        : `CREATE TEMP TABLE ${t.slow} (${slowColumnsSql(table, gates.length)})`,
    );
    return await writeOutputs(connection, texts, t, options, gates.length);
  } finally {
    await texts.remove();
    try {
      for (const name of Object.values(t)) await connection.run(`DROP TABLE IF EXISTS ${name}`);
    } catch {
      // Best effort: a connection that failed may refuse this too, and must not hide why.
    }
  }
}

async function writeOutputs<T extends Table>(
  connection: DuckDBConnection,
  texts: TextFiles,
  t: Tables,
  options: CleanSqlOptions<T>,
  gateCount: number,
): Promise<CleanSqlResult> {
  const failed = `[${Array.from({ length: gateCount }, (_, i) => `coalesce(sum(n) FILTER (NOT ${gateColumn(i)}), 0)`).join(', ')}]::BIGINT[]`;
  const counted = await connection.runAndReadAll(
    `SELECT (SELECT coalesce(sum(n), 0) FROM ${t.lines}) AS raw,
      (SELECT coalesce(sum(n), 0) FROM ${t.fast} WHERE status = 'ok') AS fast_ok,
      (SELECT coalesce(sum(n) FILTER (status = 'ok'), 0) FROM ${t.slow}) AS slow_ok,
      (SELECT coalesce(sum(n) FILTER (status = 'bad'), 0) FROM ${t.slow}) AS bad,
      (SELECT coalesce(sum(n) FILTER (reached), 0) FROM ${t.slow}) AS slow_checked,
      ${gateCount === 0 ? '[]' : `(SELECT ${failed} FROM ${t.fast} WHERE status = 'ok')`} AS fast_failed,
      ${gateCount === 0 ? '[]' : `(SELECT ${failed} FROM ${t.slow})`} AS slow_failed,
      (SELECT count(*) FROM ${t.rejects}) AS rejects`,
  );
  const row = counted.getRowObjectsJson()[0] ?? {};
  const numbers = (value: unknown) => (Array.isArray(value) ? value.map(count) : []);
  const [fastFailed, slowFailed] = [numbers(row.fast_failed), numbers(row.slow_failed)];
  const rejects = count(row.rejects);
  const bad = count(row.bad);

  const columns = cleanSchema(options.table).map(
    (column) => `CAST(${id(column.name)} AS ${SQL_TYPE[column.kind]}) AS ${id(column.name)}`,
  );
  const names = CLEAN_COLUMNS[options.table].map((name) => id(name)).join(', ');
  await connection.run(
    `COPY (SELECT ${columns.join(', ')} FROM (
        SELECT ${names} FROM ${t.fast} WHERE status = 'ok'
        UNION ALL SELECT ${names} FROM ${t.slow} WHERE status = 'ok'))
      TO ${str(options.parquetOut)} (FORMAT parquet, COMPRESSION snappy)`,
  );
  if (bad + rejects === 0) await writeFile(options.quarantineOut, '');
  else await connection.run(quarantineCopySql(texts, t, options.quarantineOut));
  const fastOk = count(row.fast_ok);
  return {
    rawRecords: count(row.raw) + rejects,
    rowsIn: fastOk + count(row.slow_ok),
    quarantined: bad + rejects,
    gateState: {
      checked: fastOk + count(row.slow_checked),
      failed: fastFailed.map((n, i) => n + (slowFailed[i] ?? 0)),
    },
  };
}

/**
 * The quarantine lines, in input order: every occurrence of each rejected distinct line, found
 * by reading the text files again (only when something was rejected). A line's offset is its
 * text file's start plus the bytes of the lines before it.
 */
function quarantineCopySql(texts: TextFiles, t: Tables, out: string): string {
  return `COPY (
    WITH marked AS (
      SELECT l.file, l.ord, l.len, b.reason, CASE WHEN b.reason IS NOT NULL THEN l.line END AS line
      FROM (${linesSql(texts.textsSql(), 'file')}) l
      LEFT JOIN (SELECT line, reason FROM ${t.slow} WHERE status = 'bad') b USING (line)
    ), placed AS (
      SELECT file, reason, line, coalesce(sum(len + 1) OVER (PARTITION BY file ORDER BY ord
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
      FROM marked
    ), found AS (
      SELECT m.src, m.start + p.before AS pos, p.reason, p.line AS value
      FROM placed p JOIN ${t.files} m USING (file) WHERE p.reason IS NOT NULL
      UNION ALL SELECT src, "offset", ${str(NOT_UTF8)}, value FROM ${t.rejects}
    )
    SELECT s.source AS source, s.base + f.pos AS "offset", f.reason AS reason, f.value AS value
    FROM found f JOIN ${t.sources} s USING (src)
    ORDER BY f.src, f.pos
  ) TO ${str(out)} (FORMAT json)`;
}

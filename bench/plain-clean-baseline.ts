import path from 'node:path';
import { openDuckDb, type DuckDbS3Options } from '../src/analytics/duckdb-session';
import { quoteString } from '../src/analytics/sql-text';
import {
  NO_DESCRIPTION,
  NO_DESCRIPTION_STORY,
  NO_TAGS,
  NO_TITLE,
  IMAGE_SRC_ERROR,
  SAVE_LOCATION_PREFIX,
  UNTITLED,
  USER_INFO_ERROR,
} from '../src/domain/placeholders';
import { TABLES, type Table } from '../src/domain/tables';

/**
 * The nightly bench's yardstick: the cleaning rules of DESIGN 6 as one plain DuckDB statement per
 * table over local NDJSON files (read_json → rules → DISTINCT → COPY TO Parquet), with none of the
 * pipeline's machinery (no shards, no S3, no quarantine, no gates, no Temporal). It is what the
 * issue measured by hand; the nightly is reported as a fraction of its rows/s.
 */

/** Explicit columns: no schema sampling, and the types the raw schemas promise. */
const RAW_COLUMNS: Record<Table, string> = {
  pin: `{index: 'BIGINT', unique_id: 'VARCHAR', title: 'VARCHAR', description: 'VARCHAR',
    poster_name: 'VARCHAR', follower_count: 'VARCHAR', tag_list: 'VARCHAR',
    is_image_or_video: 'VARCHAR', image_src: 'VARCHAR', downloaded: 'BIGINT',
    save_location: 'VARCHAR', category: 'VARCHAR'}`,
  geo: `{ind: 'BIGINT', timestamp: 'VARCHAR', latitude: 'DOUBLE', longitude: 'DOUBLE', country: 'VARCHAR'}`,
  user: `{ind: 'BIGINT', first_name: 'VARCHAR', last_name: 'VARCHAR', age: 'INTEGER', date_joined: 'VARCHAR'}`,
};

/** null for the empty string and the column's placeholders (DESIGN 6), the value otherwise. */
const nullIf = (column: string, ...placeholders: string[]) =>
  `CASE WHEN ${column} IN (${['', ...placeholders].map(quoteString).join(', ')}) THEN NULL ELSE ${column} END`;

/** `12k` ×1,000, `3M` ×1,000,000, digits as they are; a decimal mantissa rounds. */
const FOLLOWER_COUNT = `CASE
    WHEN follower_count IN ('', ${quoteString(USER_INFO_ERROR)}) THEN NULL
    WHEN follower_count LIKE '%k' THEN CAST(round(CAST(rtrim(follower_count, 'k') AS DECIMAL(18, 6)) * 1000) AS BIGINT)
    WHEN follower_count LIKE '%M' THEN CAST(round(CAST(rtrim(follower_count, 'M') AS DECIMAL(18, 6)) * 1000000) AS BIGINT)
    ELSE CAST(follower_count AS BIGINT) END`;

const SAVE_LOCATION = `CASE
    WHEN save_location = '' THEN NULL
    WHEN starts_with(save_location, ${quoteString(SAVE_LOCATION_PREFIX)})
      THEN NULLIF(substr(save_location, ${SAVE_LOCATION_PREFIX.length + 1}), '')
    ELSE save_location END`;

/** Source datetimes are UTC; the session runs in UTC, so the cast reads them as instants. */
const ts = (column: string) => `CAST(${column} AS TIMESTAMP WITH TIME ZONE)`;

const SELECT: Record<Table, string> = {
  pin: `SELECT DISTINCT "index" AS ind, ${nullIf('unique_id')} AS unique_id,
    ${nullIf('title', NO_TITLE)} AS title,
    ${nullIf('description', NO_DESCRIPTION_STORY, NO_DESCRIPTION, UNTITLED)} AS description,
    ${FOLLOWER_COUNT} AS follower_count, ${nullIf('poster_name', USER_INFO_ERROR)} AS poster_name,
    ${nullIf('tag_list', NO_TAGS)} AS tag_list, ${nullIf('is_image_or_video')} AS is_image_or_video,
    ${nullIf('image_src', IMAGE_SRC_ERROR)} AS image_src, ${SAVE_LOCATION} AS save_location,
    ${nullIf('category')} AS category`,
  geo: `SELECT DISTINCT ind, ${nullIf('country')} AS country,
    [latitude, longitude]::DOUBLE[] AS coordinates, ${ts('"timestamp"')} AS "timestamp"`,
  user: `SELECT DISTINCT ind,
    NULLIF(concat_ws(' ', NULLIF(first_name, ''), NULLIF(last_name, '')), '') AS user_name,
    age, ${ts('date_joined')} AS date_joined`,
};

export function plainCleanSql(table: Table, files: readonly string[], out: string): string {
  const list = `[${files.map(quoteString).join(', ')}]`;
  return (
    `COPY (${SELECT[table]} FROM read_json(${list}, format = 'newline_delimited', ` +
    `columns = ${RAW_COLUMNS[table]})) TO ${quoteString(out)} (FORMAT parquet)`
  );
}

export interface BaselineTable {
  rawRecords: number;
  rowsOut: number;
  seconds: number;
  rowsPerSec: number;
}
export type Baseline = Record<Table, BaselineTable> & {
  seconds: number;
  rowsPerSec: number;
  memoryLimit: string;
};

/**
 * Times each table's statement over files already on local disk (the download is not timed),
 * or, given `s3`, over the same objects read in place from S3 with DuckDB's httpfs (the transfer
 * the nightly cannot avoid is then timed too). DuckDB gets every core and the same 1 GiB the
 * worker is held to; one fresh database per table so no table benefits from another's warm
 * buffers.
 */
export async function runPlainBaseline(
  files: Record<Table, string[]>,
  rawRecords: number,
  scratch: string,
  o: { memoryLimit?: string; s3?: DuckDbS3Options } = {},
): Promise<Baseline> {
  const memoryLimit = o.memoryLimit ?? '1GB';
  const out = {} as Record<Table, BaselineTable>;
  for (const table of TABLES) {
    const db = await openDuckDb({
      memoryLimit,
      tempDirectory: path.join(scratch, 'duckdb.tmp'),
      ...(o.s3 ? { s3: o.s3 } : {}),
    });
    try {
      const sql = plainCleanSql(table, files[table], path.join(scratch, `${table}.parquet`));
      const start = performance.now();
      const reader = await db.connection.runAndReadAll(sql);
      const seconds = (performance.now() - start) / 1000;
      const rowsOut = Number(reader.getRows()[0]?.[0] ?? 0);
      out[table] = { rawRecords, rowsOut, seconds, rowsPerSec: rawRecords / seconds };
    } finally {
      db.close();
    }
  }
  const seconds = TABLES.reduce((s, t) => s + out[t].seconds, 0);
  return { ...out, seconds, rowsPerSec: (rawRecords * TABLES.length) / seconds, memoryLimit };
}

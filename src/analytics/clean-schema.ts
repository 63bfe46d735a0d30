/**
 * The physical schema of the clean zone's Parquet files (DESIGN 6), one entry per clean column in
 * CLEAN_COLUMNS order. The writer builds its staging table from it and the analytics views cast
 * to it, so the two can never disagree about a column's type.
 */

import { CLEAN_COLUMNS, type CleanRecordMap } from '../domain/cleaning';
import type { Table } from '../domain/tables';
import { quoteIdentifier } from './sql-text';

/**
 * How a clean JS value maps to DuckDB/Parquet:
 * - `bigint`: JS integer → BIGINT (INT64; `ind` and `follower_count` are 64-bit, as Spark infers long);
 * - `integer`: JS integer → INTEGER (INT32, `age`);
 * - `varchar`: string → VARCHAR (UTF-8 BYTE_ARRAY);
 * - `coordinates`: `[lat, lon]` → DOUBLE[] (a Parquet LIST of two doubles);
 * - `timestamptz`: `YYYY-MM-DDTHH:MM:SSZ` → TIMESTAMP WITH TIME ZONE (Parquet INT64 timestamp,
 *   isAdjustedToUTC = true, microseconds), so Athena/Spark/Trino read an instant, not a wall time.
 */
export type ColumnKind = 'bigint' | 'integer' | 'varchar' | 'coordinates' | 'timestamptz';

export interface CleanColumn<T extends Table = Table> {
  name: keyof CleanRecordMap[T] & string;
  kind: ColumnKind;
}

/** DuckDB SQL type per kind; also the type name `DESCRIBE` reports for the Parquet column. */
export const SQL_TYPE: Readonly<Record<ColumnKind, string>> = {
  bigint: 'BIGINT',
  integer: 'INTEGER',
  varchar: 'VARCHAR',
  coordinates: 'DOUBLE[]',
  timestamptz: 'TIMESTAMP WITH TIME ZONE',
};

const KINDS: { [T in Table]: { [C in (typeof CLEAN_COLUMNS)[T][number]]: ColumnKind } } = {
  pin: {
    ind: 'bigint',
    unique_id: 'varchar',
    title: 'varchar',
    description: 'varchar',
    follower_count: 'bigint',
    poster_name: 'varchar',
    tag_list: 'varchar',
    is_image_or_video: 'varchar',
    image_src: 'varchar',
    save_location: 'varchar',
    category: 'varchar',
  },
  geo: { ind: 'bigint', country: 'varchar', coordinates: 'coordinates', timestamp: 'timestamptz' },
  user: { ind: 'bigint', user_name: 'varchar', age: 'integer', date_joined: 'timestamptz' },
};

/** The clean columns of `table` with their kinds, in the documented column order. */
export function cleanSchema<T extends Table>(table: T): readonly CleanColumn<T>[] {
  // Driven by CLEAN_COLUMNS (not by KINDS' key order) so the order has one source of truth.
  const kinds = KINDS[table] as Record<string, ColumnKind>;
  return CLEAN_COLUMNS[table].map((name) => ({
    name: name as CleanColumn<T>['name'],
    kind: kinds[name] as ColumnKind,
  }));
}

/** `"ind" BIGINT, "unique_id" VARCHAR, ...`: a column list for CREATE TABLE. */
export function columnDefinitionsSql(table: Table): string {
  return cleanSchema(table)
    .map((column) => `${quoteIdentifier(column.name)} ${SQL_TYPE[column.kind]}`)
    .join(', ');
}

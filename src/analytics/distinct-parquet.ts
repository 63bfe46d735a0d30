import type { DuckDBConnection } from '@duckdb/node-api';
import type { Table } from '../domain/tables';
import { columnDefinitionsSql } from './clean-schema';
import { parquetListSql, parquetPathSql } from './sql-text';

/**
 * The distinct rows of a table's Parquet `parts` (exact duplicate rows dropped) written to one
 * Parquet file, `out`; no parts write an empty file with the table's clean columns. Ordered, so
 * that a rerun over the same inputs writes the same file. Returns the rows written.
 */
export async function writeDistinctParquet(
  connection: DuckDBConnection,
  table: Table,
  parts: readonly string[],
  out: string,
): Promise<number> {
  let source = 'no_rows';
  if (parts.length > 0) source = `read_parquet(${parquetListSql(parts)})`;
  else await connection.run(`CREATE TABLE no_rows (${columnDefinitionsSql(table)})`);
  const copied = await connection.runAndReadAll(
    `COPY (SELECT DISTINCT * FROM ${source} ORDER BY ALL) TO ${parquetPathSql(out)} (FORMAT parquet)`,
  );
  return Number(copied.getRows()[0]?.[0] ?? 0);
}

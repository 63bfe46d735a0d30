import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openDuckDb } from '../../src/analytics/duckdb-session';
import { parquetPathSql, quoteIdentifier } from '../../src/analytics/sql-text';
import type { MemoryObjectStore } from './memory-object-store';

/**
 * One column of a Parquet object held by the in-memory store, in order, read by an in-process
 * DuckDB from a local copy in `dir` (removed after).
 */
export async function parquetColumn(
  store: MemoryObjectStore,
  bucket: string,
  key: string,
  column: string,
  dir: string,
): Promise<unknown[]> {
  const object = store.object(bucket, key);
  if (!object) throw new Error(`s3://${bucket}/${key} is not in the store`);
  const file = path.join(dir, `${randomUUID()}.parquet`);
  await writeFile(file, object.body);
  const db = await openDuckDb();
  try {
    const c = quoteIdentifier(column);
    const reader = await db.connection.runAndReadAll(
      `SELECT ${c} FROM read_parquet(${parquetPathSql(file)}) ORDER BY ${c}`,
    );
    return reader.getRows().map((r) => r[0]);
  } finally {
    db.close();
    await rm(file, { force: true });
  }
}

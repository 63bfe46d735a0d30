/**
 * SQL text helpers. The analytics build view definitions (which cannot take bound parameters)
 * around file paths, so quoting has to be done by hand, and done in one place.
 */

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * A local Parquet path as a SQL string literal. DuckDB's read_parquet expands `*`, `?`, `[...]`
 * and `{...}` as globs, which would silently read other files than the exact list a nightly run
 * committed to, so such paths are refused instead.
 */
export function parquetPathSql(path: string): string {
  if (path === '') throw new Error('empty Parquet path');
  if (/[*?[\]{}]/.test(path)) {
    throw new Error(
      `Parquet path ${JSON.stringify(path)} contains glob characters (* ? [ ] { }); ` +
        'the analytics read an exact list of files, so rename or stage the file first',
    );
  }
  return quoteString(path);
}

/** `['a.parquet', 'b.parquet']`: a DuckDB list literal of Parquet paths. */
export function parquetListSql(paths: readonly string[]): string {
  return `[${paths.map(parquetPathSql).join(', ')}]`;
}

/**
 * One embedded DuckDB database plus one connection, configured the same way for the writer and
 * the analytics: UTC session time zone, no extension downloads, an explicit memory ceiling.
 */

import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckDbOptions {
  /** Database file; `:memory:` (the default) keeps everything in DuckDB's buffer manager. */
  path?: string;
  /**
   * DuckDB's memory ceiling (e.g. `512MB`). Beyond it DuckDB spills to `tempDirectory` instead of
   * growing the worker's RSS; the nightly bench must stay under 1 GiB at 1M events.
   */
  memoryLimit?: string;
  /** Where DuckDB spills; DuckDB's default (`<database>.tmp` or `.tmp`) when unset. */
  tempDirectory?: string;
  /** Worker threads; DuckDB's default (one per core) when unset. */
  threads?: number;
}

export interface DuckDbSession {
  connection: DuckDBConnection;
  /** Disconnects and closes the database; safe to call twice. */
  close(): void;
}

export const DEFAULT_MEMORY_LIMIT = '512MB';

export async function openDuckDb(options: DuckDbOptions = {}): Promise<DuckDbSession> {
  const config: Record<string, string> = {
    // Everything is local Parquet and the parquet/icu extensions are built in: never reach for the
    // network to install one (the workers may run offline, and a download would be a surprise).
    autoinstall_known_extensions: 'false',
    memory_limit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
  };
  if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory;
  if (options.threads !== undefined) config.threads = String(options.threads);

  const instance = await DuckDBInstance.create(options.path ?? ':memory:', config);
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
    // DuckDB defaults to the host's time zone (ICU). Clean timestamps are UTC instants and the
    // analytics take the UTC year of them, so pin the session to UTC whatever the host says.
    await connection.run(`SET TimeZone = 'UTC'`);
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  let open = true;
  return {
    connection,
    close() {
      if (!open) return;
      open = false;
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * One embedded DuckDB database plus one connection, configured the same way for the writer and
 * the analytics: UTC session time zone, no extension downloads, an explicit memory ceiling, and
 * (for the analytics) optional S3 access through the httpfs extension.
 */

import { DuckDBInstance, version as duckDbVersion, type DuckDBConnection } from '@duckdb/node-api';
import { quoteString } from './sql-text';

/** Reading `s3://bucket/key` URLs in place, with the pipeline's own S3 endpoint and credentials. */
export interface DuckDbS3Options {
  /**
   * The httpfs extension file (`httpfs.duckdb_extension`, built for this exact DuckDB version;
   * `scripts/stack.sh` caches one). Unset: `LOAD httpfs` from DuckDB's own extension directory,
   * which works where someone ran `INSTALL httpfs` (DuckDB never downloads it by itself here).
   */
  httpfsExtension?: string;
  region: string;
  /** An S3-compatible endpoint URL (`http://127.0.0.1:7070`); unset means AWS S3 itself. */
  endpoint?: string;
  /** Unset: the AWS default credential chain (needs DuckDB's `aws` extension to be installed). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

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
  /** Load httpfs and register an S3 secret, so `read_parquet('s3://...')` works. */
  s3?: DuckDbS3Options;
  /**
   * false: do not keep remote files' bytes in DuckDB's buffer pool after a query (for files read
   * once, such as the nightly's raw objects). DuckDB's default (true) when unset.
   */
  cacheRemoteFiles?: boolean;
}

export interface DuckDbSession {
  connection: DuckDBConnection;
  /** Disconnects and closes the database; safe to call twice. */
  close(): void;
}

export const DEFAULT_MEMORY_LIMIT = '512MB';

export async function openDuckDb(options: DuckDbOptions = {}): Promise<DuckDbSession> {
  const instance = await createInstance(options);
  let session: DuckDbSession;
  try {
    session = await connect(instance);
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  return {
    connection: session.connection,
    close() {
      session.close();
      instance.closeSync();
    },
  };
}

/**
 * One database for many short sessions (the nightly's shards): opening a database with S3 access
 * costs ~65 ms of CPU (loading httpfs, the secret), a connection to an open one almost nothing.
 * The database is created on the first `session()` (again after a failed creation); its memory
 * ceiling and threads are shared by the sessions open at once.
 */
export interface SharedDuckDb {
  session(): Promise<DuckDbSession>;
  close(): void;
}

export function sharedDuckDb(options: DuckDbOptions): SharedDuckDb {
  let instance: Promise<DuckDBInstance> | undefined;
  return {
    async session() {
      instance ??= createInstance(options).catch((error: unknown) => {
        instance = undefined;
        throw error;
      });
      return connect(await instance);
    },
    close() {
      const open = instance;
      instance = undefined;
      void open?.then((i) => i.closeSync()).catch(() => undefined);
    },
  };
}

async function createInstance(options: DuckDbOptions): Promise<DuckDBInstance> {
  const config: Record<string, string> = {
    // Everything is local Parquet and the parquet/icu extensions are built in: never reach for the
    // network to install one (the workers may run offline, and a download would be a surprise).
    autoinstall_known_extensions: 'false',
    memory_limit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
  };
  if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory;
  if (options.threads !== undefined) config.threads = String(options.threads);
  if (options.cacheRemoteFiles === false) config.enable_external_file_cache = 'false';

  const instance = await DuckDBInstance.create(options.path ?? ':memory:', config);
  if (options.s3 === undefined) return instance;
  try {
    // Extensions and secrets belong to the database: once, for every session.
    const connection = await instance.connect();
    try {
      await enableS3(connection, options.s3);
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  return instance;
}

async function connect(instance: DuckDBInstance): Promise<DuckDbSession> {
  const connection = await instance.connect();
  try {
    // DuckDB defaults to the host's time zone (ICU). Clean timestamps are UTC instants and the
    // analytics take the UTC year of them, so pin the session to UTC whatever the host says.
    await connection.run(`SET TimeZone = 'UTC'`);
  } catch (error) {
    connection.closeSync();
    throw error;
  }
  let open = true;
  return {
    connection,
    close() {
      if (!open) return;
      open = false;
      connection.closeSync();
    },
  };
}

/**
 * S3 access could not be set up (extension, endpoint, credentials): a configuration problem that
 * no retry fixes, so callers can fail for good with this message.
 */
export class DuckDbSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DuckDbSetupError';
  }
}

/**
 * The SECRET clause for the endpoint: DuckDB wants `host:port` without a scheme, takes TLS from
 * USE_SSL, and needs path-style URLs for S3-compatible servers (no wildcard DNS for buckets).
 */
function s3EndpointSecretSql(endpoint: string | undefined): string[] {
  if (endpoint === undefined) return [];
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new DuckDbSetupError(
      `S3 endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. http://127.0.0.1:7070)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DuckDbSetupError(`S3 endpoint ${endpoint}: expected http:// or https://`);
  }
  // DuckDB appends /<bucket>/<key> to host:port and has no notion of a base path.
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw new DuckDbSetupError(
      `S3 endpoint ${endpoint}: DuckDB's httpfs can only address an endpoint at the root of a host ` +
        '(scheme://host:port), without a path, query or user info',
    );
  }
  return [
    `ENDPOINT ${quoteString(url.host)}`,
    `URL_STYLE 'path'`,
    `USE_SSL ${url.protocol === 'https:' ? 'true' : 'false'}`,
  ];
}

async function enableS3(connection: DuckDBConnection, s3: DuckDbS3Options): Promise<void> {
  const load =
    s3.httpfsExtension === undefined ? 'LOAD httpfs' : `LOAD ${quoteString(s3.httpfsExtension)}`;
  try {
    await connection.run(load);
  } catch (error) {
    const from =
      s3.httpfsExtension === undefined
        ? "from DuckDB's extension directory (set PINPIPE_DUCKDB_HTTPFS to an httpfs.duckdb_extension file, or run INSTALL httpfs where DuckDB can download extensions)"
        : `from ${s3.httpfsExtension} (the file must be httpfs built for DuckDB ${duckDbVersion()}; bash scripts/stack.sh bin duckdb-httpfs fetches it)`;
    throw new DuckDbSetupError(
      `could not load DuckDB's httpfs extension ${from}: ${message(error)}`,
      {
        cause: error,
      },
    );
  }
  const clauses = [
    'TYPE s3',
    ...(s3.credentials
      ? [
          `KEY_ID ${quoteString(s3.credentials.accessKeyId)}`,
          `SECRET ${quoteString(s3.credentials.secretAccessKey)}`,
        ]
      : ['PROVIDER credential_chain']),
    `REGION ${quoteString(s3.region)}`,
    ...s3EndpointSecretSql(s3.endpoint),
  ];
  try {
    // A temporary secret: it lives in this in-memory database only, never in ~/.duckdb.
    await connection.run(`CREATE OR REPLACE TEMPORARY SECRET pinpipe_s3 (${clauses.join(', ')})`);
  } catch (error) {
    if (s3.credentials) {
      // DuckDB may echo the statement (LINE 1: ...), which holds the secret key: redacted here,
      // and the original error is not attached as the cause for the same reason.
      const said = message(error).replaceAll(s3.credentials.secretAccessKey, '***');
      throw new DuckDbSetupError(`could not register the S3 secret: ${said}`);
    }
    throw new DuckDbSetupError(
      "S3 access without a key pair uses DuckDB's credential_chain provider, which needs DuckDB's " +
        'aws extension, and it could not be loaded. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ' +
        `or run INSTALL aws where DuckDB can download extensions. DuckDB said: ${message(error)}`,
      { cause: error },
    );
  }
  // The httplib client read a 54 MB object with half the CPU of the default (curl) one (DuckDB
  // 1.5.5, measured on the local stack); the nightly reads whole raw objects this way.
  await connection.run(`SET GLOBAL httpfs_client_implementation = 'httplib'`);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

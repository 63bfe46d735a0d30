/** The SQL cleaner's inputs (see clean-sql.ts): the text files DuckDB reads, local or in place in S3. */

import type { CleanSqlInput } from './clean-sql';
import { isUtf8 } from 'node:buffer';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { quoteString as str } from './sql-text';

// ---------------------------------------------------------------------------------------------
// Inputs: the text files DuckDB reads, each an input or a piece JS cut from one.

/** Files up to this size DuckDB reads whole; a 64 MiB text ran out of a 256 MB memory_limit. */
const DIRECT_BYTES = 16 << 20;
/** Bytes per piece JS cuts a larger file into (a longer line is a piece of its own). */
const PIECE_BYTES = 4 << 20;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
/** read_text expands globs and a leading `~`: such a path is read by JS instead. */
const EXPANDED = /[*?[\]{}]|^~/;
export const isRemote = (file: string) => file.startsWith('s3://');

/**
 * Whether `cleanWithSql` can read the S3 object at `url` in place (DuckDB's httpfs, on a
 * connection opened with S3 access): a URL without glob characters, which read_text would expand.
 */
export function readableInPlace(url: string): boolean {
  return isRemote(url) && !EXPANDED.test(url);
}

interface Range {
  start: number;
  end: number;
}

/** `[start, end)` cut into ranges of about PIECE_BYTES that end just after a newline. */
function pieceRanges(buffer: Uint8Array, start: number, end: number): Range[] {
  const ranges: Range[] = [];
  while (start < end) {
    let stop = Math.min(end, start + PIECE_BYTES);
    if (stop < end) {
      const before = buffer.lastIndexOf(NEWLINE, stop - 1);
      const after = buffer.indexOf(NEWLINE, stop);
      stop = before >= start ? before + 1 : after < 0 || after >= end ? end : after + 1;
    }
    ranges.push({ start, end: stop });
    start = stop;
  }
  return ranges;
}

interface Split {
  pieces: Range[];
  /** Lines that are not UTF-8: their offset, and their bytes without the line ending. */
  rejects: { offset: number; bytes: Uint8Array }[];
}

/**
 * The pieces of a file JS read. A UTF-8 file (checked natively, whole) is cut without looking
 * at its lines. Any other file takes the slow path, line by line in JS: runs of UTF-8 lines
 * become pieces, and each line that is not UTF-8 is set aside for the quarantine.
 */
function splitInput(buffer: Buffer): Split {
  if (isUtf8(buffer)) return { pieces: pieceRanges(buffer, 0, buffer.length), rejects: [] };
  const split: Split = { pieces: [], rejects: [] };
  let run = 0;
  for (let start = 0; start < buffer.length;) {
    const newline = buffer.indexOf(NEWLINE, start);
    const end = newline < 0 ? buffer.length : newline;
    if (!isUtf8(buffer.subarray(start, end))) {
      split.pieces.push(...pieceRanges(buffer, run, start));
      const stop = buffer[end - 1] === RETURN ? end - 1 : end;
      split.rejects.push({ offset: start, bytes: buffer.subarray(start, stop) });
      run = end + 1;
    }
    start = end + 1;
  }
  split.pieces.push(...pieceRanges(buffer, run, buffer.length));
  return split;
}

export interface Tables {
  /** The text files: (file, src, piece, start); `start` is the file's offset in its input. */
  files: string;
  /** Lines that are not UTF-8: (src, offset, value). */
  rejects: string;
  /** (src, source, base). */
  sources: string;
  /** The distinct non-empty lines: (line, n). */
  lines: string;
  /** Fast path results; see fastSql. */
  fast: string;
  /** Slow path results; see slowSql. */
  slow: string;
}

interface TextFile {
  file: string;
  src: number;
  piece: number;
  start: number;
  /** Whether the file is an input itself (not a piece JS wrote). */
  direct: boolean;
}

/** The text files of one call, and the tables that describe them. */
export class TextFiles {
  private files: TextFile[] = [];
  /** The inputs DuckDB reads as they are. */
  private readonly read = new Set<string>();
  private dir: string | undefined;
  private piece = 0;

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly tables: Tables,
    /** A local directory for the pieces of remote inputs. */
    private readonly scratch: string,
  ) {}

  /** An S3 object's bytes, through DuckDB's own S3 access (only on the rare non-UTF-8 path). */
  private async fetch(url: string): Promise<Buffer> {
    const reader = await this.connection.runAndReadAll(
      `SELECT content FROM read_blob(${str(url)})`,
    );
    const value = reader.getRows()[0]?.[0];
    if (!(value instanceof DuckDBBlobValue)) throw new Error(`could not read ${url}`);
    return Buffer.from(value.bytes);
  }

  private appender(table: string) {
    return this.connection.createAppender(table, 'main', 'temp');
  }

  async load(inputs: readonly CleanSqlInput[]): Promise<void> {
    const t = this.tables;
    await this.connection.run(
      `CREATE TEMP TABLE ${t.files} (file VARCHAR, src INTEGER, piece INTEGER, start BIGINT);
       CREATE TEMP TABLE ${t.rejects} (src INTEGER, "offset" BIGINT, value VARCHAR);
       CREATE TEMP TABLE ${t.sources} (src INTEGER, source VARCHAR, base BIGINT);`,
    );
    const sources = await this.appender(t.sources);
    try {
      for (const [src, input] of inputs.entries()) {
        sources.appendInteger(src);
        sources.appendVarchar(input.source);
        sources.appendBigInt(BigInt(input.baseOffset));
        sources.endRow();
        // An S3 object is read in place (httpfs); its caller chose it for its size.
        const remote = isRemote(input.file);
        if (remote && !readableInPlace(input.file)) {
          throw new Error(`${input.file} cannot be read in place (glob characters): download it`);
        }
        const size = remote ? 0 : (await stat(input.file)).size;
        // A path given twice is cut the second time: each text file must be read once.
        const direct = (remote || size <= DIRECT_BYTES) && !EXPANDED.test(input.file);
        if (direct && !this.read.has(input.file)) {
          this.read.add(input.file);
          this.files.push({ file: input.file, src, piece: this.piece++, start: 0, direct: true });
        } else {
          await this.cut(src, input.file);
        }
      }
    } finally {
      sources.closeSync();
    }
    await this.sync();
  }

  /** Reads a file in JS and writes its pieces (and set-aside lines) for DuckDB. */
  private async cut(src: number, file: string): Promise<void> {
    const buffer = isRemote(file) ? await this.fetch(file) : await readFile(file);
    const split = splitInput(buffer);
    // Beside the (first) local input, whose file system had room for it; else beside the outputs.
    this.dir ??= await mkdtemp(
      join(isRemote(file) ? this.scratch : dirname(file), '.pinpipe-pieces-'),
    );
    for (const range of split.pieces) {
      const piece = join(this.dir, `${this.piece}.ndjson`);
      await writeFile(piece, buffer.subarray(range.start, range.end));
      this.files.push({ file: piece, src, piece: this.piece++, start: range.start, direct: false });
    }
    const rejects = await this.appender(this.tables.rejects);
    try {
      for (const reject of split.rejects) {
        rejects.appendInteger(src);
        rejects.appendBigInt(BigInt(reject.offset));
        rejects.appendVarchar(`base64:${Buffer.from(reject.bytes).toString('base64')}`);
        rejects.endRow();
      }
    } finally {
      rejects.closeSync();
    }
  }

  private async sync(): Promise<void> {
    await this.connection.run(`DELETE FROM ${this.tables.files}`);
    const files = await this.appender(this.tables.files);
    try {
      for (const f of this.files) {
        files.appendVarchar(f.file);
        files.appendInteger(f.src);
        files.appendInteger(f.piece);
        files.appendBigInt(BigInt(f.start));
        files.endRow();
      }
    } finally {
      files.closeSync();
    }
  }

  /**
   * Moves the inputs DuckDB read that are not UTF-8 to the JS path (read_text fails the whole
   * query on one). Asked only after a failure, so the normal path pays nothing for it.
   */
  async rerouteNonUtf8(): Promise<void> {
    const direct = this.files.filter((f) => f.direct);
    if (direct.length === 0) return;
    const reader = await this.connection.runAndReadAll(
      `SELECT filename FROM read_blob([${direct.map((f) => str(f.file)).join(', ')}])
       WHERE TRY(decode(content)) IS NULL`,
    );
    const bad = new Set(reader.getRowObjectsJson().map((row) => `${row.filename as string}`));
    if (bad.size === 0) return;
    const moved = direct.filter((f) => bad.has(f.file));
    this.files = this.files.filter((f) => !bad.has(f.file));
    for (const f of moved) await this.cut(f.src, f.file);
    await this.sync();
  }

  /** (file, text) of every text file, or only of `pieces`. */
  textsSql(pieces?: ReadonlySet<number>): string {
    const files = this.files.filter((f) => !pieces || pieces.has(f.piece));
    if (files.length === 0)
      return 'SELECT NULL::VARCHAR AS file, NULL::VARCHAR AS text WHERE false';
    return `SELECT filename AS file, content AS text FROM read_text([${files.map((f) => str(f.file)).join(', ')}])`;
  }

  async remove(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

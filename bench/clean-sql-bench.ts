import '../src/quiet-warnings';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { cleanWithSql, type CleanSqlInput } from '../src/analytics/clean-sql';
import { openDuckDb } from '../src/analytics/duckdb-session';
import { drawEvents } from '../src/domain/generator';
import { TABLES, type Table } from '../src/domain/tables';
import { plainCleanSql } from './plain-clean-baseline';

/**
 * cleanWithSql against the plain DuckDB cleaning (plain-clean-baseline.ts: read_json → DESIGN 6
 * rules → DISTINCT → Parquet, no validation, no quarantine, no gates), on the same generated
 * objects on local disk:
 *
 *   npx tsx bench/clean-sql-bench.ts [--rows 1000000] [--per-object 10000] [--unique] [--runs 3]
 *
 * Objects hold --per-object lines (the sink's default flush) and are packed into shards of up to
 * 128 MiB, as the nightly plans them. cleanWithSql runs as the cleaning activity runs it: a fresh
 * DuckDB per shard, one thread, 256 MB. Two layouts are timed against the plain query with the
 * same cores: shards one after another (1 thread) against plain with 1 thread, and one shard per
 * core at once against plain with every core. Best of --runs. --unique makes every line distinct
 * (the generator draws with replacement from 11,153 source rows, so most lines repeat; cleanWithSql
 * cleans each distinct line once): the worst case for cleanWithSql.
 */

const SHARD_BYTES = 128 * 1024 * 1024;

interface Options {
  rows: number;
  perObject: number;
  unique: boolean;
  runs: number;
}

function parseArgs(argv: readonly string[]): Options {
  const value = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    const n = at < 0 ? fallback : Number(argv[at + 1]);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  return {
    rows: value('--rows', 1_000_000),
    perObject: value('--per-object', 10_000),
    unique: argv.includes('--unique'),
    runs: value('--runs', 3),
  };
}

/** Writes the generated objects of every table; returns their files per table. */
async function writeObjects(dir: string, o: Options): Promise<Record<Table, string[]>> {
  const files: Record<Table, string[]> = { pin: [], geo: [], user: [] };
  let streams: Record<Table, ReturnType<typeof createWriteStream>> | undefined;
  let position = 0;
  const close = async () => {
    if (!streams) return;
    for (const s of Object.values(streams)) {
      s.end();
      await once(s, 'close');
    }
    streams = undefined;
  };
  for (const event of drawEvents({ seed: 'clean-sql-bench', count: o.rows })) {
    if (position % o.perObject === 0) {
      await close();
      const open = (table: Table) => {
        const file = path.join(dir, table, `${String(position).padStart(10, '0')}.json`);
        files[table].push(file);
        return createWriteStream(file);
      };
      streams = { pin: open('pin'), geo: open('geo'), user: open('user') };
    }
    for (const table of TABLES) {
      const record: Record<string, unknown> = { ...event[table] };
      // A distinct index per line makes every line (and clean row) distinct.
      if (o.unique) record[table === 'pin' ? 'index' : 'ind'] = position;
      if (!streams![table].write(`${JSON.stringify(record)}\n`))
        await once(streams![table], 'drain');
    }
    position++;
  }
  await close();
  return files;
}

async function shardsOf(files: readonly string[]): Promise<string[][]> {
  const shards: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const file of files) {
    const { size } = await stat(file);
    if (current.length > 0 && bytes + size > SHARD_BYTES) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += size;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

async function best(runs: number, once: () => Promise<number>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) fastest = Math.min(fastest, await once());
  return fastest;
}

async function timePlain(table: Table, files: string[], dir: string, threads: number) {
  const db = await openDuckDb({
    threads,
    memoryLimit: '1GB',
    tempDirectory: path.join(dir, 'duckdb.tmp'),
  });
  try {
    const start = performance.now();
    await db.connection.run(plainCleanSql(table, files, path.join(dir, `plain-${table}.parquet`)));
    return (performance.now() - start) / 1000;
  } finally {
    db.close();
  }
}

async function cleanShard(table: Table, shard: string[], dir: string, n: number) {
  const db = await openDuckDb({
    threads: 1,
    memoryLimit: '256MB',
    tempDirectory: path.join(dir, `duckdb-${n}.tmp`),
  });
  try {
    const inputs: CleanSqlInput[] = shard.map((file) => ({ file, source: file, baseOffset: 0 }));
    return await cleanWithSql(db.connection, {
      table,
      inputs,
      parquetOut: path.join(dir, `part-${n}.parquet`),
      quarantineOut: path.join(dir, `quarantine-${n}.ndjson`),
    });
  } finally {
    db.close();
  }
}

/** Seconds to clean every shard, `concurrency` shards at a time. */
async function timeClean(table: Table, shards: string[][], dir: string, concurrency: number) {
  const start = performance.now();
  let next = 0;
  let rows = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < shards.length) {
        const n = next++;
        const result = await cleanShard(table, shards[n]!, dir, n);
        rows += result.rawRecords;
      }
    }),
  );
  return { seconds: (performance.now() - start) / 1000, rows };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cores = cpus().length;
  const dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-clean-sql-bench-'));
  try {
    for (const table of TABLES) await mkdir(path.join(dir, table));
    const t0 = performance.now();
    const files = await writeObjects(dir, o);
    console.log(
      `${o.rows} rows per table${o.unique ? ', every line distinct' : ''}, objects of ${o.perObject} lines, ` +
        `written in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${cores} cores, best of ${o.runs}`,
    );
    const rate = (seconds: number) => Math.round(o.rows / seconds).toLocaleString('en-US');
    for (const table of TABLES) {
      const shards = await shardsOf(files[table]);
      const work = path.join(dir, `${table}-out`);
      await mkdir(work, { recursive: true });
      let checked = 0;
      const clean = (concurrency: number) =>
        best(o.runs, async () => {
          const { seconds, rows } = await timeClean(table, shards, work, concurrency);
          checked = rows;
          return seconds;
        });
      const plain1 = await best(o.runs, () => timePlain(table, files[table], work, 1));
      const clean1 = await clean(1);
      const plainAll = await best(o.runs, () => timePlain(table, files[table], work, cores));
      const cleanAll = await clean(cores);
      if (checked !== o.rows) throw new Error(`${table}: cleaned ${checked} of ${o.rows} lines`);
      for (const [label, plain, cleaned] of [
        ['1 thread', plain1, clean1],
        [`${cores} cores`, plainAll, cleanAll],
      ] as const) {
        console.log(
          `${table.padEnd(4)} ${label.padEnd(8)} plain ${rate(plain).padStart(10)} rows/s  ` +
            `cleanWithSql ${rate(cleaned).padStart(10)} rows/s (${shards.length} shards)  ` +
            `ratio ${(plain / cleaned).toFixed(2)}`,
        );
      }
    }
    console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

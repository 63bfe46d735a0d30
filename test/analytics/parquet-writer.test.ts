import assert from 'node:assert/strict';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb } from '../../src/analytics/duckdb-session';
import {
  describeParquet,
  readCleanParquet,
  readParquetRows,
  writeCleanParquet,
  type CleanRow,
} from '../../src/analytics/parquet-writer';
import { parseAndClean, type CleanGeo, type CleanPin } from '../../src/domain/cleaning';
import seed from '../../src/domain/seed-rows.json';
import { TABLES, type Table } from '../../src/domain/tables';
import { geo, pin, user } from './hand-built-data';

/** DESIGN 6's clean schema as DuckDB describes the Parquet columns. */
const CLEAN_SCHEMA_TYPES: Record<Table, [string, string][]> = {
  pin: [
    ['ind', 'BIGINT'],
    ['unique_id', 'VARCHAR'],
    ['title', 'VARCHAR'],
    ['description', 'VARCHAR'],
    ['follower_count', 'BIGINT'],
    ['poster_name', 'VARCHAR'],
    ['tag_list', 'VARCHAR'],
    ['is_image_or_video', 'VARCHAR'],
    ['image_src', 'VARCHAR'],
    ['save_location', 'VARCHAR'],
    ['category', 'VARCHAR'],
  ],
  geo: [
    ['ind', 'BIGINT'],
    ['country', 'VARCHAR'],
    ['coordinates', 'DOUBLE[]'],
    ['timestamp', 'TIMESTAMP WITH TIME ZONE'],
  ],
  user: [
    ['ind', 'BIGINT'],
    ['user_name', 'VARCHAR'],
    ['age', 'INTEGER'],
    ['date_joined', 'TIMESTAMP WITH TIME ZONE'],
  ],
};

describe('analytics/parquet-writer', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-parquet-test-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('round trip of the seed fixture rows', () => {
    for (const table of TABLES) {
      it(`${table}: raw → cleaning → Parquet → rows equal the fixtures' clean form`, async () => {
        const cleaned = seed.rows.map((row) => {
          const result = parseAndClean(table, row.raw[table]);
          assert.ok(result.ok, result.ok ? '' : result.reason);
          return result.row;
        });
        const file = join(dir, `seed-${table}.parquet`);
        const written = await writeCleanParquet(table, cleaned as CleanRow<typeof table>[], file);
        assert.equal(written.rows, seed.rows.length);
        assert.ok(written.bytes > 0);

        const back = await readParquetRows(file);
        assert.deepStrictEqual(
          back,
          seed.rows.map((row) => row.clean[table]),
        );
        back.forEach((row, i) =>
          assert.deepEqual(Object.keys(row), Object.keys(seed.rows[i]!.clean[table])),
        );
        // readCleanParquet checks the schema first and gives the same rows
        assert.deepStrictEqual(await readCleanParquet(table, file), back);
      });

      it(`${table}: the Parquet schema is DESIGN 6's, column for column`, async () => {
        const file = join(dir, `schema-${table}.parquet`);
        await writeCleanParquet(table, [], file);
        assert.deepEqual(
          (await describeParquet(file)).map((column) => [column.name, column.type]),
          CLEAN_SCHEMA_TYPES[table],
        );
        // the same, through a raw DESCRIBE as any DuckDB user would run it
        const session = await openDuckDb();
        try {
          const reader = await session.connection.runAndReadAll(
            `DESCRIBE SELECT * FROM read_parquet('${file}')`,
          );
          assert.deepEqual(
            reader.getRowObjectsJson().map((row) => [row.column_name, row.column_type]),
            CLEAN_SCHEMA_TYPES[table],
          );
        } finally {
          session.close();
        }
      });
    }

    it('stores timestamps as UTC-adjusted Parquet timestamps and coordinates as a list of doubles', async () => {
      const session = await openDuckDb();
      try {
        const reader = await session.connection.runAndReadAll(
          `SELECT name, type, converted_type, logical_type::VARCHAR AS logical
           FROM parquet_schema('${join(dir, 'seed-geo.parquet')}')`,
        );
        const byName = new Map(
          reader.getRowObjectsJson().map((row) => [row.name as string, row] as const),
        );
        const timestamp = byName.get('timestamp');
        assert.equal(timestamp?.type, 'INT64');
        const logical = timestamp?.logical as string;
        assert.match(logical, /TimestampType\(isAdjustedToUTC=1/);
        assert.match(logical, /MICROS=MicroSeconds\(\)/);
        assert.equal(byName.get('coordinates')?.converted_type, 'LIST');
        assert.equal(byName.get('element')?.type, 'DOUBLE');
        assert.equal(byName.get('ind')?.type, 'INT64');
      } finally {
        session.close();
      }
    });
  });

  describe('values', () => {
    it('keeps nulls in every nullable column and milliseconds when there are some', async () => {
      const allNull: CleanPin = {
        ind: 1,
        unique_id: null,
        title: null,
        description: null,
        follower_count: null,
        poster_name: null,
        tag_list: null,
        is_image_or_video: null,
        image_src: null,
        save_location: null,
        category: null,
      };
      const pinFile = join(dir, 'nulls-pin.parquet');
      await writeCleanParquet(
        'pin',
        [allNull, pin(2, 'art', 'Ünïcødé 名前 👩‍🎨', 9_007_199)],
        pinFile,
      );
      assert.deepStrictEqual(await readParquetRows(pinFile), [
        allNull,
        pin(2, 'art', 'Ünïcødé 名前 👩‍🎨', 9_007_199),
      ]);

      const geoFile = join(dir, 'millis-geo.parquet');
      const rows: CleanGeo[] = [
        {
          ind: 1,
          country: null,
          coordinates: [-89.9787, -173.293],
          timestamp: '1969-12-31T23:59:59.999Z',
        },
        geo(2, 'Chad', '2020-02-29T12:34:56.789Z'),
      ];
      await writeCleanParquet('geo', rows, geoFile);
      assert.deepStrictEqual(await readParquetRows(geoFile), rows);
    });

    it('writes the clean form of a non-canonical but valid timestamp', async () => {
      const file = join(dir, 'offset-user.parquet');
      await writeCleanParquet('user', [user(1, 'A B', 30, '2016-01-01 01:30:00+02:00')], file);
      assert.deepStrictEqual(await readParquetRows(file), [
        user(1, 'A B', 30, '2015-12-31T23:30:00Z'),
      ]);
    });
  });

  describe('streaming', () => {
    it('accepts an async iterable and keeps row order across many appender flushes', async () => {
      const count = 5_000;
      async function* rows(): AsyncGenerator<CleanRow<'user'>> {
        for (let ind = 0; ind < count; ind += 1) {
          if (ind % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
          yield user(ind, `user ${ind}`, 18 + (ind % 60), '2016-06-01T00:00:00Z');
        }
      }
      const file = join(dir, 'stream-user.parquet');
      const written = await writeCleanParquet('user', rows(), file, { flushEvery: 700 });
      assert.equal(written.rows, count);
      const back = await readParquetRows(file);
      assert.equal(back.length, count);
      assert.deepEqual(
        back.map((row) => row.ind),
        Array.from({ length: count }, (_, ind) => ind),
      );
      assert.deepStrictEqual(
        back[4321],
        user(4321, 'user 4321', 18 + (4321 % 60), '2016-06-01T00:00:00Z'),
      );
    });
  });

  describe('bad rows fail with a message a person can act on, leaving no file', () => {
    const cases: [string, Table, unknown, RegExp][] = [
      [
        'a fractional ind',
        'pin',
        { ...pin(1, 'art', 'A', 1), ind: 1.5 },
        /pin row 2, column ind \(BIGINT\): expected an integer, got 1\.5/,
      ],
      [
        'a text follower_count',
        'pin',
        { ...pin(1, 'art', 'A', 1), follower_count: '12k' },
        /column follower_count .*got "12k"/,
      ],
      [
        'an unparseable timestamp',
        'geo',
        geo(1, 'Chad', 'yesterday'),
        /column timestamp .*expected a UTC timestamp/,
      ],
      [
        'one coordinate',
        'geo',
        { ...geo(1, 'Chad', '2020-01-01T00:00:00Z'), coordinates: [1] },
        /column coordinates .*expected \[latitude, longitude\]/,
      ],
      [
        'a missing column',
        'user',
        { ind: 1, user_name: 'A', age: 3 },
        /column date_joined .*missing/,
      ],
      [
        'an age beyond INTEGER',
        'user',
        user(1, 'A', 2 ** 31, '2020-01-01T00:00:00Z'),
        /outside the 32-bit integer range/,
      ],
    ];
    for (const [what, table, row, message] of cases) {
      it(what, async () => {
        const file = join(dir, `bad-${table}-${what.replaceAll(' ', '-')}.parquet`);
        const good = {
          pin: pin(9, 'art', 'B', 2),
          geo: geo(9, 'Chad', '2020-01-01T00:00:00Z'),
          user: user(9, 'B', 30, '2020-01-01T00:00:00Z'),
        }[table];
        await assert.rejects(
          writeCleanParquet(table, [good, row] as CleanRow[], file, { scratchDir: dir }),
          (error: Error) => {
            assert.match(error.message, message);
            return true;
          },
        );
        await assert.rejects(access(file), /ENOENT/);
      });
    }

    it('leaves no partial or scratch files behind', async () => {
      const entries = await readdir(dir);
      assert.deepEqual(
        entries.filter((name) => name.includes('.partial') || name.startsWith('pinpipe-parquet-')),
        [],
      );
    });
  });

  it('readCleanParquet refuses a file whose schema is not the clean one', async () => {
    const file = join(dir, 'a-geo-file.parquet');
    await writeCleanParquet('geo', [geo(1, 'Chad', '2020-01-01T00:00:00Z')], file);
    await assert.rejects(readCleanParquet('user', file), /is not a clean user file/);
    assert.equal((await readCleanParquet('geo', file)).length, 1);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCleanParquet } from '../../src/analytics/parquet-writer';
import { ANALYTICS_QUERIES } from '../../src/analytics/queries';
import {
  runAnalytics,
  toQueryJson,
  type AnalyticsInputs,
  type AnalyticsResult,
} from '../../src/analytics/run-analytics';
import { TABLES, type Table } from '../../src/domain/tables';
import { PART_1, PART_2 } from './hand-built-data';

/** DESIGN 6's outputs, in order: name and exact columns. */
const CONTRACT: [string, string[]][] = [
  ['most_popular_category_by_country', ['country', 'category', 'category_count']],
  ['most_popular_category_by_year', ['post_year', 'category', 'category_count']],
  ['most_followed_user_by_country', ['country', 'poster_name', 'follower_count']],
  ['country_with_most_followed_user', ['country', 'follower_count']],
  ['most_popular_category_by_age_group', ['age_group', 'category', 'category_count']],
  ['median_follower_count_by_age_group', ['age_group', 'median_follower_count']],
  ['users_joined_by_year', ['post_year', 'number_users_joined']],
  ['median_follower_count_by_join_year', ['post_year', 'median_follower_count']],
  [
    'median_follower_count_by_age_group_and_join_year',
    ['age_group', 'post_year', 'median_follower_count'],
  ],
];

/**
 * The hand-worked answers for hand-built-data.ts. Distinct rows first (ind 1 is in both parts but
 * counts once), inner joins on ind (pin 11 has no geo/user, user 14 has no pin).
 */
const EXPECTED: Record<string, Record<string, string | number | null>[]> = {
  // pin ⋈ geo. Albania: travel {1,2} = 2, art {3,4} = 2 (3 has a null follower_count but still
  // counts), quotes {5} = 1 → the tie keeps both; counting the re-posted 1 twice would make
  // travel win alone. Brazil: education {6,7,13} = 3, beauty {8} = 1. Chad: vehicles {9,12,15}
  // = 3, tattoos {10} = 1. Denmark: finance {16} = 1. Pin 11 (no geo) is nowhere.
  most_popular_category_by_country: [
    { country: 'Albania', category: 'art', category_count: 2 },
    { country: 'Albania', category: 'travel', category_count: 2 },
    { country: 'Brazil', category: 'education', category_count: 3 },
    { country: 'Chad', category: 'vehicles', category_count: 3 },
    { country: 'Denmark', category: 'finance', category_count: 1 },
  ],
  // pin ⋈ geo, UTC year of geo.timestamp in 2018..2022. Out: 5 and 15 (2017, incl. 23:59:59 on
  // Dec 31), 8 (2023-01-01T00:00:00Z). 2018: travel {1,2} = 2, education {13} = 1. 2019: art
  // {3,4} = 2, finance {16} = 1. 2020: education {6,7}. 2021: tattoos {10} = vehicles {12} = 1
  // (tie). 2022: vehicles {9} (2022-12-31T23:59:59Z, the last second inside).
  most_popular_category_by_year: [
    { post_year: 2018, category: 'travel', category_count: 2 },
    { post_year: 2019, category: 'art', category_count: 2 },
    { post_year: 2020, category: 'education', category_count: 2 },
    { post_year: 2021, category: 'tattoos', category_count: 1 },
    { post_year: 2021, category: 'vehicles', category_count: 1 },
    { post_year: 2022, category: 'vehicles', category_count: 1 },
  ],
  // pin ⋈ geo, null follower counts out. Albania: Dan 500000 (> Bob 2000, Ann 1000, Eve 300;
  // Cat null). Brazil: Fay 500000 (Gus 40, Hal 20, Zed null). Chad: Ivy 7000 = Jon 7000 (tie
  // kept), Bob 3000, Max 900. Denmark: only Nia, whose count is null → no row. Kim's 9000000
  // has no country.
  most_followed_user_by_country: [
    { country: 'Albania', poster_name: 'Dan', follower_count: 500000 },
    { country: 'Brazil', poster_name: 'Fay', follower_count: 500000 },
    { country: 'Chad', poster_name: 'Ivy', follower_count: 7000 },
    { country: 'Chad', poster_name: 'Jon', follower_count: 7000 },
  ],
  // Albania and Brazil tie at 500000; the country name breaks the tie.
  country_with_most_followed_user: [{ country: 'Albania', follower_count: 500000 }],
  // pin ⋈ user. 18-24: 1 (18), 2 (24), 12 (24) → travel 2, vehicles 1. 25-35: 3 (25), 4 (35)
  // → art 2. 36-50: 5 (36) quotes, 6 (50) education, 13 (40) education → education 2. +50: 7
  // (51) education, 9 (60) vehicles, 10 (51) tattoos, 15 (51) vehicles → vehicles 2. 8 (17) is in
  // no group. Misplacing 50 would tie 36-50 (quotes 1, education 1) and +50.
  most_popular_category_by_age_group: [
    { age_group: '18-24', category: 'travel', category_count: 2 },
    { age_group: '25-35', category: 'art', category_count: 2 },
    { age_group: '36-50', category: 'education', category_count: 2 },
    { age_group: '+50', category: 'vehicles', category_count: 2 },
  ],
  // pin ⋈ user, follower_count not null, lower median. 18-24: [1000, 2000, 3000] → 2000 (the
  // re-post counted twice, or age 17 (fc 20) let in, would give 1000). 25-35: [500000] (3 is
  // null). 36-50: [300, 500000] → 300 (even count: the lower one; 13 is null). +50: [40, 900,
  // 7000, 7000] → 900 (even count).
  median_follower_count_by_age_group: [
    { age_group: '18-24', median_follower_count: 2000 },
    { age_group: '25-35', median_follower_count: 500000 },
    { age_group: '36-50', median_follower_count: 300 },
    { age_group: '+50', median_follower_count: 900 },
  ],
  // user alone, distinct (user_name, date_joined), join year 2015..2020. 2015: Ann A
  // (2015-01-01T00:00:00Z, first second inside), Bob B (inds 2 and 12: one user) → 2. 2016: Cat,
  // Dan, Lee (no pin, still a user) → 3. 2017: Eve, Fay → 2. 2018: Gus → 1. 2019: Hal (17: ages
  // do not matter here), Ann A (2019: another user) → 2. 2020: Jon (2020-12-31T23:59:59Z) → 1.
  // Out: Max (2014-12-31T23:59:59Z), Ivy (2021-01-01T00:00:00Z).
  users_joined_by_year: [
    { post_year: 2015, number_users_joined: 2 },
    { post_year: 2016, number_users_joined: 3 },
    { post_year: 2017, number_users_joined: 2 },
    { post_year: 2018, number_users_joined: 1 },
    { post_year: 2019, number_users_joined: 2 },
    { post_year: 2020, number_users_joined: 1 },
  ],
  // pin ⋈ user, follower_count not null, join year 2015..2020, one value per joined pin row.
  // 2015: [1000, 2000, 3000] → 2000. 2016: [500000] (3 null). 2017: [300, 500000] → 300 (even).
  // 2018: [40]. 2019: [20] (Hal, 17, counts here; 13 is null). 2020: [7000]. Out: 9 (2021, 7000)
  // and 15 (2014, 900).
  median_follower_count_by_join_year: [
    { post_year: 2015, median_follower_count: 2000 },
    { post_year: 2016, median_follower_count: 500000 },
    { post_year: 2017, median_follower_count: 300 },
    { post_year: 2018, median_follower_count: 40 },
    { post_year: 2019, median_follower_count: 20 },
    { post_year: 2020, median_follower_count: 7000 },
  ],
  // As 7, by age group too, under-18s out: (18-24, 2015) [1000, 2000, 3000] → 2000; (25-35,
  // 2016) [500000]; (36-50, 2017) [300, 500000] → 300; (+50, 2018) [40]; (+50, 2020) [7000].
  // Hal (17, 2019) is in no group; 9 (2021) and 15 (2014) are out of the years.
  median_follower_count_by_age_group_and_join_year: [
    { age_group: '18-24', post_year: 2015, median_follower_count: 2000 },
    { age_group: '25-35', post_year: 2016, median_follower_count: 500000 },
    { age_group: '36-50', post_year: 2017, median_follower_count: 300 },
    { age_group: '+50', post_year: 2018, median_follower_count: 40 },
    { age_group: '+50', post_year: 2020, median_follower_count: 7000 },
  ],
};

const NO_FILES: AnalyticsInputs = { pin: [], geo: [], user: [] };

function byName(results: AnalyticsResult[]): Map<string, AnalyticsResult> {
  return new Map(results.map((result) => [result.query, result]));
}

describe('analytics/run-analytics', () => {
  let dir: string;
  let inputs: AnalyticsInputs;
  let results: AnalyticsResult[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-analytics-test-'));
    const files: Record<Table, string[]> = { pin: [], geo: [], user: [] };
    for (const [n, part] of [PART_1, PART_2].entries()) {
      for (const table of TABLES) {
        const file = join(dir, `${table}`, `dt=2024-01-0${n + 1}`, 'run-0.parquet');
        await writeCleanParquet(table, part[table] as never, file);
        files[table].push(file);
      }
    }
    inputs = files;
    results = await runAnalytics(inputs);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the nine outputs of DESIGN 6 in order, with their exact column names', () => {
    assert.deepEqual(
      results.map((result) => [result.query, result.columns]),
      CONTRACT,
    );
    assert.deepEqual(
      results.map((result) => result.title.split('.')[0]),
      ['1', '2', '3a', '3b', '4', '5', '6', '7', '8'],
    );
    for (const result of results) {
      assert.ok(result.title.length > 5, `${result.query} has a human title`);
      for (const row of result.rows) assert.deepEqual(Object.keys(row), result.columns);
    }
  });

  for (const [name] of CONTRACT) {
    it(`computes ${name} as worked out by hand`, () => {
      const result = byName(results).get(name);
      assert.ok(result, `missing ${name}`);
      assert.deepStrictEqual(result.rows, EXPECTED[name]);
    });
  }

  it('returns BIGINT counts, medians and years as JS integers', () => {
    for (const result of results) {
      for (const row of result.rows) {
        for (const column of result.columns) {
          const value = row[column];
          if (column.endsWith('_count') || column === 'post_year' || column.startsWith('number_')) {
            assert.equal(typeof value, 'number', `${result.query}.${column}`);
            assert.ok(Number.isInteger(value), `${result.query}.${column} = ${String(value)}`);
          }
        }
      }
    }
  });

  it('gives the same answers whichever order the partitions are listed in, run after run', async () => {
    const reversed: AnalyticsInputs = {
      pin: [...inputs.pin].reverse(),
      geo: [...inputs.geo].reverse(),
      user: [...inputs.user].reverse(),
    };
    assert.deepStrictEqual(await runAnalytics(reversed), results);
  });

  it('toQueryJson is the DESIGN 4 object {query, columns, rows} and survives JSON', () => {
    const json = toQueryJson(results[0]!);
    assert.deepEqual(Object.keys(json), ['query', 'columns', 'rows']);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(json)), {
      query: 'most_popular_category_by_country',
      columns: ['country', 'category', 'category_count'],
      rows: EXPECTED.most_popular_category_by_country,
    });
  });

  it('every query definition declares the columns its SQL returns', () => {
    assert.deepEqual(
      ANALYTICS_QUERIES.map((query) => [query.name, [...query.columns]]),
      CONTRACT,
    );
  });

  describe('empty inputs', () => {
    it('no committed partition in any table: nine empty results, not a crash', async () => {
      const empty = await runAnalytics(NO_FILES);
      assert.deepEqual(
        empty.map((result) => [result.query, result.columns, result.rows]),
        CONTRACT.map(([name, columns]) => [name, columns, []]),
      );
    });

    it('no geo partition: the pin ⋈ geo outputs are empty, the others unchanged', async () => {
      const noGeo = byName(await runAnalytics({ ...inputs, geo: [] }));
      const pinGeo = new Set([
        'most_popular_category_by_country',
        'most_popular_category_by_year',
        'most_followed_user_by_country',
        'country_with_most_followed_user',
      ]);
      for (const [name] of CONTRACT) {
        const usesGeo = pinGeo.has(name);
        assert.deepStrictEqual(
          noGeo.get(name)?.rows,
          usesGeo ? [] : EXPECTED[name],
          `${name} without geo`,
        );
      }
    });

    it('a committed partition with zero rows reads as no rows', async () => {
      const files = {} as Record<Table, string[]>;
      for (const table of TABLES) {
        const file = join(dir, 'empty', `${table}.parquet`);
        const written = await writeCleanParquet(table, [], file);
        assert.equal(written.rows, 0);
        assert.ok(written.bytes > 0, 'an empty partition is still a valid, typed Parquet file');
        files[table] = [file];
      }
      const empty = await runAnalytics(files);
      assert.deepEqual(
        empty.map((result) => result.rows),
        CONTRACT.map(() => []),
      );
    });
  });

  describe('bad inputs fail loudly', () => {
    it('refuses glob characters in a path (the input list must be exact)', async () => {
      await assert.rejects(
        runAnalytics({ ...NO_FILES, pin: [join(dir, 'pin', '*', 'run-0.parquet')] }),
        /glob characters/,
      );
    });

    it('rejects a missing file instead of reading less', async () => {
      await assert.rejects(
        runAnalytics({ ...inputs, user: [...inputs.user, join(dir, 'missing.parquet')] }),
        /missing\.parquet/,
      );
    });

    it('rejects a missing table list', async () => {
      await assert.rejects(
        runAnalytics({ pin: [], geo: [] } as unknown as AnalyticsInputs),
        /inputs\.user must be an array/,
      );
    });
  });
});

import assert from 'node:assert/strict';
import { cleanRecord } from '../../src/domain/cleaning';
import {
  drawEvents,
  drawIndex,
  generateSourceTables,
  SOURCE_ROW_COUNT,
  sourceRow,
  type SourceEvent,
} from '../../src/domain/generator';
import {
  IMAGE_SRC_ERROR,
  NO_DESCRIPTION_STORY,
  STORY_FORMAT,
  USER_INFO_ERROR,
} from '../../src/domain/placeholders';
import { parseRaw } from '../../src/domain/raw-schemas';
import seed from '../../src/domain/seed-rows.json';
import { CATEGORIES, TABLES } from '../../src/domain/tables';

const SEED = 20240601;
const tables = generateSourceTables(SEED);

function share(predicate: (i: number) => boolean): number {
  let hits = 0;
  for (let i = 0; i < SOURCE_ROW_COUNT; i += 1) if (predicate(i)) hits += 1;
  return hits / SOURCE_ROW_COUNT;
}

function followerForm(value: unknown): string {
  if (value === USER_INFO_ERROR) return 'userInfoError';
  const text = String(value);
  if (/^\d+k$/.test(text)) return 'k';
  if (/^\d+M$/.test(text)) return 'M';
  if (/^\d+$/.test(text)) return 'digits';
  return `other:${text}`;
}

const pins = tables.pin;
const geos = tables.geo;
const users = tables.user;

describe('domain/generator', () => {
  it('has SOURCE_ROW_COUNT rows with indexes 0..11152 joined across tables', () => {
    assert.equal(SOURCE_ROW_COUNT, 11153);
    for (const table of TABLES) assert.equal(tables[table].length, SOURCE_ROW_COUNT);
    for (let i = 0; i < SOURCE_ROW_COUNT; i += 1) {
      assert.equal(pins[i]!.index, i);
      assert.equal(geos[i]!.ind, i);
      assert.equal(users[i]!.ind, i);
    }
  });

  describe('determinism', () => {
    it('gives the same rows for the same seed', () => {
      for (const index of [0, 1, 2, 500, 7527, 7529, 11152]) {
        assert.deepStrictEqual(sourceRow(index, SEED), sourceRow(index, SEED));
        assert.deepStrictEqual(sourceRow(index, SEED), {
          pin: pins[index],
          geo: geos[index],
          user: users[index],
        });
      }
      assert.deepStrictEqual(sourceRow(3, 'demo'), sourceRow(3, 'demo'));
    });

    it('gives different rows for a different seed', () => {
      let differing = 0;
      for (let index = 0; index < 50; index += 1) {
        const a = sourceRow(index, SEED);
        const b = sourceRow(index, SEED + 1);
        if (a.pin.unique_id !== b.pin.unique_id && a.geo.timestamp !== b.geo.timestamp)
          differing += 1;
      }
      assert.equal(differing, 50);
    });

    it('gives unique uuid v4 ids', () => {
      const ids = new Set(pins.map((p) => p.unique_id));
      assert.equal(ids.size, SOURCE_ROW_COUNT);
      const generated = pins.filter((p) => !seed.rows.some((r) => r.ind === p.index));
      for (const p of generated) {
        assert.match(
          p.unique_id,
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
      }
    });
  });

  describe('fixture rows sit verbatim at their indexes', () => {
    for (const row of seed.rows) {
      it(`row ${row.ind}`, () => {
        for (const s of [SEED, 0, 1, 'demo']) {
          const generated = sourceRow(row.ind, s);
          assert.deepStrictEqual(generated, row.raw);
          for (const table of TABLES) {
            assert.deepStrictEqual(Object.keys(generated[table]), Object.keys(row.raw[table]));
          }
        }
        assert.deepStrictEqual(
          { pin: pins[row.ind], geo: geos[row.ind], user: users[row.ind] },
          row.raw,
        );
      });
    }

    it('hands out copies, so a caller cannot corrupt the fixture', () => {
      const ind = seed.rows[0]!.ind;
      const first = sourceRow(ind, SEED);
      first.pin.title = 'changed';
      first.geo.latitude = 0;
      assert.deepStrictEqual(sourceRow(ind, SEED), seed.rows[0]!.raw);
    });
  });

  describe('follows the source profile over all rows', () => {
    const forms = pins.map((p) => followerForm(p.follower_count));
    const proportions: [string, (i: number) => boolean, number, number][] = [
      ['follower_count <n>k', (i) => forms[i] === 'k', 0.7, 0.78],
      ['follower_count plain digits', (i) => forms[i] === 'digits', 0.14, 0.2],
      ['follower_count <n>M', (i) => forms[i] === 'M', 0.055, 0.085],
      ['follower_count User Info Error', (i) => forms[i] === 'userInfoError', 0.01, 0.02],
      ['story-format posts', (i) => pins[i]!.is_image_or_video === STORY_FORMAT, 0.06, 0.08],
      ['video posts', (i) => pins[i]!.is_image_or_video === 'video', 0.02, 0.06],
      // any character outside Latin-1 and general punctuation: CJK, Cyrillic, Arabic, Hangul, …
      [
        'multilingual titles',
        (i) => /[\u0400-\u1fff\u3000-\uffff]/u.test(pins[i]!.title ?? ''),
        0.02,
        0.1,
      ],
    ];
    for (const [name, predicate, min, max] of proportions) {
      it(`${name} between ${min} and ${max}`, () => {
        const observed = share(predicate);
        assert.ok(observed >= min && observed <= max, `${name}: ${observed}`);
      });
    }

    it('produces only the four follower_count forms', () => {
      assert.deepEqual([...new Set(forms)].sort(), ['M', 'digits', 'k', 'userInfoError']);
    });

    it('gives story posts the story placeholders', () => {
      const stories = pins.filter((p) => p.is_image_or_video === STORY_FORMAT);
      assert.ok(stories.length > 0);
      for (const p of stories) {
        assert.equal(p.description, NO_DESCRIPTION_STORY);
        assert.equal(p.image_src, IMAGE_SRC_ERROR);
        assert.equal(p.downloaded, 0);
      }
    });

    it('pairs a User Info Error follower_count with a User Info Error poster_name', () => {
      for (const p of pins) {
        if (p.follower_count === USER_INFO_ERROR) assert.equal(p.poster_name, USER_INFO_ERROR);
      }
    });

    it('spreads posts over 2017–2022 and joins over 2015–2017', () => {
      const postYears = new Set(geos.map((g) => Number(g.timestamp.slice(0, 4))));
      assert.deepEqual([...postYears].sort(), [2017, 2018, 2019, 2020, 2021, 2022]);
      const joinYears = new Set(users.map((u) => Number(u.date_joined.slice(0, 4))));
      assert.deepEqual([...joinYears].sort(), [2015, 2016, 2017]);
      for (const g of geos) assert.match(g.timestamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    });

    it('has ages 18–80, all of them', () => {
      const ages = users.map((u) => u.age);
      assert.equal(Math.min(...ages), 18);
      assert.equal(Math.max(...ages), 80);
      assert.equal(new Set(ages).size, 63);
    });

    it('uses all 13 categories, each roughly evenly, with a matching save_location', () => {
      const counts = new Map<string, number>();
      for (const p of pins) {
        counts.set(p.category, (counts.get(p.category) ?? 0) + 1);
        assert.equal(p.save_location, `Local save in /data/${p.category}`);
      }
      assert.deepEqual([...counts.keys()].sort(), [...CATEGORIES].sort());
      for (const [category, count] of counts) {
        assert.ok(count > SOURCE_ROW_COUNT / 13 / 2, `${category}: ${count}`);
      }
    });

    it('uses many Faker-style countries and valid coordinates', () => {
      const countries = new Set(geos.map((g) => g.country));
      assert.ok(countries.size > 200, String(countries.size));
      assert.ok(countries.has('Cocos (Keeling) Islands'));
      for (const g of geos) {
        assert.ok(Math.abs(g.latitude) <= 90 && Math.abs(g.longitude) <= 180);
        assert.ok(!Object.is(g.latitude, -0) && !Object.is(g.longitude, -0));
      }
    });

    it('gives two-word user names and comma-separated tag lists', () => {
      for (const u of users) assert.match(`${u.first_name} ${u.last_name}`, /^\S+ \S+$/);
      const tagged = pins.filter((p) => p.tag_list !== null && p.tag_list.includes(','));
      assert.ok(tagged.length / SOURCE_ROW_COUNT > 0.8);
    });
  });

  it('every generated row passes parseRaw and cleans without throwing', () => {
    let cleaned = 0;
    for (let i = 0; i < SOURCE_ROW_COUNT; i += 1) {
      for (const table of TABLES) {
        const parsed = parseRaw(table, tables[table][i]);
        assert.ok(parsed.ok, parsed.ok ? '' : `row ${i} ${table}: ${parsed.reason}`);
        const clean = cleanRecord(table, parsed.record);
        assert.equal(clean.ind, i);
        cleaned += 1;
      }
    }
    assert.equal(cleaned, 3 * SOURCE_ROW_COUNT);
  });

  it('refuses indexes outside the source', () => {
    for (const index of [-1, SOURCE_ROW_COUNT, 1.5, Number.NaN]) {
      assert.throws(() => sourceRow(index, SEED), RangeError);
    }
  });

  describe('drawEvents', () => {
    const take = (s: number | string, count: number, start?: number): SourceEvent[] => [
      ...drawEvents(start === undefined ? { seed: s, count } : { seed: s, count, start }),
    ];

    it('emits count events of joined pin, geo and user records', () => {
      const events = take(SEED, 200);
      assert.equal(events.length, 200);
      for (const event of events) {
        assert.deepEqual(Object.keys(event), ['ind', 'pin', 'geo', 'user']);
        assert.ok(event.ind >= 0 && event.ind < SOURCE_ROW_COUNT);
        assert.equal(event.pin.index, event.ind);
        assert.equal(event.geo.ind, event.ind);
        assert.equal(event.user.ind, event.ind);
        assert.deepStrictEqual(
          { pin: event.pin, geo: event.geo, user: event.user },
          sourceRow(event.ind, SEED),
        );
      }
    });

    it('gives the same sequence for the same seed and another for another seed', () => {
      const a = take(SEED, 100).map((e) => e.ind);
      assert.deepEqual(
        take(SEED, 100).map((e) => e.ind),
        a,
      );
      const b = take(SEED + 1, 100).map((e) => e.ind);
      assert.notDeepEqual(b, a);
      assert.ok(a.filter((ind, i) => ind === b[i]).length < 5);
    });

    it('resumes at a position without replaying', () => {
      const whole = take('demo', 20);
      assert.deepStrictEqual(take('demo', 12, 8), whole.slice(8));
      assert.deepEqual(
        whole.map((e) => e.ind),
        Array.from({ length: 20 }, (_, position) => drawIndex('demo', position)),
      );
    });

    it('draws with replacement, roughly uniformly over the source', () => {
      const draws = 2000;
      const indexes = Array.from({ length: draws }, (_, p) => drawIndex(SEED, p));
      const distinct = new Set(indexes).size;
      // birthday problem: about draws²/(2N) ≈ 179 repeats are expected
      assert.ok(distinct < draws && distinct > draws - 300, String(distinct));
      const halves = [0, 0];
      for (let p = 0; p < 100_000; p += 1) {
        const half = drawIndex(SEED, p) < SOURCE_ROW_COUNT / 2 ? 0 : 1;
        halves[half] = (halves[half] ?? 0) + 1;
      }
      assert.ok(Math.abs((halves[0] ?? 0) - 50_000) < 1000, String(halves));
    });

    it('emits nothing for count 0 and refuses bad counts', () => {
      assert.deepEqual(take(SEED, 0), []);
      assert.throws(() => take(SEED, -1), /count -1: expected an integer >= 0/);
      assert.throws(() => take(SEED, 1.5), RangeError);
      assert.throws(() => take(SEED, 1, -2), /start -2/);
    });

    it('includes a fixture row verbatim whenever its index is drawn', () => {
      const fixture = seed.rows[0]!;
      let position = 0;
      while (drawIndex(SEED, position) !== fixture.ind && position < 1_000_000) position += 1;
      assert.equal(drawIndex(SEED, position), fixture.ind, 'the fixture index is drawn eventually');
      const [event] = take(SEED, 1, position);
      assert.ok(event);
      assert.deepStrictEqual({ pin: event.pin, geo: event.geo, user: event.user }, fixture.raw);
    });
  });
});

import assert from 'node:assert/strict';
import {
  CLEAN_COLUMNS,
  cleanGeo,
  cleanPin,
  cleanRecord,
  cleanUser,
  parseAndClean,
  type CleanPin,
} from '../../src/domain/cleaning';
import { parseRaw, type RawPin } from '../../src/domain/raw-schemas';
import seed from '../../src/domain/seed-rows.json';
import { TABLES } from '../../src/domain/tables';

const base = seed.rows[1]!.raw; // row 2863

function parsedPin(patch: Partial<Record<keyof RawPin, unknown>>): RawPin {
  const result = parseRaw('pin', { ...base.pin, ...patch });
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.record;
}

describe('domain/cleaning', () => {
  describe('reproduces every clean row of seed-rows.json', () => {
    for (const row of seed.rows) {
      for (const table of TABLES) {
        it(`row ${row.ind} ${table}`, () => {
          const parsed = parseRaw(table, row.raw[table]);
          assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
          const clean = cleanRecord(table, parsed.record);
          assert.deepStrictEqual(clean, row.clean[table]);
          assert.deepStrictEqual(Object.keys(clean), Object.keys(row.clean[table]));
          assert.deepStrictEqual(Object.keys(clean), [...CLEAN_COLUMNS[table]]);
          // the clean row survives a JSON round trip unchanged (it is what activities pass on)
          assert.deepStrictEqual(JSON.parse(JSON.stringify(clean)), row.clean[table]);
        });
      }
    }
  });

  it('has the documented column order', () => {
    assert.deepEqual(
      [...CLEAN_COLUMNS.pin],
      'ind unique_id title description follower_count poster_name tag_list is_image_or_video image_src save_location category'.split(
        ' ',
      ),
    );
    assert.deepEqual([...CLEAN_COLUMNS.geo], ['ind', 'country', 'coordinates', 'timestamp']);
    assert.deepEqual([...CLEAN_COLUMNS.user], ['ind', 'user_name', 'age', 'date_joined']);
  });

  describe('pin: placeholders become null in their own column only', () => {
    const cases: [keyof RawPin, string, keyof CleanPin, string | null][] = [
      ['description', 'No description available Story format', 'description', null],
      ['description', 'No description available', 'description', null],
      ['description', 'Untitled', 'description', null],
      ['title', 'No Title Data Available', 'title', null],
      ['title', 'Untitled', 'title', 'Untitled'], // only a description placeholder
      ['poster_name', 'User Info Error', 'poster_name', null],
      ['image_src', 'Image src error.', 'image_src', null],
      ['tag_list', 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e', 'tag_list', null],
      ['tag_list', 'No Tags Available', 'tag_list', 'No Tags Available'],
      ['description', 'No description available.', 'description', 'No description available.'],
      ['title', 'no title data available', 'title', 'no title data available'], // exact match only
      ['title', '', 'title', null],
      ['description', '', 'description', null],
      ['poster_name', '', 'poster_name', null],
      ['tag_list', '', 'tag_list', null],
      ['image_src', '', 'image_src', null],
      ['unique_id', '', 'unique_id', null],
      ['is_image_or_video', '', 'is_image_or_video', null],
      ['category', '', 'category', null],
      ['save_location', '', 'save_location', null],
      ['title', ' ', 'title', ' '], // whitespace is a value, not the empty string
      ['title', '簡単かわいいネイルデザイン', 'title', '簡単かわいいネイルデザイン'],
    ];
    for (const [rawColumn, value, cleanColumn, expected] of cases) {
      it(`${rawColumn} ${JSON.stringify(value)} → ${JSON.stringify(expected)}`, () => {
        const clean = cleanPin(parsedPin({ [rawColumn]: value }));
        assert.equal(clean[cleanColumn], expected);
      });
    }
  });

  describe('pin: follower_count', () => {
    const cases: [string | number, number | null][] = [
      ['124k', 124_000],
      ['2M', 2_000_000],
      ['5000', 5000],
      ['437', 437],
      ['1.5k', 1500],
      ['User Info Error', null],
      ['', null],
      [5000, 5000],
    ];
    for (const [raw, expected] of cases) {
      it(`${JSON.stringify(raw)} → ${String(expected)}`, () => {
        const clean = cleanPin(parsedPin({ follower_count: raw }));
        assert.equal(clean.follower_count, expected);
        if (expected !== null) assert.ok(Number.isInteger(clean.follower_count));
      });
    }
  });

  describe('pin: save_location drops the prefix', () => {
    const cases: [string, string | null][] = [
      ['Local save in /data/mens-fashion', '/data/mens-fashion'],
      ['Local save in /data/diy-and-crafts', '/data/diy-and-crafts'],
      ['/data/travel', '/data/travel'],
      ['Local save in ', null],
    ];
    for (const [raw, expected] of cases) {
      it(`${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => {
        assert.equal(cleanPin(parsedPin({ save_location: raw })).save_location, expected);
      });
    }
  });

  it('pin: renames index to ind and drops downloaded and extra keys', () => {
    const clean = cleanPin(parsedPin({ index: 42, downloaded: 0, extra: 'x' }));
    assert.equal(clean.ind, 42);
    assert.equal('index' in clean, false);
    assert.equal('downloaded' in clean, false);
    assert.equal('extra' in clean, false);
  });

  it('geo: coordinates are [latitude, longitude]; the timestamp is UTC ISO', () => {
    const raw = parseRaw('geo', {
      ...base.geo,
      latitude: 12.5,
      longitude: -45.25,
      timestamp: '2019-06-01T10:00:00+02:00',
      country: '',
    });
    assert.ok(raw.ok);
    assert.deepStrictEqual(cleanGeo(raw.record), {
      ind: 2863,
      country: null,
      coordinates: [12.5, -45.25],
      timestamp: '2019-06-01T08:00:00Z',
    });
  });

  describe('user: user_name', () => {
    const cases: [string | null, string | null, string | null][] = [
      ['Dylan', 'Holmes', 'Dylan Holmes'],
      ['José', 'Ñúñez', 'José Ñúñez'],
      ['Dylan', '', 'Dylan'],
      ['', 'Holmes', 'Holmes'],
      [null, 'Holmes', 'Holmes'],
      ['', '', null],
    ];
    for (const [first, last, expected] of cases) {
      it(`${JSON.stringify(first)} + ${JSON.stringify(last)} → ${JSON.stringify(expected)}`, () => {
        const raw = parseRaw('user', { ...base.user, first_name: first, last_name: last });
        assert.ok(raw.ok);
        const clean = cleanUser(raw.record);
        assert.equal(clean.user_name, expected);
        assert.equal(clean.date_joined, '2016-10-23T14:06:51Z');
        assert.equal(clean.age, 32);
      });
    }
  });

  describe('parseAndClean', () => {
    it('cleans a valid record', () => {
      const result = parseAndClean('user', seed.rows[2]!.raw.user);
      assert.ok(result.ok);
      assert.deepStrictEqual(result.row, seed.rows[2]!.clean.user);
    });

    it('passes on the field-level reason of a rejected record', () => {
      const result = parseAndClean('geo', { ...base.geo, latitude: 'north' });
      assert.ok(!result.ok);
      assert.equal(result.reason, 'latitude: expected number, received string "north"');
    });
  });
});

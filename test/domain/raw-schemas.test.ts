import assert from 'node:assert/strict';
import { describeValue, parseRaw } from '../../src/domain/raw-schemas';
import seed from '../../src/domain/seed-rows.json';
import type { Table } from '../../src/domain/tables';

const base = seed.rows[1]!.raw; // row 2863: an ordinary image post
const story = seed.rows[0]!.raw; // row 7528: a story-format post with every placeholder

type Case = { name: string; table: Table; record: unknown };

function variant(table: Table, patch: Record<string, unknown>): unknown {
  return { ...base[table], ...patch };
}

function without(table: Table, key: string): unknown {
  const copy: Record<string, unknown> = { ...base[table] };
  delete copy[key];
  return copy;
}

describe('domain/raw-schemas', () => {
  describe('accepts every fixture record', () => {
    for (const row of seed.rows) {
      for (const table of ['pin', 'geo', 'user'] as const) {
        it(`row ${row.ind} ${table}`, () => {
          const result = parseRaw(table, row.raw[table]);
          assert.equal(result.ok, true, result.ok ? '' : result.reason);
          assert.ok(result.ok);
          assert.deepEqual(result.record, row.raw[table]);
        });
      }
    }
  });

  describe('accepts dirty but valid values', () => {
    const accepted: Case[] = [
      { name: 'story-format post', table: 'pin', record: story.pin },
      {
        name: 'follower_count 124k',
        table: 'pin',
        record: variant('pin', { follower_count: '124k' }),
      },
      { name: 'follower_count 2M', table: 'pin', record: variant('pin', { follower_count: '2M' }) },
      {
        name: 'follower_count 5000',
        table: 'pin',
        record: variant('pin', { follower_count: '5000' }),
      },
      {
        name: 'follower_count 1.5k',
        table: 'pin',
        record: variant('pin', { follower_count: '1.5k' }),
      },
      {
        name: 'follower_count User Info Error',
        table: 'pin',
        record: variant('pin', {
          follower_count: 'User Info Error',
          poster_name: 'User Info Error',
        }),
      },
      {
        name: 'follower_count as a JSON integer',
        table: 'pin',
        record: variant('pin', { follower_count: 5000 }),
      },
      {
        name: 'follower_count empty',
        table: 'pin',
        record: variant('pin', { follower_count: '' }),
      },
      {
        name: 'title placeholder',
        table: 'pin',
        record: variant('pin', { title: 'No Title Data Available' }),
      },
      {
        name: 'description Untitled',
        table: 'pin',
        record: variant('pin', { description: 'Untitled' }),
      },
      {
        name: 'image_src placeholder',
        table: 'pin',
        record: variant('pin', { image_src: 'Image src error.' }),
      },
      {
        name: 'multilingual text',
        table: 'pin',
        record: variant('pin', {
          title: '簡単かわいいネイルデザイン 💅',
          description: 'Идеи для маникюра — أفكار',
          poster_name: 'Zoë Müller',
          tag_list: 'Décor,インテリア,홈카페',
        }),
      },
      {
        name: 'empty strings',
        table: 'pin',
        record: variant('pin', {
          unique_id: '',
          title: '',
          description: '',
          poster_name: '',
          tag_list: '',
          is_image_or_video: '',
          image_src: '',
          save_location: '',
          category: '',
        }),
      },
      {
        name: 'null text',
        table: 'pin',
        record: variant('pin', { title: null, description: null }),
      },
      { name: 'video post', table: 'pin', record: variant('pin', { is_image_or_video: 'video' }) },
      {
        name: 'uppercase uuid',
        table: 'pin',
        record: variant('pin', { unique_id: base.pin.unique_id.toUpperCase() }),
      },
      {
        name: 'extra keys kept',
        table: 'pin',
        record: variant('pin', { extra: { nested: true } }),
      },
      { name: 'index 0', table: 'pin', record: variant('pin', { index: 0 }) },
      {
        name: 'ISO T timestamp',
        table: 'geo',
        record: variant('geo', { timestamp: '2020-04-27T13:34:16' }),
      },
      {
        name: 'ISO Z timestamp',
        table: 'geo',
        record: variant('geo', { timestamp: '2020-04-27T13:34:16.5Z' }),
      },
      {
        name: 'edge coordinates',
        table: 'geo',
        record: variant('geo', { latitude: 90, longitude: -180 }),
      },
      {
        name: 'integer coordinates',
        table: 'geo',
        record: variant('geo', { latitude: 0, longitude: 0 }),
      },
      {
        name: 'country with punctuation',
        table: 'geo',
        record: variant('geo', { country: "Cote d'Ivoire" }),
      },
      { name: 'empty country', table: 'geo', record: variant('geo', { country: '' }) },
      {
        name: 'ISO T date_joined',
        table: 'user',
        record: variant('user', { date_joined: '2016-10-23T14:06:51Z' }),
      },
      {
        name: 'multilingual name',
        table: 'user',
        record: variant('user', { first_name: 'José', last_name: 'Ñúñez' }),
      },
      { name: 'age 80', table: 'user', record: variant('user', { age: 80 }) },
      { name: 'age under 18', table: 'user', record: variant('user', { age: 16 }) },
    ];
    for (const { name, table, record } of accepted) {
      it(`${table}: ${name}`, () => {
        const result = parseRaw(table, record);
        assert.equal(result.ok, true, result.ok ? '' : result.reason);
        assert.ok(result.ok);
        assert.deepEqual(
          result.record,
          record,
          'the record is returned as posted, extra keys included',
        );
      });
    }
  });

  describe('rejects structurally wrong records, naming the field', () => {
    const rejected: (Case & { reason: RegExp })[] = [
      {
        name: 'missing index',
        table: 'pin',
        record: without('pin', 'index'),
        reason: /^index: missing, expected integer$/,
      },
      {
        name: 'string index',
        table: 'pin',
        record: variant('pin', { index: '2863' }),
        reason: /^index: expected integer, received string "2863"$/,
      },
      {
        name: 'fractional index',
        table: 'pin',
        record: variant('pin', { index: 1.5 }),
        reason: /^index: expected integer, received number 1\.5$/,
      },
      {
        name: 'negative index',
        table: 'pin',
        record: variant('pin', { index: -1 }),
        reason: /^index: expected integer >= 0/,
      },
      {
        name: 'geo record posted as pin',
        table: 'pin',
        record: base.geo,
        reason: /^index: missing.*unique_id: missing/,
      },
      {
        name: 'bad follower_count',
        table: 'pin',
        record: variant('pin', { follower_count: '12 thousand' }),
        reason: /^follower_count: expected digits.*received string "12 thousand"$/,
      },
      {
        name: 'negative follower_count',
        table: 'pin',
        record: variant('pin', { follower_count: -3 }),
        reason: /^follower_count: /,
      },
      {
        name: 'non-uuid unique_id',
        table: 'pin',
        record: variant('pin', { unique_id: 'abc' }),
        reason: /^unique_id: expected uuid string/,
      },
      {
        name: 'numeric title',
        table: 'pin',
        record: variant('pin', { title: 42 }),
        reason: /^title: expected string or null, received number 42$/,
      },
      {
        name: 'unknown media kind',
        table: 'pin',
        record: variant('pin', { is_image_or_video: 'gif' }),
        reason: /^is_image_or_video: expected one of "image", "video"/,
      },
      {
        name: 'downloaded true',
        table: 'pin',
        record: variant('pin', { downloaded: true }),
        reason: /^downloaded: expected 0 or 1, received boolean$/,
      },
      {
        name: 'downloaded 2',
        table: 'pin',
        record: variant('pin', { downloaded: 2 }),
        reason: /^downloaded: expected 0 or 1, received number 2$/,
      },
      {
        name: 'unknown category',
        table: 'pin',
        record: variant('pin', { category: 'food' }),
        reason: /^category: expected a category \(education, .*\), received string "food"$/,
      },
      {
        name: 'several fields at once',
        table: 'pin',
        record: variant('pin', { index: 'x', category: 'food' }),
        reason: /^index: expected integer, received string "x"; category: /,
      },
      {
        name: 'missing ind',
        table: 'geo',
        record: without('geo', 'ind'),
        reason: /^ind: missing, expected integer$/,
      },
      {
        name: 'string ind',
        table: 'geo',
        record: variant('geo', { ind: '2863' }),
        reason: /^ind: expected integer, received string "2863"$/,
      },
      {
        name: 'non-numeric latitude',
        table: 'geo',
        record: variant('geo', { latitude: 'north' }),
        reason: /^latitude: expected number, received string "north"$/,
      },
      {
        name: 'numeric-string latitude',
        table: 'geo',
        record: variant('geo', { latitude: '-5.3' }),
        reason: /^latitude: expected number, received string/,
      },
      {
        name: 'latitude out of range',
        table: 'geo',
        record: variant('geo', { latitude: 91 }),
        reason: /^latitude: expected number between -90 and 90, received number 91$/,
      },
      {
        name: 'longitude out of range',
        table: 'geo',
        record: variant('geo', { longitude: -180.5 }),
        reason: /^longitude: expected number between -180 and 180/,
      },
      {
        name: 'null longitude',
        table: 'geo',
        record: variant('geo', { longitude: null }),
        reason: /^longitude: expected number, received null$/,
      },
      {
        name: 'date-only timestamp',
        table: 'geo',
        record: variant('geo', { timestamp: '2020-04-27' }),
        reason: /^timestamp: expected datetime "YYYY-MM-DD HH:MM:SS"/,
      },
      {
        name: 'impossible timestamp',
        table: 'geo',
        record: variant('geo', { timestamp: '2021-02-29 10:00:00' }),
        reason: /^timestamp: expected datetime/,
      },
      {
        name: 'epoch timestamp',
        table: 'geo',
        record: variant('geo', { timestamp: 1588000000 }),
        reason: /^timestamp: expected datetime.*received number 1588000000$/,
      },
      {
        name: 'missing ind',
        table: 'user',
        record: without('user', 'ind'),
        reason: /^ind: missing, expected integer$/,
      },
      {
        name: 'string age',
        table: 'user',
        record: variant('user', { age: '32' }),
        reason: /^age: expected integer, received string "32"$/,
      },
      {
        name: 'negative age',
        table: 'user',
        record: variant('user', { age: -4 }),
        reason: /^age: expected integer >= 0, received number -4$/,
      },
      {
        name: 'array first_name',
        table: 'user',
        record: variant('user', { first_name: ['Dylan'] }),
        reason: /^first_name: expected string or null, received array$/,
      },
      {
        name: 'missing date_joined',
        table: 'user',
        record: without('user', 'date_joined'),
        reason: /^date_joined: missing, expected datetime/,
      },
    ];
    for (const { name, table, record, reason } of rejected) {
      it(`${table}: ${name}`, () => {
        const result = parseRaw(table, record);
        assert.equal(result.ok, false, `${name} should be rejected`);
        assert.ok(!result.ok);
        assert.match(result.reason, reason);
      });
    }

    const notObjects: unknown[] = [null, 5, 'a string', ['index', 1], true, undefined];
    for (const value of notObjects) {
      it(`rejects the non-object ${describeValue(value)}`, () => {
        for (const table of ['pin', 'geo', 'user'] as const) {
          const result = parseRaw(table, value);
          assert.ok(!result.ok);
          assert.match(
            result.reason,
            new RegExp(`^record: expected a JSON object \\(${table} record\\)`),
          );
        }
      });
    }
  });

  it('describes values briefly', () => {
    assert.equal(describeValue('x'.repeat(50)), `string "${'x'.repeat(40)}…"`);
    assert.equal(describeValue(undefined), 'nothing');
    assert.equal(describeValue({}), 'object');
    assert.equal(describeValue(null), 'null');
  });
});

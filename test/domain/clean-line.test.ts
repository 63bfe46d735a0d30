import assert from 'node:assert/strict';
import {
  cleanLine,
  cleanNdjsonLine,
  hasUnpairedSurrogate,
  ndjsonLines,
} from '../../src/domain/clean-line';
import { DEFAULT_GATES, type Expectation } from '../../src/domain/quality-gates';
import seed from '../../src/domain/seed-rows.json';
import { TABLES, type Table } from '../../src/domain/tables';

const base = seed.rows[1]!.raw; // row 2863: an ordinary image post
const line = (table: Table, patch: Record<string, unknown> = {}) =>
  JSON.stringify({ ...base[table], ...patch });
/** The base line with `field`'s value replaced by raw JSON text. */
const raw = (table: Table, field: string, json: string) =>
  line(table, { [field]: '\u0001' }).replace('"\\u0001"', json);

describe('domain/clean-line', () => {
  describe('keeps every fixture row, cleaned as the fixture says', () => {
    for (const row of seed.rows) {
      for (const table of TABLES) {
        it(`row ${row.ind} ${table}`, () => {
          const result = cleanLine(table, JSON.stringify(row.raw[table]));
          assert.ok(result.ok, result.ok ? '' : result.reason);
          assert.deepStrictEqual(result.row, row.clean[table]);
          assert.deepStrictEqual(result.failedGates, []);
        });
      }
    }
  });

  describe('rejects with the first failing step as the reason', () => {
    const cases: [name: string, table: Table, line: string, reason: string][] = [
      ['truncated JSON', 'pin', line('pin').slice(0, -1), 'not JSON'],
      ['trailing comma', 'pin', `${line('pin').slice(0, -1)},}`, 'not JSON'],
      ['NaN', 'geo', raw('geo', 'latitude', 'NaN'), 'not JSON'],
      ['single quotes', 'user', "{'ind': 1}", 'not JSON'],
      ['a byte order mark', 'user', `\ufeff${line('user')}`, 'not JSON'],
      ['a comment', 'user', `${line('user')} // posted`, 'not JSON'],
      ['whitespace only', 'pin', '   ', 'not JSON'],
      [
        'an unpaired surrogate escape, even in an extra field',
        'pin',
        `${line('pin').slice(0, -1)},"extra":"\\ud800"}`,
        'not JSON: unpaired surrogate escape',
      ],
      [
        'an array',
        'pin',
        '[1,2]',
        'schema: record: expected a JSON object (pin record), received array',
      ],
      ['null', 'geo', 'null', 'schema: record: expected a JSON object (geo record), received null'],
      [
        'a number',
        'user',
        '5',
        'schema: record: expected a JSON object (user record), received number',
      ],
      [
        'a negative index (the value is not echoed)',
        'pin',
        line('pin', { index: -1 }),
        'schema: index: expected integer >= 0, received number',
      ],
      [
        'a fractional index',
        'pin',
        raw('pin', 'index', '1.5'),
        'schema: index: expected integer, received number',
      ],
      [
        'an index of 2^53',
        'pin',
        raw('pin', 'index', '9007199254740992'),
        'schema: index: expected integer, received number',
      ],
      [
        'an index of -2^53 (two issues, as zod reports them)',
        'geo',
        raw('geo', 'ind', '-9007199254740992'),
        'schema: ind: expected integer, received number; ind: expected integer >= 0, received number',
      ],
      [
        'an overflowing number',
        'geo',
        raw('geo', 'latitude', '1e400'),
        'schema: latitude: expected number, received number',
      ],
      [
        'a latitude just beyond 90',
        'geo',
        raw('geo', 'latitude', '90.0000001'),
        'schema: latitude: expected number between -90 and 90, received number',
      ],
      [
        'several fields, in schema order',
        'pin',
        line('pin', { category: 'food', title: 5 }),
        'schema: title: expected string or null, received number; category: expected a category (education, finance, diy-and-crafts, event-planning, mens-fashion, quotes, travel, christmas, tattoos, home-decor, art, beauty, vehicles), received string',
      ],
      [
        'a missing field',
        'user',
        JSON.stringify({ ...base.user, age: undefined }),
        'schema: age: missing, expected integer',
      ],
      [
        'an impossible date',
        'user',
        line('user', { date_joined: '2021-02-29 10:00:00' }),
        'schema: date_joined: expected datetime "YYYY-MM-DD HH:MM:SS" (or ISO "T" form), received string',
      ],
      [
        'a decimal follower_count without suffix',
        'pin',
        line('pin', { follower_count: '12.5' }),
        'schema: follower_count: expected digits, digits+"k", digits+"M" or "User Info Error", received string',
      ],
      [
        'a duplicate key: the last value counts',
        'pin',
        `${line('pin').slice(0, -1)},"downloaded":2}`,
        'schema: downloaded: expected 0 or 1, received number',
      ],
      ['a drop gate', 'user', line('user', { age: 12 }), 'gate age_in_range: age within 13..120'],
      [
        'an age the clean INTEGER column cannot hold (before the gates)',
        'user',
        line('user', { age: 2 ** 31 }),
        'cleaning: age: expected at most 2147483647 (a 32-bit INTEGER column), received number',
      ],
    ];
    for (const [name, table, text, reason] of cases) {
      it(`${table}: ${name}`, () => {
        const result = cleanLine(table, text);
        assert.ok(!result.ok, 'rejected');
        assert.equal(result.reason, reason);
      });
    }
  });

  describe('keeps valid oddities', () => {
    it('a duplicate key whose last value is valid', () => {
      const result = cleanLine('pin', `{"index":"x",${line('pin').slice(1)}`);
      assert.ok(result.ok);
      assert.equal(result.row.ind, 2863);
    });
    it('1.0 and 1e2 as integers, -0 as 0', () => {
      const result = cleanLine('user', raw('user', 'age', '1e2').replace('2863', '-0'));
      assert.ok(result.ok);
      assert.ok(Object.is(result.row.ind, 0));
      assert.equal(result.row.age, 100);
      assert.ok(cleanLine('pin', raw('pin', 'downloaded', '1.0')).ok);
    });
    it('a coordinate of -0.0 as 0', () => {
      const result = cleanLine('geo', raw('geo', 'latitude', '-0.0'));
      assert.ok(result.ok);
      assert.ok(Object.is(result.row.coordinates[0], 0));
    });
    it('whitespace around the JSON, extra fields, escaped keys', () => {
      const result = cleanLine('geo', ` \t${line('geo', { extra: [1, { a: null }] })}\r`);
      assert.ok(result.ok);
      assert.ok(cleanLine('geo', line('geo').replace('"ind"', '"\\u0069nd"')).ok);
    });
  });

  describe('counts warn and fail gates on kept rows', () => {
    it('an empty country fails the warn gate country_present', () => {
      const result = cleanLine('geo', line('geo', { country: '' }));
      assert.ok(result.ok);
      assert.equal(DEFAULT_GATES.geo[3]!.name, 'country_present');
      assert.deepStrictEqual(result.failedGates, [3]);
    });
    it('an instant before year 0 fails the fail gate timestamp_parseable', () => {
      const result = cleanLine('geo', line('geo', { timestamp: '0000-01-01 00:00:00+01:00' }));
      assert.ok(result.ok);
      assert.deepStrictEqual(result.failedGates, [2]);
    });
    it('a drop gate reports the row and every failed gate', () => {
      const result = cleanLine('user', line('user', { age: 200 }));
      assert.ok(!result.ok);
      assert.equal(result.row?.age, 200);
      assert.deepStrictEqual(result.failedGates, [1]);
    });
    it('takes custom gates, several drop reasons joined by "; "', () => {
      const gates: Expectation<'user'>[] = [
        { name: 'a', description: 'first', policy: 'drop', maxFailureRate: 0, check: () => false },
        { name: 'b', description: 'second', policy: 'warn', maxFailureRate: 0, check: () => false },
        { name: 'c', description: 'third', policy: 'drop', maxFailureRate: 0, check: () => false },
      ];
      const result = cleanLine('user', line('user'), gates);
      assert.ok(!result.ok);
      assert.equal(result.reason, 'gate a: first; gate c: third');
      assert.deepStrictEqual(result.failedGates, [0, 1, 2]);
    });
  });

  describe('ndjsonLines', () => {
    const lines = (text: string) =>
      [...ndjsonLines(Buffer.from(text))].map((l) => [l.offset, Buffer.from(l.bytes).toString()]);
    it('splits at LF, drops one CR before it, skips empty lines', () => {
      assert.deepStrictEqual(lines('a\r\nb\n\n\r\nc\r\r\nd'), [
        [0, 'a'],
        [3, 'b'],
        [8, 'c\r'],
        [12, 'd'],
      ]);
    });
    it('counts offsets in bytes', () => {
      assert.deepStrictEqual(lines('é\n"x"\n'), [
        [0, 'é'],
        [3, '"x"'],
      ]);
    });
  });

  it('cleanNdjsonLine: not UTF-8, and a byte order mark is not stripped', () => {
    const result = cleanNdjsonLine('pin', Buffer.from([0x7b, 0xff, 0x7d]));
    assert.ok(!result.ok);
    assert.equal(result.reason, 'not UTF-8');
    const bom = cleanNdjsonLine('pin', Buffer.from(`\ufeff${line('pin')}`));
    assert.ok(!bom.ok);
    assert.equal(bom.reason, 'not JSON');
    assert.ok(cleanNdjsonLine('pin', Buffer.from(line('pin'))).ok);
  });

  it('hasUnpairedSurrogate looks into keys and nested values', () => {
    assert.equal(hasUnpairedSurrogate({ a: ['x', { b: '\ud83d\ude00' }] }), false);
    assert.equal(hasUnpairedSurrogate({ a: ['x', { b: '\ude00\ud83d' }] }), true);
    assert.equal(hasUnpairedSurrogate({ '\ud800': 1 }), true);
    assert.equal(hasUnpairedSurrogate('a\udc00'), true);
  });
});

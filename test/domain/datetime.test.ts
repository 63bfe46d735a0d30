import assert from 'node:assert/strict';
import {
  formatSourceDatetime,
  formatUtcIso,
  isSourceDatetime,
  parseSourceDatetime,
  toCleanTimestamp,
} from '../../src/domain/datetime';

describe('domain/datetime', () => {
  const valid: [string, string][] = [
    ['2020-08-28 03:52:47', '2020-08-28T03:52:47Z'],
    ['2020-08-28T03:52:47', '2020-08-28T03:52:47Z'],
    ['2020-08-28T03:52:47Z', '2020-08-28T03:52:47Z'],
    ['2020-08-28T03:52:47.000Z', '2020-08-28T03:52:47Z'],
    ['2020-08-28T03:52:47.25Z', '2020-08-28T03:52:47.250Z'],
    ['2020-08-28T03:52:47.123456', '2020-08-28T03:52:47.123Z'],
    ['2020-08-28T05:52:47+02:00', '2020-08-28T03:52:47Z'],
    ['2020-08-27T22:52:47-0500', '2020-08-28T03:52:47Z'],
    ['2020-08-28 04:52:47+01', '2020-08-28T03:52:47Z'],
    ['2020-02-29 00:00:00', '2020-02-29T00:00:00Z'],
    ['2000-02-29 23:59:59', '2000-02-29T23:59:59Z'],
    ['0099-01-01 00:00:00', '0099-01-01T00:00:00Z'],
  ];
  for (const [input, clean] of valid) {
    it(`${input} → ${clean}`, () => {
      assert.equal(isSourceDatetime(input), true);
      assert.equal(toCleanTimestamp(input), clean);
    });
  }

  const invalid = [
    '',
    '2020-08-28',
    '2020-08-28 03:52',
    '2020-8-28 03:52:47',
    '2020/08/28 03:52:47',
    '2020-13-01 00:00:00',
    '2020-00-10 00:00:00',
    '2021-02-29 00:00:00',
    '1900-02-29 00:00:00',
    '2020-04-31 00:00:00',
    '2020-08-28 24:00:00',
    '2020-08-28 03:60:00',
    '2020-08-28 03:52:60',
    '2020-08-28 03:52:47+25:00',
    ' 2020-08-28 03:52:47',
    '2020-08-28 03:52:47 UTC',
    'yesterday',
  ];
  for (const input of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(parseSourceDatetime(input), undefined);
      assert.throws(() => toCleanTimestamp(input), /invalid datetime/);
    });
  }

  it('formats epoch milliseconds both ways', () => {
    const millis = Date.UTC(2017, 0, 2, 3, 4, 5);
    assert.equal(formatSourceDatetime(millis), '2017-01-02 03:04:05');
    assert.equal(formatUtcIso(millis), '2017-01-02T03:04:05Z');
    assert.equal(formatUtcIso(millis + 7), '2017-01-02T03:04:05.007Z');
    assert.equal(parseSourceDatetime(formatSourceDatetime(millis)), millis);
  });
});

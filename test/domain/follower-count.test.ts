import assert from 'node:assert/strict';
import {
  followerCountValue,
  isFollowerCount,
  parseFollowerCount,
} from '../../src/domain/follower-count';

describe('domain/follower-count', () => {
  const conversions: [string, number | null][] = [
    ['124k', 124_000],
    ['2M', 2_000_000],
    ['5000', 5000],
    ['437', 437],
    ['0', 0],
    ['1k', 1000],
    ['999k', 999_000],
    ['15M', 15_000_000],
    ['1.5k', 1500],
    ['1.2M', 1_200_000],
    ['1.005k', 1005],
    ['1.0005k', 1001], // rounds half up
    ['1.0004k', 1000],
    ['2.5000001M', 2_500_000],
    ['007', 7],
    ['User Info Error', null],
    ['', null],
  ];
  for (const [text, value] of conversions) {
    it(`${JSON.stringify(text)} → ${String(value)}`, () => {
      assert.equal(followerCountValue(text), value);
      assert.equal(parseFollowerCount(text), value);
      assert.equal(isFollowerCount(text), true);
    });
  }

  const invalid = [
    'abc',
    '12K', // the source writes a lowercase k
    '3m',
    '1.5', // fractional followers
    '-5',
    '5 k',
    ' 5k',
    'k',
    '1e3',
    'user info error',
    '99999999999999999M', // beyond a safe integer
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(followerCountValue(text), undefined);
      assert.equal(isFollowerCount(text), false);
      assert.throws(() => parseFollowerCount(text), /invalid follower_count/);
    });
  }
});

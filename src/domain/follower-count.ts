/**
 * The source's follower_count: a string of digits (`5000`), digits + `k` (`124k`, ×1,000),
 * digits + `M` (`2M`, ×1,000,000), or the placeholder `User Info Error`. A decimal mantissa
 * (`1.5k`) is tolerated and the result is rounded half up to an integer.
 */

import { USER_INFO_ERROR } from './placeholders';

/** The shape of a convertible follower_count (the placeholder and '' are handled separately). */
export const FOLLOWER_COUNT_PATTERN = /^(\d+)(?:\.(\d+))?([kM])?$/;

const EXPONENT = { k: 3, M: 6 } as const;

/**
 * The integer a follower_count string stands for; null for the placeholder and the empty
 * string; undefined when the text is not a follower_count at all or exceeds a safe integer.
 */
export function followerCountValue(text: string): number | null | undefined {
  if (text === '' || text === USER_INFO_ERROR) return null;
  const match = FOLLOWER_COUNT_PATTERN.exec(text);
  if (!match) return undefined;
  const [, whole = '', fraction, suffix] = match;
  if (fraction !== undefined && suffix === undefined) return undefined; // `12.5` followers
  const exponent = suffix === undefined ? 0 : EXPONENT[suffix as keyof typeof EXPONENT];
  // Shift the decimal point with string arithmetic so `1.005k` is exactly 1005, not 1004.999….
  const digits = fraction ?? '';
  const shifted = whole + digits.slice(0, exponent).padEnd(exponent, '0');
  const roundUp = (digits[exponent] ?? '0') >= '5';
  const value = Number(shifted) + (roundUp ? 1 : 0);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function isFollowerCount(text: string): boolean {
  return followerCountValue(text) !== undefined;
}

/** Like followerCountValue, but throws on text that is not a follower_count. */
export function parseFollowerCount(text: string): number | null {
  const value = followerCountValue(text);
  if (value === undefined) {
    throw new Error(
      `invalid follower_count ${JSON.stringify(text)}: expected digits, digits+k, digits+M or "${USER_INFO_ERROR}"`,
    );
  }
  return value;
}

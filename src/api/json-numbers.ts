import {
  getUnsafeNumberReason,
  parse as parseLossless,
  splitNumber,
  UnsafeNumberReason,
} from 'lossless-json';

/**
 * Numbers the raw zone could not keep as sent. JSON.parse turns every number into a 64-bit float
 * before anything can look at it: `1e400` becomes Infinity (re-serialised: `null`), `-0` loses
 * its sign (`0`), and a 30-digit decimal is rounded. The text is the only place where that is
 * visible, so the body's text is checked before it is parsed.
 *
 * Two steps, because the check sits on the produce hot path:
 * - hasInexactNumber: one pass over the text that skips strings (indexOf to the closing quote)
 *   and judges the few number tokens that could be inexact (over 15 characters, an exponent, or
 *   a leading `-0`); about a microsecond per pin record, against 1.5 µs for JSON.parse itself.
 *   Almost every body stops here and goes to JSON.parse.
 * - parseKeepingInexactNumbers, only for a body that has such a number: lossless-json (a
 *   maintained parser that hands each number's text to a callback) puts an InexactNumber in
 *   place of each one, so the record holding it can be refused by path while the others are
 *   produced. JSON.parse cannot do this on Node 20 (its reviver does not see the source text),
 *   and lossless-json is about 4 times slower than it, which the common case never pays.
 */

/** A number in the body that a 64-bit float cannot hold exactly: the record is refused. */
export class InexactNumber {
  constructor(
    /** The number as sent. */
    readonly text: string,
    /** Why it cannot be kept, and what to send instead. */
    readonly reason: string,
  ) {}
}

/**
 * Deeper than this, lossless-json (recursive) could exhaust the stack; JSON.parse (iterative)
 * copes, and no valid record nests this deep (json-value.ts refuses past 64 levels).
 */
export const MAX_LOSSLESS_DEPTH = 1_000;

function shown(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Why `token` cannot be kept exactly, or undefined when it can (or is not a JSON number at all:
 * JSON.parse refuses those).
 */
export function inexactNumberReason(token: string): string | undefined {
  if (!JSON_NUMBER.test(token)) return undefined;
  // A zero with a minus sign (-0, -0.0, -0e5): a float keeps the sign, JSON.stringify drops it.
  if (/^-0(?:\.0*)?(?:[eE][+-]?\d+)?$/.test(token)) {
    return `${shown(token)} is negative zero: it would be stored as 0; send 0, or the text as a string`;
  }
  const unsafe = getUnsafeNumberReason(token);
  if (unsafe === undefined) return undefined;
  const stored = JSON.stringify(Number(token));
  switch (unsafe) {
    case UnsafeNumberReason.overflow:
      return `${shown(token)} is beyond the range of a 64-bit float (about ±1.8e308): it would be stored as ${stored}; send it as a string`;
    case UnsafeNumberReason.underflow:
      return `${shown(token)} is too small for a 64-bit float: it would be stored as ${stored}; send it as a string`;
    default: {
      // As sent: d.ddd × 10^exponent; an integer when no digit falls after the point.
      const sent = splitNumber(token);
      if (sent.digits.length - 1 > sent.exponent) {
        return `${shown(token)} has more digits than a 64-bit float keeps: it would be stored as ${stored}; send it as a string`;
      }
      // Past 2^53 integers are refused even when this one survives (1e21): readers that map
      // JSON integers to 64-bit floats or longs cannot count on them. Same wording as
      // json-value.ts's check of parsed values.
      const kept = splitNumber(stored);
      const altered = sent.digits !== kept.digits || sent.exponent !== kept.exponent;
      return (
        'integer beyond ±(2^53-1) cannot be stored exactly' +
        (altered ? ` (${shown(token)} would be stored as ${stored})` : '') +
        '; send it as a string'
      );
    }
  }
}

/** Whether a number token needs the full check: short plain decimals are always exact. */
function suspicious(text: string, start: number, end: number, exponent: boolean): boolean {
  if (exponent || end - start > 15) return true;
  // -0, -0.0, and (harmlessly) -0.5: the full check sorts them out.
  return text.charCodeAt(start) === 45 && text.charCodeAt(start + 1) === 48;
}

export interface NumberScan {
  /** The first number token that cannot be kept exactly, if any. */
  inexact: boolean;
  /** Deepest nesting of arrays and objects. */
  depth: number;
}

/**
 * One pass over JSON text (valid or not: JSON.parse judges validity afterwards) that looks at the
 * number tokens outside strings. Stops judging numbers at the first inexact one but keeps
 * measuring depth, which decides whether the lossless parse may run.
 */
export function scanNumbers(text: string): NumberScan {
  const n = text.length;
  let inexact = false;
  let depth = 0;
  let maxDepth = 0;
  let i = 0;
  for (;;) {
    const quote = text.indexOf('"', i);
    const end = quote === -1 ? n : quote;
    for (let k = i; k < end; k++) {
      const c = text.charCodeAt(k);
      if (c === 91 || c === 123) {
        // [ {
        if (++depth > maxDepth) maxDepth = depth;
      } else if (c === 93 || c === 125) {
        // ] }
        depth--;
      } else if (c === 45 || (c >= 48 && c <= 57)) {
        // - or a digit: a number token runs over digits . e E + -
        const start = k;
        let exponent = false;
        for (k++; k < end; k++) {
          const d = text.charCodeAt(k);
          if (d === 101 || d === 69) exponent = true;
          else if (!((d >= 48 && d <= 57) || d === 46 || d === 43 || d === 45)) break;
        }
        if (
          !inexact &&
          suspicious(text, start, k, exponent) &&
          inexactNumberReason(text.slice(start, k)) !== undefined
        ) {
          inexact = true;
        }
        k--;
      }
    }
    if (quote === -1) break;
    // Skip the string: the next quote not escaped by an odd number of backslashes.
    let close = quote + 1;
    for (;;) {
      close = text.indexOf('"', close);
      if (close === -1) return { inexact, depth: maxDepth };
      let backslashes = 0;
      while (text.charCodeAt(close - 1 - backslashes) === 92) backslashes++;
      if ((backslashes & 1) === 0) break;
      close++;
    }
    i = close + 1;
  }
  return { inexact, depth: maxDepth };
}

/**
 * Parses JSON text like JSON.parse (the last of duplicate keys wins, `__proto__` is a plain key),
 * except that each number a float cannot hold exactly becomes an InexactNumber. Throws a
 * SyntaxError for invalid JSON.
 */
export function parseKeepingInexactNumbers(text: string): unknown {
  return parseLossless(text, null, {
    parseNumber: (token: string) => {
      const reason = inexactNumberReason(token);
      return reason === undefined ? Number(token) : new InexactNumber(token, reason);
    },
    onDuplicateKey: ({ newValue }) => newValue,
  });
}

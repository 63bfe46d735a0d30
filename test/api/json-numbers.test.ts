import assert from 'node:assert/strict';
import {
  InexactNumber,
  inexactNumberReason,
  MAX_LOSSLESS_DEPTH,
  scanNumbers,
} from '../../src/api/json-numbers';
import { jsonValueProblem } from '../../src/api/json-value';
import { planRecords } from '../../src/api/record-plan';
import { decodeJson } from '../../src/api/request-body';
import { parseProduceRequest } from '../../src/api/request-schema';
import { drawEvents } from '../../src/domain/generator';

describe('numbers the raw zone cannot keep exactly', () => {
  /** [number as sent, the reason expected (undefined: kept as is)] */
  const numbers: [string, RegExp | undefined][] = [
    [
      '1e400',
      /^1e400 is beyond the range of a 64-bit float .*stored as null; send it as a string$/,
    ],
    ['-1.5E+309', /^-1\.5E\+309 is beyond the range .*stored as null/],
    ['1e-400', /^1e-400 is too small for a 64-bit float: it would be stored as 0; /],
    ['2e-324', /^2e-324 is too small/],
    ['-0', /^-0 is negative zero: it would be stored as 0; send 0, or the text as a string$/],
    ['-0.0', /^-0\.0 is negative zero/],
    ['-0e7', /^-0e7 is negative zero/],
    [
      '123456789012345678901234567890',
      /^integer beyond ±\(2\^53-1\) cannot be stored exactly \(123456789012345678901234567890 would be stored as 1\.2345678901234568e\+29\); send it as a string$/,
    ],
    [
      '0.123456789012345678901234567890',
      /^0\.123456789012345678901234567890 has more digits than a 64-bit float keeps: it would be stored as 0\.12345678901234568; /,
    ],
    ['12345678901234567890.5', /has more digits .* stored as 12345678901234567000; /],
    ['0.1000000000000000055511151231257827', /has more digits .* stored as 0\.1; /],
    ['9007199254740993', /integer beyond .*9007199254740993 would be stored as 9007199254740992\)/],
    // Exact, but past 2^53: refused like json-value.ts refuses parsed integers.
    ['9007199254740994', /^integer beyond ±\(2\^53-1\) cannot be stored exactly; send it/],
    ['1e21', /^integer beyond ±\(2\^53-1\) cannot be stored exactly; send it/],
    ['1.5e300', /^integer beyond ±\(2\^53-1\) cannot be stored exactly; send it/],
    ['9007199254740991', undefined],
    ['-9007199254740991', undefined],
    ['0', undefined],
    ['0.0', undefined],
    ['-0.5', undefined],
    ['1.0', undefined],
    ['1E2', undefined],
    ['123.4500', undefined],
    ['-77.6219', undefined],
    ['0.30000000000000004', undefined],
    ['5e-324', undefined],
    ['2.2250738585072014e-308', undefined],
    ['1.25e-300', undefined],
    ['1.5e15', undefined],
    ['0.000000000000000000000000000001', undefined],
    // Not JSON numbers at all: JSON.parse refuses the body.
    ['01', undefined],
    ['1.', undefined],
    ['--1', undefined],
  ];
  for (const [token, reason] of numbers) {
    it(`${token}: ${reason ? 'refused with the reason' : 'kept'}`, () => {
      const got = inexactNumberReason(token);
      if (reason) assert.match(got ?? '(kept)', reason);
      else assert.equal(got, undefined);
    });
  }

  it('a long number is quoted shortened in the reason', () => {
    const long = `1${'0'.repeat(60)}.5`;
    assert.match(
      inexactNumberReason(long)!,
      /^1000000000000000000000000000000000000\.\.\. has more/,
    );
  });

  /** [body, inexact number found, deepest nesting] */
  const scans: [string, string, boolean, number][] = [
    ['numbers in values', '{"a":[1,2.5,-3e2]}', false, 2],
    ['an inexact number in a value', '{"a":{"b":[1e400]}}', true, 3],
    ['the same text inside a string', '{"a":"1e400 -0 123456789012345678901234567890"}', false, 1],
    ['after an escaped quote, still in the string', '{"a":"x\\" 1e400"}', false, 1],
    ['after an escaped backslash, out of the string', '{"a":"x\\\\",  "b": -0}', true, 1],
    ['in a key', '{"1e400":1}', false, 1],
    ['a key and value that look alike', '{"-0":"-0","n":0}', false, 1],
    ['not JSON: a lone quote', '{"a":1e400, "b":"unterminated', true, 1],
  ];
  for (const [name, text, inexact, depth] of scans) {
    it(`scans ${name}`, () => assert.deepEqual(scanNumbers(text), { inexact, depth }));
  }
});

describe('decodeJson keeps what a float cannot hold visible', () => {
  const decoded: [string, string, unknown][] = [
    [
      'no such number: exactly JSON.parse',
      '{"a":[1,-0.5,1e2,"1e400"]}',
      { a: [1, -0.5, 100, '1e400'] },
    ],
    [
      'each such number becomes an InexactNumber, the others numbers',
      '{"a":[1e400,2,-0],"b":{"c":0.123456789012345678901234567890}}',
      {
        a: [new InexactNumber('1e400', 'x'), 2, new InexactNumber('-0', 'x')],
        b: { c: new InexactNumber('0.123456789012345678901234567890', 'x') },
      },
    ],
    ['the last of duplicate keys wins, as in JSON.parse', '{"a":1e400,"a":1}', { a: 1 }],
    [
      'strings are untouched',
      '{"s":"1e400","n":-0}',
      { s: '1e400', n: new InexactNumber('-0', 'x') },
    ],
  ];
  /** InexactNumber → `<text>`, for comparing without the reasons. */
  const shape = (v: unknown): unknown =>
    JSON.parse(
      JSON.stringify(v, (_k, x: unknown) => (x instanceof InexactNumber ? `<${x.text}>` : x)),
    );
  for (const [name, text, expected] of decoded) {
    it(name, () => assert.deepEqual(shape(decodeJson(Buffer.from(text))), shape(expected)));
  }

  it('__proto__ stays a plain key, as in JSON.parse', () => {
    const v = decodeJson(Buffer.from('{"__proto__":{"polluted":1e400},"n":-0}')) as object;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.ok(Object.hasOwn(v, '__proto__'));
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it(`refuses, 422, a body nested deeper than ${MAX_LOSSLESS_DEPTH} with such a number`, () => {
    const deep = `{"records":[{"value":${'['.repeat(5_000)}1e400${']'.repeat(5_000)}}]}`;
    assert.throws(
      () => decodeJson(Buffer.from(deep)),
      (err: unknown) =>
        (err as { status?: number }).status === 422 &&
        /nests deeper than 1000 levels and holds a number that cannot be stored exactly/.test(
          (err as Error).message,
        ),
    );
    // Without one, JSON.parse decodes it and the record alone is refused (json-value.ts).
    assert.ok(decodeJson(Buffer.from(deep.replace('1e400', '1'))));
  });
});

describe('records holding such numbers are refused one by one, with the path', () => {
  const [event] = [...drawEvents({ seed: 'inexact', count: 1 })];
  const user = JSON.stringify(event!.user);
  /** A user record with `extra` set to the raw JSON text `raw`. */
  const withExtra = (raw: string) => user.replace(/}$/, `,"extra":${raw}}`);

  const cases: [string, string, RegExp | undefined][] = [
    [
      '1e400 in a value',
      `{"value":${withExtra('1e400')}}`,
      /^value\.extra: 1e400 is beyond the range/,
    ],
    ['-0 in a value', `{"value":${withExtra('[1,-0]')}}`, /^value\.extra\.1: -0 is negative zero/],
    [
      'a 30-digit decimal',
      `{"value":${withExtra('{"d":3.14159265358979323846264338327}')}}`,
      /^value\.extra\.d: 3\.14159265358979323846264338327 has more digits than a 64-bit float keeps: it would be stored as 3\.141592653589793; /,
    ],
    ['a number that is the value', '{"value":1e400}', /^value: 1e400 is beyond the range/],
    ['an inexact key', `{"key":{"id":-0},"value":${user}}`, /^key\.id: -0 is negative zero/],
    ['exact numbers', `{"value":${withExtra('[1.0,1E2,-0.5,0]')}}`, undefined],
  ];
  for (const [name, record, reason] of cases) {
    it(name, () => {
      const request = parseProduceRequest(decodeJson(Buffer.from(`{"records":[${record}]}`)));
      const [planned] = planRecords({ table: 'user', records: request.records, partitions: 1 });
      if (reason) {
        assert.equal(planned!.kind, 'reject');
        assert.match((planned as { reason: string }).reason, reason);
      } else {
        assert.equal(planned!.kind, 'produce', JSON.stringify(planned));
      }
    });
  }

  it('an inexact partition number fails the request (422), as any bad partition does', () =>
    assert.throws(
      () =>
        parseProduceRequest(
          decodeJson(Buffer.from(`{"records":[{"value":{},"partition":1e400}]}`)),
        ),
      /records\.0\.partition: expected a partition number/,
    ));

  it('jsonValueProblem finds an InexactNumber however it is nested', () => {
    const value = { a: [{ b: [new InexactNumber('1e400', 'too big')] }] };
    assert.equal(jsonValueProblem(value), 'value.a.0.b.0: too big');
  });
});

import assert from 'node:assert/strict';
import { decodeJson } from '../../src/api/request-body';

describe('decodeJson', () => {
  const decoded: [string, Buffer, unknown][] = [
    ['plain JSON', Buffer.from('{"records":[]}'), { records: [] }],
    ['a leading byte-order mark is dropped', Buffer.from('\ufeff{"a":1}'), { a: 1 }],
    ['multilingual text survives', Buffer.from('{"t":"Ünïcödé 日本 ✓"}'), { t: 'Ünïcödé 日本 ✓' }],
  ];
  for (const [name, body, expected] of decoded) {
    it(name, () => assert.deepEqual(decodeJson(body), expected));
  }

  const refused: [string, Buffer, RegExp][] = [
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d]), /not valid UTF-8/],
    ['a truncated sequence', Buffer.from([0x22, 0xe6, 0x97, 0x22]), /not valid UTF-8/],
    ['an overlong encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), /not valid UTF-8/],
    ['whitespace only', Buffer.from('  \n'), /is empty/],
    ['two BOMs', Buffer.from('\ufeff\ufeff{}'), /not valid JSON/],
  ];
  for (const [name, body, message] of refused) {
    it(`refuses ${name} with 422`, () =>
      assert.throws(
        () => decodeJson(body),
        (err: unknown) =>
          (err as { status?: number }).status === 422 && message.test((err as Error).message),
      ));
  }
});

import assert from 'node:assert/strict';
import {
  recordSignature,
  signRuns,
  type SignableMessage,
} from '../../src/adapters/record-signature';
import { classifyBatch, SIGNATURE_HEADER } from '../../src/domain/signed-groups';

const topic = '0a1b2c3d4e5f.pin';
const key = 'k'.repeat(32);
const enc = (s: string) => new TextEncoder().encode(s);

describe('recordSignature', () => {
  const s = recordSignature(key);
  const lines = enc('{"a":1}\n{"b":2}\n');
  const tag = s.tag(topic, 2, lines);

  it('verifies its own tag, a 128-bit base64url string', () => {
    assert.match(tag, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(s.verify(topic, 2, lines, tag), true);
  });

  const refused: Array<[string, () => boolean]> = [
    ['another key', () => recordSignature('x'.repeat(32)).verify(topic, 2, lines, tag)],
    ['another topic', () => s.verify('0a1b2c3d4e5f.geo', 2, lines, tag)],
    ['another count', () => s.verify(topic, 1, lines, tag)],
    ['one byte changed', () => s.verify(topic, 2, enc('{"a":1}\n{"b":3}\n'), tag)],
    ['lines cut short', () => s.verify(topic, 2, lines.subarray(0, 8), tag)],
    ['a shortened tag', () => s.verify(topic, 2, lines, tag.slice(0, 11))],
    ['a tag that is not base64url', () => s.verify(topic, 2, lines, '*'.repeat(22))],
  ];
  for (const [what, check] of refused) {
    it(`refuses ${what}`, () => assert.equal(check(), false));
  }
});

describe('signRuns', () => {
  const s = recordSignature(key);
  const m = (partition: number, value: string, validated = true): SignableMessage => ({
    partition,
    value,
    key: null,
    ...(validated ? { validated } : {}),
  });
  const signedAt = (out: ReturnType<typeof signRuns>) =>
    out.flatMap((x, i) => (x.headers?.[SIGNATURE_HEADER] ? [i] : []));

  it('signs each partition run once, on its first message, breaking runs at unvalidated ones', () => {
    const messages = [m(0, 'a'), m(1, 'b'), m(0, 'c'), m(0, 'd', false), m(0, 'e'), m(1, 'f')];
    const out = signRuns(topic, messages, s);
    assert.deepEqual(signedAt(out), [0, 1, 4]);
    assert.match(String(out[0]!.headers![SIGNATURE_HEADER]), /^v1\.2\./); // a, c
    assert.match(String(out[1]!.headers![SIGNATURE_HEADER]), /^v1\.2\./); // b, f
    assert.match(String(out[4]!.headers![SIGNATURE_HEADER]), /^v1\.1\./); // e
    assert.equal(messages[0]!.headers, undefined, 'the caller’s messages are not changed');
    assert.deepEqual(
      out.map((x) => x.value),
      messages.map((x) => x.value),
    );
  });

  it('is read back as trusted by the sink, per partition, in the order Kafka keeps', () => {
    const notAPin = '{"signed":"so not validated"}';
    const messages = [m(0, notAPin), m(1, 'x', false), m(0, `${notAPin} `)];
    const out = signRuns(topic, messages, s);
    const partition0 = out
      .filter((x) => x.partition === 0)
      .map((x, offset) => ({
        offset,
        timestamp: 0,
        value: enc(String(x.value)),
        ...(x.headers ? { headers: x.headers as Record<string, string> } : {}),
      }));
    const verify = (lines: Uint8Array, g: { count: number; tag: string }) =>
      s.verify(topic, g.count, lines, g.tag);
    const trusted = classifyBatch('pin', topic, 0, partition0, verify);
    assert.deepEqual(
      trusted.map((c) => [c.kind, c.kind === 'signed' && c.count]),
      [['signed', 2]],
    );
    // The same bytes under another topic, or with a record left out, are not trusted.
    const elsewhere = classifyBatch('geo', '0a1b2c3d4e5f.geo', 0, partition0, (l, g) =>
      s.verify('0a1b2c3d4e5f.geo', g.count, l, g.tag),
    );
    assert.deepEqual(
      elsewhere.map((c) => c.kind),
      ['quarantine', 'quarantine'],
    );
    const cut = classifyBatch('pin', topic, 0, partition0.slice(0, 1), verify);
    assert.equal(cut[0]!.kind, 'quarantine');
  });

  it('leaves unsigned a message that already carries a signature header', () => {
    const forged = { ...m(0, 'a'), headers: { [SIGNATURE_HEADER]: 'v1.1.forged' } };
    const out = signRuns(topic, [forged, m(0, 'b')], s);
    assert.equal(out[0]!.headers![SIGNATURE_HEADER], 'v1.1.forged');
    assert.match(String(out[1]!.headers![SIGNATURE_HEADER]), /^v1\.1\./);
  });
});

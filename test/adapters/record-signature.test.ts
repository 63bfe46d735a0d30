import assert from 'node:assert/strict';
import {
  recordSignature,
  signRuns,
  threadedRecordSignature,
  type SignableMessage,
} from '../../src/adapters/record-signature';
import { classifyBatch, type ClaimedRange, SIGNATURE_HEADER } from '../../src/domain/signed-groups';

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

describe('threadedRecordSignature', () => {
  const s = recordSignature(key);
  // 1 MiB of lines in three ranges, the middle one tampered with after signing.
  const lines = new Uint8Array(1024 * 1024).map((_, i) => 0x61 + (i % 26));
  const cut = [0, 300_000, 700_000, lines.length];
  const ranges = [0, 1, 2].map((k) => {
    const part = lines.subarray(cut[k], cut[k + 1]);
    return { at: cut[k]!, size: part.length, count: k + 1, tag: s.tag(topic, k + 1, part) };
  });
  lines[400_000] = 0x21;

  it('verifies on its thread what the in-place MAC verifies, and hands the lines back intact', async () => {
    const threaded = threadedRecordSignature(key);
    try {
      const expected = Buffer.from(lines);
      const sent = new Uint8Array(lines);
      const { lines: back, verdicts } = await threaded.verifyRanges(topic, sent, ranges);
      assert.deepEqual(verdicts, [true, false, true]);
      assert.equal(sent.byteLength, 0, 'the buffer was moved to the thread, not copied');
      assert.ok(Buffer.from(back).equals(expected));
      const inPlace = await s.verifyRanges(topic, new Uint8Array(lines), ranges);
      assert.deepEqual(inPlace.verdicts, verdicts);
    } finally {
      await threaded.close();
    }
  });

  it('verifies small batches, views and everything after close() in place', async () => {
    const threaded = threadedRecordSignature(key);
    const small = new Uint8Array(lines.subarray(0, 300_000)).subarray(0, 1000);
    const tag = s.tag(topic, 1, small);
    const view = await threaded.verifyRanges(topic, small, [{ at: 0, size: 1000, count: 1, tag }]);
    assert.deepEqual(view.verdicts, [true]);
    assert.equal(view.lines, small, 'not moved');
    await threaded.close();
    const after = new Uint8Array(lines);
    const closed = await threaded.verifyRanges(topic, after, ranges);
    assert.deepEqual(closed.verdicts, [true, false, true]);
    assert.equal(closed.lines, after);
  });
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

  it('is read back as trusted by the sink, per partition, in the order Kafka keeps', async () => {
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
    const verify = (lines: Uint8Array, ranges: readonly ClaimedRange[]) =>
      s.verifyRanges(topic, lines, ranges);
    const trusted = await classifyBatch('pin', topic, 0, partition0, verify);
    assert.deepEqual(
      trusted.map((c) => [c.kind, c.kind === 'signed' && c.count]),
      [['signed', 2]],
    );
    // The same bytes under another topic, or with a record left out, are not trusted.
    const elsewhere = await classifyBatch('geo', '0a1b2c3d4e5f.geo', 0, partition0, (l, r) =>
      s.verifyRanges('0a1b2c3d4e5f.geo', l, r),
    );
    assert.deepEqual(
      elsewhere.map((c) => c.kind),
      ['quarantine', 'quarantine'],
    );
    const cut = await classifyBatch('pin', topic, 0, partition0.slice(0, 1), verify);
    assert.equal(cut[0]!.kind, 'quarantine');
  });

  it('leaves unsigned a message that already carries a signature header', () => {
    const forged = { ...m(0, 'a'), headers: { [SIGNATURE_HEADER]: 'v1.1.forged' } };
    const out = signRuns(topic, [forged, m(0, 'b')], s);
    assert.equal(out[0]!.headers![SIGNATURE_HEADER], 'v1.1.forged');
    assert.match(String(out[1]!.headers![SIGNATURE_HEADER]), /^v1\.1\./);
  });
});

import assert from 'node:assert/strict';
import { createRecordMarkKey } from '../../src/activities/record-mark-key';
import {
  checkValidatedMark,
  classifyRecord,
  encodeNdjson,
  flushDecision,
  markPreamble,
  type MarkVerifier,
  VALIDATED_HEADER,
  validatedMark,
  parseRawObjectKey,
  quarantineObjectKey,
  rawObjectKey,
  segmentRecords,
  utcDay,
  type ClassifiedRecord,
} from '../../src/domain/raw-zone';
import { parseIngestTopicInput } from '../../src/domain/ingest-input';
import type { Table } from '../../src/domain/tables';

const topic = '0a1b2c3d4e5f.pin';
const enc = (s: string) => new TextEncoder().encode(s);
const validPin = {
  index: 7528,
  unique_id: 'fbe53c66-3442-4773-b19e-d3ec6f54dddf',
  title: 'No Title Data Available',
  description: 'No description available Story format',
  poster_name: 'User Info Error',
  follower_count: 'User Info Error',
  tag_list: 'N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e',
  is_image_or_video: 'multi-video(story page format)',
  image_src: 'Image src error.',
  downloaded: 0,
  save_location: 'Local save in /data/mens-fashion',
  category: 'mens-fashion',
};
const ts = Date.UTC(2026, 10, 25, 23, 59, 59);
const geoTopic = '0a1b2c3d4e5f.geo';
const otherTopic = 'ffffffffffff.pin';
// Real HMAC keys: the domain only sees their sign and verify functions.
const key = createRecordMarkKey('a-test-record-key-0123456789');
const otherKey = createRecordMarkKey('another-record-key-0123456789');

describe('raw zone naming', () => {
  const cases: Array<[number, number, string, string]> = [
    [
      0,
      0,
      '2026-11-25',
      'topics/0a1b2c3d4e5f.pin/dt=2026-11-25/partition=0/0a1b2c3d4e5f.pin+0+0000000000.json',
    ],
    [
      2,
      1234567,
      '2020-02-29',
      'topics/0a1b2c3d4e5f.pin/dt=2020-02-29/partition=2/0a1b2c3d4e5f.pin+2+0001234567.json',
    ],
    [
      11,
      98765432101,
      '2026-01-01',
      'topics/0a1b2c3d4e5f.pin/dt=2026-01-01/partition=11/0a1b2c3d4e5f.pin+11+98765432101.json',
    ],
  ];
  for (const [partition, startOffset, day, key] of cases) {
    it(`names ${key} and parses it back`, () => {
      assert.equal(rawObjectKey({ topic, partition, startOffset, day }), key);
      assert.deepEqual(parseRawObjectKey(key), { topic, partition, startOffset, day });
    });
  }

  it('puts quarantine under quarantine/<table>/', () => {
    assert.equal(
      quarantineObjectKey('pin', { topic, partition: 1, startOffset: 42, day: '2026-11-25' }),
      'quarantine/pin/dt=2026-11-25/partition=1/0a1b2c3d4e5f.pin+1+0000000042.json',
    );
  });

  it('rejects keys that are not raw objects', () => {
    for (const key of [
      'quarantine/pin/dt=2026-11-25/partition=1/0a1b2c3d4e5f.pin+1+0000000042.json',
      'topics/a.pin/dt=2026-11-25/partition=1/b.pin+1+0000000042.json',
      'topics/a.pin/dt=2026-11-25/partition=1/a.pin+2+0000000042.json',
      'topics/a.pin/dt=2026-11-25/partition=1/a.pin+1+42.json',
    ]) {
      assert.equal(parseRawObjectKey(key), undefined, key);
    }
  });

  it('takes the UTC day of a timestamp', () => {
    assert.equal(utcDay(ts), '2026-11-25');
    assert.equal(utcDay(ts + 1000), '2026-11-26');
  });
});

describe('classifyRecord', () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);

  it('keeps a valid one-line record byte for byte', () => {
    const value = enc(JSON.stringify(validPin));
    const r = classifyRecord('pin', topic, 0, { offset: 5, timestamp: ts, value });
    assert.equal(r.kind, 'raw');
    assert.equal(r.line, value, 'the same bytes, not a copy');
    assert.equal(r.day, '2026-11-25');
  });

  it('re-serialises a valid multi-line record to one line', () => {
    const pretty = JSON.stringify(validPin, null, 2);
    const r = classifyRecord('pin', topic, 0, { offset: 5, timestamp: ts, value: enc(pretty) });
    assert.equal(r.kind, 'raw');
    assert.equal(text(r.line), JSON.stringify(validPin));
  });

  it('writes a record whose signed mark checks out as is, without parsing it', () => {
    // Not a pin at all: only the signature lets it through, which shows no parse happened.
    const value = enc('{"stamped": "not checked again"}');
    const r = classifyRecord(
      'pin',
      topic,
      0,
      {
        offset: 1,
        timestamp: ts,
        value,
        headers: { [VALIDATED_HEADER]: validatedMark('pin', topic, value, key.sign) },
      },
      key.verify,
    );
    assert.equal(r.kind, 'raw');
    assert.equal(r.line, value);
  });

  const invalid = '{"index": "x"}';
  const marks: Array<
    [string, (value: Uint8Array) => string | undefined, MarkVerifier | undefined]
  > = [
    ['with a forged signature', () => `pin/v2.${'A'.repeat(43)}`, key.verify],
    [
      'with the mark of another value',
      () => validatedMark('pin', topic, enc('{}'), key.sign),
      key.verify,
    ],
    ['marked for another table', (v) => validatedMark('geo', geoTopic, v, key.sign), key.verify],
    ['marked with the unsigned v1 mark', () => 'pin/v1', key.verify],
    ['marked with another key', (v) => validatedMark('pin', topic, v, otherKey.sign), key.verify],
    [
      'correctly marked, but no key is configured',
      (v) => validatedMark('pin', topic, v, key.sign),
      undefined,
    ],
  ];
  for (const [what, markOf, verify] of marks) {
    it(`validates in full, and quarantines, an invalid record ${what}`, () => {
      const value = enc(invalid);
      const mark = markOf(value);
      const r = classifyRecord(
        'pin',
        topic,
        0,
        { offset: 1, timestamp: ts, value, headers: mark ? { [VALIDATED_HEADER]: mark } : {} },
        verify,
      );
      assert.equal(r.kind, 'quarantine');
      assert.ok(r.kind === 'quarantine' && /^schema: index/.test(r.reason));
    });
  }

  it('validates in full a correctly marked record spanning lines (it is re-serialised)', () => {
    const value = enc('{"index":\n"x"}');
    const r = classifyRecord(
      'pin',
      topic,
      0,
      {
        offset: 1,
        timestamp: ts,
        value,
        headers: { [VALIDATED_HEADER]: validatedMark('pin', topic, value, key.sign) },
      },
      key.verify,
    );
    assert.equal(r.kind, 'quarantine');
  });

  it('loses nothing: a valid record with a forged mark is validated and kept', () => {
    const value = enc(JSON.stringify(validPin));
    const r = classifyRecord(
      'pin',
      topic,
      0,
      { offset: 1, timestamp: ts, value, headers: { [VALIDATED_HEADER]: 'pin/v2.forged' } },
      key.verify,
    );
    assert.equal(r.kind, 'raw');
    assert.equal(r.line, value);
  });

  const bad: Array<[string, Uint8Array | null, RegExp]> = [
    ['not JSON', enc('{"index": 1,'), /^not JSON/],
    ['schema violation', enc(JSON.stringify({ ...validPin, index: 'x' })), /^schema: index/],
    ['a JSON array', enc('[1,2]'), /^schema/],
    ['no value', null, /no value/],
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe, 0x7b]), /not UTF-8/],
  ];
  for (const [what, value, reason] of bad) {
    it(`quarantines ${what} with its reason and source position`, () => {
      const r = classifyRecord('pin', topic, 3, { offset: 9, timestamp: ts, value });
      assert.equal(r.kind, 'quarantine');
      assert.ok(r.kind === 'quarantine' && reason.test(r.reason));
      const line = JSON.parse(new TextDecoder().decode(r.line)) as Record<string, unknown>;
      assert.equal(line.topic, topic);
      assert.equal(line.partition, 3);
      assert.equal(line.offset, 9);
      assert.equal(line.timestamp, '2026-11-25T23:59:59.000Z');
      assert.match(String(line.reason), reason);
    });
  }
});

describe('the validated mark', () => {
  const value = enc(JSON.stringify(validPin));
  const good = validatedMark('pin', topic, value, key.sign);

  it('is <table>/v2.<HMAC-SHA256 in base64url>, and differs per key, table, topic and value', () => {
    assert.match(good, /^pin\/v2\.[A-Za-z0-9_-]{43}$/);
    const others = [
      validatedMark('pin', topic, value, otherKey.sign),
      validatedMark('geo', topic, value, key.sign).replace(/^geo/, 'pin'),
      validatedMark('pin', otherTopic, value, key.sign),
      validatedMark('pin', topic, enc(JSON.stringify({ ...validPin, index: 1 })), key.sign),
    ];
    assert.equal(new Set([good, ...others]).size, 5);
  });

  interface Case {
    mark?: string | undefined;
    table?: Table;
    topic?: string;
    value?: Uint8Array;
    verify?: MarkVerifier | undefined;
  }
  const signature = good.slice('pin/v2.'.length);
  const cases: Array<[string, Case, RegExp | 'trusted']> = [
    ['the mark the API signed for this value, table and topic', {}, 'trusted'],
    [
      'a mark on a tampered value',
      { value: enc(JSON.stringify({ ...validPin, index: 1 })) },
      /does not match/,
    ],
    [
      'a mark on a value one byte longer',
      { value: enc(`${JSON.stringify(validPin)} `) },
      /does not match/,
    ],
    [
      'a mark for another table',
      { mark: validatedMark('geo', geoTopic, value, key.sign) },
      /mark for table geo/,
    ],
    [
      "another table's signature relabelled for this one",
      { mark: `pin/v2.${validatedMark('geo', topic, value, key.sign).slice('geo/v2.'.length)}` },
      /does not match/,
    ],
    ['its mark checked for another table', { table: 'geo', topic: geoTopic }, /mark for table pin/],
    ["a copy on another pipeline's topic", { topic: otherTopic }, /does not match/],
    [
      'a mark signed with another key',
      { mark: validatedMark('pin', topic, value, otherKey.sign) },
      /does not match/,
    ],
    ['a mark with a truncated signature', { mark: good.slice(0, -1) }, /malformed signature/],
    ['an empty signature', { mark: 'pin/v2.' }, /malformed signature/],
    ['a mark without signature', { mark: 'pin/v2' }, /malformed signature/],
    ['a signature too long', { mark: `${good}A` }, /malformed signature/],
    ['a character outside base64url', { mark: `${good.slice(0, -1)}=` }, /malformed signature/],
    ['the unsigned v1 mark', { mark: 'pin/v1' }, /unknown mark version v1/],
    ['an unknown version', { mark: `pin/v3.${signature}` }, /unknown mark version v3/],
    ['a malformed mark', { mark: 'validated' }, /malformed mark/],
    ['an empty mark', { mark: '' }, /malformed mark/],
    ['a record without mark', { mark: undefined }, /no mark/],
    ['any mark when no key is configured', { verify: undefined }, /no record key configured/],
  ];
  for (const [what, c, expected] of cases) {
    it(`${expected === 'trusted' ? 'trusts' : 'does not trust'} ${what}`, () => {
      const verdict = checkValidatedMark(
        'mark' in c ? c.mark : good,
        c.table ?? 'pin',
        c.topic ?? topic,
        c.value ?? value,
        'verify' in c ? c.verify : key.verify,
      );
      if (expected === 'trusted') assert.deepEqual(verdict, { trusted: true });
      else assert.ok(!verdict.trusted && expected.test(verdict.reason), JSON.stringify(verdict));
    });
  }

  it('verifies in constant time only what decodes to a MAC, and never throws', () => {
    const preamble = markPreamble('pin', topic);
    assert.equal(key.verify(preamble, value, signature), true);
    for (const bad of ['', 'A', signature.slice(0, 42), `${signature}AAAA`, '!'.repeat(43)]) {
      assert.equal(key.verify(preamble, value, bad), false, JSON.stringify(bad));
    }
  });
});

describe('segmentRecords', () => {
  const rec = (offset: number, kind: 'raw' | 'quarantine', day = '2026-11-25'): ClassifiedRecord =>
    kind === 'raw'
      ? { kind, offset, day, line: enc(`r${offset}`) }
      : { kind, offset, day, line: enc(`q${offset}`), reason: 'x' };

  it('splits on kind, on day (a batch crossing midnight) and on gaps; tiles every offset once', () => {
    const records = [
      rec(10, 'raw'),
      rec(11, 'raw'),
      rec(12, 'quarantine'),
      rec(13, 'raw'),
      rec(14, 'raw', '2026-11-26'),
      rec(15, 'raw', '2026-11-26'),
      rec(17, 'raw', '2026-11-26'),
    ];
    const segments = segmentRecords(records);
    assert.deepEqual(
      segments.map((s) => [s.kind, s.day, s.firstOffset, s.lastOffset, s.lines.length]),
      [
        ['raw', '2026-11-25', 10, 11, 2],
        ['quarantine', '2026-11-25', 12, 12, 1],
        ['raw', '2026-11-25', 13, 13, 1],
        ['raw', '2026-11-26', 14, 15, 2],
        ['raw', '2026-11-26', 17, 17, 1],
      ],
    );
    assert.deepEqual(
      segments.flatMap((s) => s.lines),
      records.map((r) => r.line),
    );
  });

  it('returns nothing for nothing', () => {
    assert.deepEqual(segmentRecords([]), []);
  });
});

describe('encodeNdjson', () => {
  it('joins lines with newlines and ends with one', () => {
    assert.equal(
      new TextDecoder().decode(encodeNdjson([enc('{"a":1}'), enc('{"b":"é"}')])),
      '{"a":1}\n{"b":"é"}\n',
    );
    assert.equal(encodeNdjson([]).length, 0);
  });
});

describe('flushDecision', () => {
  const policy = { maxRecords: 100, maxBytes: 1000, rotateIntervalMs: 30_000 };
  const now = 1_000_000;
  const cases: Array<
    [
      string,
      { records: number; bytes: number; oldestTimestamp?: number },
      ReturnType<typeof flushDecision>,
    ]
  > = [
    [
      'an empty batch waits a rotate interval',
      { records: 0, bytes: 0 },
      { flush: false, waitMs: 30_000 },
    ],
    [
      'a full batch by count flushes',
      { records: 100, bytes: 10, oldestTimestamp: now },
      { flush: true },
    ],
    [
      'a full batch by bytes flushes',
      { records: 3, bytes: 1000, oldestTimestamp: now },
      { flush: true },
    ],
    [
      'an old enough partial batch flushes',
      { records: 3, bytes: 10, oldestTimestamp: now - 30_000 },
      { flush: true },
    ],
    [
      'a young partial batch waits for the rest',
      { records: 3, bytes: 10, oldestTimestamp: now - 20_000 },
      { flush: false, waitMs: 10_000 },
    ],
  ];
  for (const [what, batch, expected] of cases) {
    it(what, () => {
      assert.deepEqual(
        flushDecision({ oldestTimestamp: undefined, ...batch }, policy, now),
        expected,
      );
    });
  }
});

describe('parseIngestTopicInput', () => {
  it('fills defaults and derives topic and bucket', () => {
    const r = parseIngestTopicInput({ pipelineId: '0a1b2c3d4e5f', table: 'geo' });
    assert.ok(r.ok);
    assert.equal(r.settings.topic, '0a1b2c3d4e5f.geo');
    assert.equal(r.settings.bucket, 'user-0a1b2c3d4e5f-bucket');
    assert.equal(r.settings.maxRecords, 10_000);
    assert.equal(r.settings.rotateIntervalMs, 30_000);
    assert.deepEqual(r.settings.ledger, {});
  });

  const bad: Array<[unknown, RegExp]> = [
    [{ pipelineId: 'XYZ', table: 'pin' }, /pipelineId: expected 12 lowercase hex/],
    [{ pipelineId: '0a1b2c3d4e5f', table: 'pins' }, /table:/],
    [{ pipelineId: '0a1b2c3d4e5f', table: 'pin', maxRecords: 0 }, /maxRecords:/],
    [{ pipelineId: '0a1b2c3d4e5f', table: 'pin', rotateIntervalMs: 'soon' }, /rotateIntervalMs:/],
    [null, /input:/],
  ];
  for (const [input, reason] of bad) {
    it(`rejects ${JSON.stringify(input)} naming the field`, () => {
      const r = parseIngestTopicInput(input);
      assert.ok(!r.ok && reason.test(r.reason), r.ok ? 'accepted' : r.reason);
    });
  }
});

import assert from 'node:assert/strict';
import {
  classifyRecord,
  encodeNdjson,
  flushDecision,
  parseRawObjectKey,
  quarantineObjectKey,
  rawDayPrefix,
  rawObjectKey,
  rawTopicPrefix,
  segmentRecords,
  utcDay,
  type ClassifiedRecord,
} from '../../src/domain/raw-zone';
import { parseIngestTopicInput } from '../../src/domain/ingest-input';

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

  it('holds a topic under topics/<topic>/, a day under dt=<day>/', () => {
    assert.equal(rawTopicPrefix(topic), 'topics/0a1b2c3d4e5f.pin/');
    assert.equal(rawDayPrefix(topic, '2026-11-25'), 'topics/0a1b2c3d4e5f.pin/dt=2026-11-25/');
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

  // The API once stamped `pinpipe-validated: pin/v1` and the sink trusted it: any producer
  // could set it. No header lets a record skip validation now.
  const stamps: Array<[string, Record<string, string>, string]> = [
    ['the old validated mark', { 'pinpipe-validated': 'pin/v1' }, '{"stamped": "not valid"}'],
    ['a mark for another table', { 'pinpipe-validated': 'geo/v1' }, '{"index": "x"}'],
    ['a mark, spanning lines', { 'pinpipe-validated': 'pin/v1' }, '{"index":\n"x"}'],
  ];
  for (const [what, headers, value] of stamps) {
    it(`validates in full a record carrying ${what}`, () => {
      const r = classifyRecord('pin', topic, 0, {
        offset: 1,
        timestamp: ts,
        value: enc(value),
        headers,
      });
      assert.equal(r.kind, 'quarantine');
    });
  }

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

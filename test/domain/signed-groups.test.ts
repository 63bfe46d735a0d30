import assert from 'node:assert/strict';
import {
  type BatchEntry,
  cutRun,
  segmentBody,
  segmentRecords,
  type SignedRun,
} from '../../src/domain/raw-zone';
import {
  classifyBatch,
  formatSignatureHeader,
  groupLines,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signedGroups,
  type ClaimedRange,
  type VerifyRanges,
} from '../../src/domain/signed-groups';

const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const topic = '0a1b2c3d4e5f.pin';
const ts = Date.parse('2026-11-25T12:00:00Z');
const TAG = 'AAAAAAAAAAAAAAAAAAAAAA'; // 16 bytes, base64url

const header = (count: number, tag = TAG) => ({
  [SIGNATURE_HEADER]: formatSignatureHeader({ count, tag }),
});

describe('parseSignatureHeader', () => {
  const cases: Array<[string | undefined, { count: number; tag: string } | undefined]> = [
    [`v1.3.${TAG}`, { count: 3, tag: TAG }],
    [`v1.1000000.${TAG}`, { count: 1_000_000, tag: TAG }],
    [undefined, undefined],
    ['', undefined],
    [`v2.3.${TAG}`, undefined],
    [`v1.0.${TAG}`, undefined],
    [`v1.-1.${TAG}`, undefined],
    [`v1.03.${TAG}`, undefined],
    [`v1.1000001.${TAG}`, undefined],
    [`v1.99999999.${TAG}`, undefined],
    ['v1.3.short', undefined],
    [`v1.3.${TAG}=`, undefined],
    [`v1.3.${TAG} `, undefined],
    [`v1.3.${TAG}\n`, undefined],
  ];
  for (const [value, want] of cases) {
    it(`${JSON.stringify(value)} → ${JSON.stringify(want)}`, () => {
      assert.deepEqual(parseSignatureHeader(value), want);
    });
  }
});

describe('signedGroups', () => {
  const r = (headers?: Record<string, string>, value: Uint8Array | null = enc('{}')) => ({
    value,
    ...(headers ? { headers } : {}),
  });
  const cases: Array<[string, ReturnType<typeof r>[], Array<[number, number]>]> = [
    ['no headers', [r(), r()], []],
    ['one whole group', [r(header(3)), r(), r()], [[0, 3]]],
    ['a group of one', [r(), r(header(1)), r()], [[1, 1]]],
    [
      'two groups back to back',
      [r(header(2)), r(), r(header(1))],
      [
        [0, 2],
        [2, 1],
      ],
    ],
    ['a group cut by the end of the read', [r(header(3)), r()], []],
    ['a claim inside a claim: the inner one stands', [r(header(3)), r(header(2)), r()], [[1, 2]]],
    ['a null value inside', [r(header(2)), r(undefined, null)], []],
    ['a null value leading', [r(header(1), null)], []],
    ['an unreadable header', [r({ [SIGNATURE_HEADER]: 'v1.2.x' }), r()], []],
    ['another header does not break a group', [r(header(2)), r({ other: 'x' })], [[0, 2]]],
    [
      'an unreadable header inside breaks the group',
      [r(header(2)), r({ [SIGNATURE_HEADER]: 'junk' })],
      [],
    ],
  ];
  for (const [what, records, want] of cases) {
    it(what, () => {
      assert.deepEqual(
        signedGroups(records).map((g) => [g.start, g.count]),
        want,
      );
    });
  }
});

describe('classifyBatch', () => {
  const validPin = JSON.stringify({
    index: 1,
    unique_id: 'fbe53c66-3442-4773-b19e-d3ec6f54dddf',
    title: 't',
    description: 'd',
    poster_name: 'p',
    follower_count: '12k',
    tag_list: 'a,b',
    is_image_or_video: 'image',
    image_src: 'https://i.pinimg.com/x.jpg',
    downloaded: 1,
    save_location: 'Local save in /data/art',
    category: 'art',
  });
  // Signed and trusted, so never validated: the sink would quarantine it otherwise.
  const notAPin = '{"trusted":"because signed"}';
  /** A stand-in MAC: a range verifies when its tag is TAG and its bytes are what `good` says. */
  const verifyEach =
    (good: (range: ClaimedRange) => string): VerifyRanges =>
    (lines, ranges) =>
      Promise.resolve({
        lines,
        verdicts: ranges.map(
          (r) => r.tag === TAG && text(lines.subarray(r.at, r.at + r.size)) === good(r),
        ),
      });
  const verifier = (good: string) => verifyEach(() => good);
  const rec = (offset: number, value: string, headers?: Record<string, string>) => ({
    offset,
    timestamp: ts,
    value: enc(value),
    ...(headers ? { headers } : {}),
  });

  /** Each entry as [kind, first offset, last offset, text of its lines or reason]. */
  const shown = (out: BatchEntry[]) =>
    out.map((e) =>
      e.kind === 'signed'
        ? [e.kind, e.offset, e.lastOffset, text(e.body), e.count]
        : [e.kind, e.offset, e.offset, e.kind === 'raw' ? text(e.line) : e.reason, 1],
    );

  it('writes a verified group as one signed run, without validating it', async () => {
    const records = [rec(0, notAPin, header(2)), rec(1, validPin), rec(2, notAPin)];
    const out = await classifyBatch(
      'pin',
      topic,
      0,
      records,
      verifier(`${notAPin}\n${validPin}\n`),
    );
    assert.deepEqual(shown(out).slice(0, 1), [['signed', 0, 1, `${notAPin}\n${validPin}\n`, 2]]);
    assert.equal(out[1]!.kind, 'quarantine');
    const [segment] = segmentRecords(out);
    assert.deepEqual(segmentBody(segment!).count, 2);
    assert.equal(segmentBody(segment!).body, (out[0] as SignedRun).body, 'written as it lies');
  });

  it('joins consecutive groups of one day into one run over one buffer', async () => {
    const records = [rec(0, '1', header(2)), rec(1, '2'), rec(2, '3', header(1)), rec(3, '4')];
    const verify = verifyEach((g) => (g.start === 0 ? '1\n2\n' : '3\n'));
    const out = await classifyBatch('pin', topic, 0, records, verify);
    assert.deepEqual(shown(out).slice(0, 1), [['signed', 0, 2, '1\n2\n3\n', 3]]);
    assert.equal(out[1]!.kind, 'quarantine');
  });

  it('splits a run where the UTC day changes or an offset is skipped', async () => {
    const at = (offset: number, value: string, iso: string, h?: Record<string, string>) => ({
      ...rec(offset, value, h),
      timestamp: Date.parse(iso),
    });
    const records = [
      at(0, '1', '2026-11-25T23:59:59Z', header(4)),
      at(1, '2', '2026-11-26T00:00:00Z'),
      at(2, '3', '2026-11-26T00:00:01Z'),
      at(5, '4', '2026-11-26T00:00:02Z'), // a compacted or aborted gap
    ];
    const out = await classifyBatch('pin', topic, 0, records, verifier('1\n2\n3\n4\n'));
    assert.deepEqual(shown(out), [
      ['signed', 0, 0, '1\n', 1],
      ['signed', 1, 2, '2\n3\n', 2],
      ['signed', 5, 5, '4\n', 1],
    ]);
    assert.deepEqual(
      out.map((e) => e.kind === 'signed' && e.day),
      ['2026-11-25', '2026-11-26', '2026-11-26'],
    );
  });

  it('cuts a run at an offset inside it (an adopted object ended there)', async () => {
    const records = [rec(3, 'a', header(3)), rec(4, 'bb'), rec(5, 'ccc')];
    const [run] = await classifyBatch('pin', topic, 0, records, verifier('a\nbb\nccc\n'));
    assert.equal(run!.kind, 'signed');
    const cut = cutRun(run as SignedRun, records, 5);
    assert.deepEqual([cut.offset, cut.lastOffset, cut.count, text(cut.body)], [5, 5, 1, 'ccc\n']);
    assert.equal(cutRun(run as SignedRun, records, 3), run);
    assert.throws(() => cutRun(run as SignedRun, records, 6), RangeError);
  });

  const refused: Array<[string, ReturnType<typeof rec>[], VerifyRanges | undefined]> = [
    ['no key (no verifier)', [rec(0, notAPin, header(1))], undefined],
    ['a tag that does not verify', [rec(0, notAPin, header(1, 'B'.repeat(22)))], verifier('')],
    ['lines that differ from what was signed', [rec(0, notAPin, header(1))], verifier('{}\n')],
    ['a group cut by the read', [rec(0, notAPin, header(2))], verifier(`${notAPin}\n`)],
  ];
  for (const [what, records, verify] of refused) {
    it(`validates in full: ${what}`, async () => {
      const out = await classifyBatch('pin', topic, 0, records, verify);
      assert.equal(out[0]!.kind, 'quarantine');
      assert.match(out[0]!.kind === 'quarantine' ? out[0]!.reason : '', /^schema/);
    });
  }

  it('validates the records around a verified group, in order', async () => {
    const records = [rec(7, validPin), rec(8, notAPin, header(1)), rec(9, 'nope')];
    const out = await classifyBatch('pin', topic, 0, records, verifier(`${notAPin}\n`));
    assert.deepEqual(
      out.map((c) => [c.offset, c.kind]),
      [
        [7, 'raw'],
        [8, 'signed'],
        [9, 'quarantine'],
      ],
    );
  });
});

describe('groupLines', () => {
  it('frames each value with a newline', () => {
    const lines = groupLines([{ value: enc('a') }, { value: enc('bc') }, { value: enc('') }], 0, 3);
    assert.equal(text(lines), 'a\nbc\n\n');
  });
});

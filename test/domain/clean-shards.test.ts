import assert from 'node:assert/strict';
import {
  IN_PLACE_MAX_BYTES,
  planShards,
  RangeCutter,
  readsInPlace,
  streamStart,
  type ShardRange,
} from '../../src/domain/clean-shards';
import { createRng, seedToUint32 } from '../../src/domain/prng';

/** What a range's reader keeps, fed `bytes` from streamStart(range) in chunks of `chunk` bytes. */
function cut(bytes: Uint8Array, range: ShardRange, chunk: number): { kept: string; at?: number } {
  const cutter = new RangeCutter(range);
  const parts: Uint8Array[] = [];
  for (let p = streamStart(range); p < bytes.length && !cutter.done; p += chunk) {
    parts.push(cutter.push(bytes.subarray(p, Math.min(bytes.length, p + chunk))));
  }
  return {
    kept: Buffer.concat(parts).toString('latin1'),
    ...(cutter.firstLineAt !== undefined ? { at: cutter.firstLineAt } : {}),
  };
}

describe('planShards', () => {
  const cases: {
    name: string;
    sizes: number[];
    limits: { maxShardBytes: number; maxObjectsPerShard: number };
    expected: [number, number, number][][];
  }[] = [
    {
      name: 'no objects',
      sizes: [],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 5 },
      expected: [],
    },
    {
      name: 'packs small objects up to the byte bound',
      sizes: [4, 4, 4],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 5 },
      expected: [
        [
          [0, 0, 4],
          [1, 0, 4],
        ],
        [[2, 0, 4]],
      ],
    },
    {
      name: 'packs up to the object bound',
      sizes: [1, 1, 1],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 2 },
      expected: [
        [
          [0, 0, 1],
          [1, 0, 1],
        ],
        [[2, 0, 1]],
      ],
    },
    {
      name: 'splits an object larger than a shard into equal ranges',
      sizes: [2, 25, 3],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 5 },
      expected: [[[0, 0, 2]], [[1, 0, 9]], [[1, 9, 18]], [[1, 18, 25]], [[2, 0, 3]]],
    },
    {
      name: 'an object of exactly the bound is one range',
      sizes: [10],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 5 },
      expected: [[[0, 0, 10]]],
    },
    {
      name: 'empty objects still count as objects',
      sizes: [0, 0, 0],
      limits: { maxShardBytes: 10, maxObjectsPerShard: 2 },
      expected: [
        [
          [0, 0, 0],
          [1, 0, 0],
        ],
        [[2, 0, 0]],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const objects = c.sizes.map((size, i) => ({ key: `k${i}`, size }));
      const shards = planShards(objects, c.limits);
      assert.deepEqual(
        shards.map((s) => s.map((r) => [Number(r.key.slice(1)), r.start, r.end])),
        c.expected,
      );
    });
  }

  it('refuses limits that are not positive', () => {
    assert.throws(() => planShards([], { maxShardBytes: 0, maxObjectsPerShard: 1 }), /positive/);
  });
});

describe('RangeCutter: every line belongs to exactly one range', () => {
  it('a fixed example', () => {
    const bytes = Buffer.from('aaa\nbb\ncccc\nd\n', 'latin1');
    // Lines start at 0, 4, 7, 12.
    assert.deepEqual(cut(bytes, { key: 'k', start: 0, end: 5 }, 3), { kept: 'aaa\nbb\n', at: 0 });
    assert.deepEqual(cut(bytes, { key: 'k', start: 5, end: 12 }, 3), { kept: 'cccc\n', at: 7 });
    assert.deepEqual(cut(bytes, { key: 'k', start: 12, end: 14 }, 3), { kept: 'd\n', at: 12 });
    // A range holding no line start keeps nothing.
    assert.deepEqual(cut(bytes, { key: 'k', start: 8, end: 11 }, 1), { kept: '' });
    // A range that begins exactly at a line start owns that line.
    assert.deepEqual(cut(bytes, { key: 'k', start: 4, end: 5 }, 100), { kept: 'bb\n', at: 4 });
  });

  it('random objects, random splits, random chunk sizes (500 cases)', () => {
    const rnd = createRng(seedToUint32('range-cutter'));
    for (let n = 0; n < 500; n++) {
      const lines: string[] = [];
      const count = rnd.int(0, 30);
      for (let i = 0; i < count; i++) lines.push('x'.repeat(rnd.int(0, 12)));
      const text = lines.join('\n') + (rnd.int(0, 1) === 1 && count > 0 ? '\n' : '');
      const bytes = Buffer.from(text, 'latin1');
      const maxShardBytes = rnd.int(1, 40);
      const shards = planShards([{ key: 'k', size: bytes.length }], {
        maxShardBytes,
        maxObjectsPerShard: 9,
      });
      const kept = shards.flat().map((r) => cut(bytes, r, rnd.int(1, 17)).kept);
      assert.equal(kept.join(''), text, `case ${n}: ranges ${JSON.stringify(shards)}`);
    }
  });
});

describe('readsInPlace', () => {
  const cases: [name: string, range: ShardRange, size: number | undefined, expected: boolean][] = [
    ['a whole small object', { key: 'k', start: 0, end: 100 }, 100, true],
    [
      'a whole object at the limit',
      { key: 'k', start: 0, end: IN_PLACE_MAX_BYTES },
      IN_PLACE_MAX_BYTES,
      true,
    ],
    [
      'a whole object over the limit',
      { key: 'k', start: 0, end: IN_PLACE_MAX_BYTES + 1 },
      IN_PLACE_MAX_BYTES + 1,
      false,
    ],
    ['the first piece of a split object', { key: 'k', start: 0, end: 50 }, 100, false],
    ['a later piece', { key: 'k', start: 50, end: 100 }, 100, false],
    ['an object the plan does not know', { key: 'k', start: 0, end: 100 }, undefined, false],
    ['an empty object', { key: 'k', start: 0, end: 0 }, 0, true],
  ];
  for (const [name, range, size, expected] of cases) {
    it(`${name}: ${expected ? 'in place' : 'downloaded'}`, () => {
      assert.equal(readsInPlace(range, size), expected);
    });
  }
});

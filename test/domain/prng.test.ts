import assert from 'node:assert/strict';
import { createRng, hashWords, mix32, seedToUint32 } from '../../src/domain/prng';

describe('domain/prng', () => {
  it('is deterministic for the same seed words', () => {
    const a = createRng(1, 2, 3);
    const b = createRng(1, 2, 3);
    const first = Array.from({ length: 100 }, () => a.nextUint32());
    assert.deepEqual(
      Array.from({ length: 100 }, () => b.nextUint32()),
      first,
    );
    assert.ok(first.every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32));
  });

  it('diverges for neighbouring seeds', () => {
    const a = createRng(7, 0);
    const b = createRng(7, 1);
    const same = Array.from({ length: 64 }, () => a.nextUint32() === b.nextUint32()).filter(
      Boolean,
    );
    assert.equal(same.length, 0);
  });

  it('draws uniformly enough in [0, 1) and within int bounds', () => {
    const rng = createRng(99);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i += 1) {
      const u = rng.next();
      assert.ok(u >= 0 && u < 1);
      const bucket = Math.floor(u * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const count of buckets) assert.ok(Math.abs(count - 10_000) < 500, String(count));
    const ints = new Set(Array.from({ length: 10_000 }, () => rng.int(18, 80)));
    assert.equal(Math.min(...ints), 18);
    assert.equal(Math.max(...ints), 80);
    assert.equal(ints.size, 63);
  });

  it('hashes seeds of both kinds stably and distinctly', () => {
    assert.equal(seedToUint32(42), 42);
    assert.notEqual(seedToUint32('42'), seedToUint32(42));
    assert.equal(seedToUint32('demo'), seedToUint32('demo'));
    assert.notEqual(seedToUint32(2 ** 32 + 5), seedToUint32(5));
    assert.notEqual(hashWords(1, 2), hashWords(2, 1));
    assert.equal(mix32(0), 0);
    assert.notEqual(mix32(1), 1);
  });

  it('refuses to pick from an empty list', () => {
    assert.throws(() => createRng(1).pick([]), /empty list/);
  });
});

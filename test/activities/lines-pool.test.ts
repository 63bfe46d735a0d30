import assert from 'node:assert/strict';
import { LinesPool } from '../../src/activities/lines-pool';

describe('activities/lines-pool', () => {
  it('gives a view of the size asked, at the start of a buffer of at least the minimum', () => {
    const pool = new LinesPool(2, 1024);
    const small = pool.take(10);
    assert.deepEqual([small.byteOffset, small.byteLength, small.buffer.byteLength], [0, 10, 1024]);
    const large = pool.take(5000);
    assert.deepEqual([large.byteLength, large.buffer.byteLength], [5000, 5000]);
  });

  it('hands a buffer given back to the next batch that fits in it, to one taker at a time', () => {
    const pool = new LinesPool(2, 1024);
    const first = pool.take(100);
    pool.give(first.buffer);
    pool.give(first.buffer); // twice: still one free buffer
    const again = pool.take(1000);
    assert.equal(again.buffer, first.buffer);
    assert.notEqual(pool.take(1000).buffer, first.buffer, 'it is not free while taken');
    const big = pool.take(2000);
    pool.give(again.buffer);
    assert.notEqual(pool.take(2000).buffer, again.buffer, 'too small for 2000 bytes');
    pool.give(big.buffer);
    assert.equal(pool.take(1500).buffer, big.buffer);
  });

  it('keeps at most `keep` buffers, and ignores moved (detached) ones', () => {
    const pool = new LinesPool(2, 16);
    const taken = [pool.take(16), pool.take(16), pool.take(16)];
    for (const t of taken) pool.give(t.buffer);
    const kept = [pool.take(16).buffer, pool.take(16).buffer, pool.take(16).buffer];
    assert.equal(kept.filter((b) => taken.some((t) => t.buffer === b)).length, 2);
    const moved = pool.take(16).buffer as ArrayBuffer;
    structuredClone(moved, { transfer: [moved] });
    pool.give(moved);
    assert.notEqual(pool.take(16).buffer, moved);
  });
});

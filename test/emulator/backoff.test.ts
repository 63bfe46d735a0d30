import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/emulator/backoff';

describe('emulator/backoff', () => {
  const policy = { baseMs: 200, capMs: 5_000 };

  it('doubles the ceiling per attempt and draws from its upper half', () => {
    assert.equal(
      backoffDelay(1, () => 0, policy),
      100,
    );
    assert.equal(
      backoffDelay(1, () => 1, policy),
      200,
    );
    assert.equal(
      backoffDelay(2, () => 0, policy),
      200,
    );
    assert.equal(
      backoffDelay(3, () => 0.5, policy),
      600,
    );
  });

  it('never exceeds the cap', () => {
    for (const attempt of [6, 10, 50]) {
      assert.equal(
        backoffDelay(attempt, () => 1, policy),
        5_000,
      );
      assert.equal(
        backoffDelay(attempt, () => 0, policy),
        2_500,
      );
    }
  });

  it("takes the server's Retry-After as a floor, up to 30 s", () => {
    assert.equal(
      backoffDelay(1, () => 0, policy, 2_000),
      2_000,
    );
    assert.equal(
      backoffDelay(1, () => 0, policy, 10),
      100,
    );
    assert.equal(
      backoffDelay(1, () => 0, policy, 3_600_000),
      30_000,
    );
  });
});

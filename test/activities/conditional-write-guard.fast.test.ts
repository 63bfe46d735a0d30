import assert from 'node:assert/strict';
import {
  CONDITIONAL_WRITES_UNPROVEN,
  CONDITIONAL_WRITES_UNSUPPORTED,
  conditionalWriteGuard,
} from '../../src/activities/conditional-write-guard';
import { failureOf } from '../fakes/activity-environment';
import { MemoryObjectStore } from '../fakes/memory-object-store';

describe('activities/conditional-write-guard (fast)', () => {
  it('probes each bucket once, however many writes ask at the same time', async () => {
    const store = new MemoryObjectStore({ buckets: ['a', 'b'] });
    const guard = conditionalWriteGuard(store);
    await Promise.all([guard('a'), guard('a'), guard('a'), guard('b')]);
    await guard('a');
    assert.equal(store.faults.count('probeConditionalWrites'), 2);
  });

  it('remembers a server that does not honour the header: refused (retryable) without asking again', async () => {
    const store = new MemoryObjectStore({ buckets: ['a'], conditionalWrites: 'ignored' });
    const guard = conditionalWriteGuard(store);
    for (let i = 0; i < 2; i++) {
      const failure = await failureOf(guard('a'));
      assert.equal(failure.type, CONDITIONAL_WRITES_UNSUPPORTED);
      assert.equal(failure.nonRetryable, false);
      assert.match(failure.message, /ignores If-None-Match/);
    }
    assert.equal(store.faults.count('probeConditionalWrites'), 1);
  });

  it('asks again after a probe that got no verdict', async () => {
    const store = new MemoryObjectStore({ buckets: ['a'], conditionalWrites: 'unreachable' });
    const guard = conditionalWriteGuard(store);
    const failure = await failureOf(guard('a'));
    assert.equal(failure.type, CONDITIONAL_WRITES_UNPROVEN);
    assert.equal(failure.nonRetryable, false);
    store.conditionalWrites = 'supported';
    await guard('a');
    assert.equal(store.faults.count('probeConditionalWrites'), 2);
  });
});

import assert from 'node:assert/strict';
import { exitCodeFor, formatProgress, formatSummary } from '../../src/emulator/report';
import type { EmulatorSummary } from '../../src/emulator/run-emulator';

const summary: EmulatorSummary = {
  outcome: 'completed',
  url: 'http://127.0.0.1:8082',
  pipelineId: '5eedcafe0001',
  seed: 42,
  count: 10,
  events: 10,
  sent: 30,
  acknowledged: 29,
  rejected: 1,
  retried: 2,
  failed: 0,
  requests: 32,
  errors: 3,
  durationMs: 2000,
  eventsPerSecond: 5,
  recordsPerSecond: 14.5,
  topErrors: [{ message: 'rejected: error_code 1: index: missing', count: 1 }],
};

describe('emulator/report', () => {
  it('exit code: 0 when all records were answered, 1 on failures or abort, 130 when interrupted', () => {
    assert.equal(exitCodeFor(summary), 0);
    assert.equal(exitCodeFor({ ...summary, failed: 1 }), 1);
    assert.equal(exitCodeFor({ ...summary, outcome: 'aborted' }), 1);
    assert.equal(exitCodeFor({ ...summary, outcome: 'interrupted' }), 130);
  });

  it('the summary names every count, the duration, the rate and the top errors', () => {
    const text = formatSummary(summary);
    assert.match(text, /^pinpipe emulate: completed\n/);
    assert.match(text, /seed 42/);
    for (const [label, value] of [
      ['records sent', '30'],
      ['acknowledged', '29'],
      ['rejected', '1'],
      ['retried', '2'],
      ['failed', '0'],
    ]) {
      assert.match(text, new RegExp(`  ${label} +${value}\\n`));
    }
    assert.match(text, /duration +2\.00 s/);
    assert.match(text, /rate +5\.0 events\/s \(14\.5 records\/s acknowledged\)/);
    assert.match(text, /1 × rejected: error_code 1: index: missing/);
  });

  it('the progress line has a bar, the counts and the rate', () => {
    const line = formatProgress({ ...summary, events: 5 }, 10, 1000, 10);
    assert.equal(
      line,
      '[#####.....]  50% 5/10 events | sent 30 acked 29 rejected 1 errors 3 failed 0 | 5.0 events/s',
    );
  });
});

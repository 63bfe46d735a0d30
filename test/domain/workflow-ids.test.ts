import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { topicFor } from '../../src/domain/tables';
import {
  ingestGroupId,
  ingestWorkflowId,
  nightlyRunId,
  nightlyScheduleId,
  planWorkflowId,
  provisionWorkflowId,
  teardownWorkflowId,
} from '../../src/domain/workflow-ids';

// The ids the README's `temporal workflow ...` examples use: renaming one breaks them.
describe('workflow ids', () => {
  const id = '5eedcafe0001';
  const cases: [string, string, string][] = [
    ['ingestion of a table', ingestWorkflowId(id, 'pin'), 'ingest-5eedcafe0001-pin'],
    ['the nightly schedule', nightlyScheduleId(id), 'nightly-5eedcafe0001'],
    ['a nightly run', nightlyRunId(id, '2026-11-25'), 'nightly-5eedcafe0001-2026-11-25'],
    ['provisioning', provisionWorkflowId(id), 'provision-5eedcafe0001'],
    ['a plan', planWorkflowId(id), 'plan-5eedcafe0001'],
    ['teardown', teardownWorkflowId(id), 'teardown-5eedcafe0001'],
  ];
  for (const [name, actual, expected] of cases) {
    it(name, () => assert.equal(actual, expected));
  }
  it("ingestion's Kafka group, which the aws IAM policy grants by its prefix", () =>
    assert.equal(ingestGroupId(topicFor(id, 'pin')), 'pinpipe-sink-5eedcafe0001.pin'));
  it('every one of them appears in the README', () => {
    const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
    for (const [, , expected] of cases.filter(([n]) => n !== 'a nightly run')) {
      assert.ok(readme.includes(expected), `${expected} in README.md`);
    }
  });
});

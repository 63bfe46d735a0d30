import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal';

/**
 * Determinism guard: every saved history must replay against the current workflow code.
 * A change that alters the commands a workflow issues for the same history fails here, in CI,
 * before it can break running workflows. Capture new ones with
 * `temporal workflow show -w <workflowId> -o json > test/fixtures/histories/<name>.json`.
 */
describe('replay of saved workflow histories', function () {
  this.timeout(60_000);
  const dir = path.resolve(__dirname, '../fixtures/histories');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has histories to replay', () => {
    assert.ok(files.includes('stack-probe.json'));
    assert.ok(files.includes('ingest-topic-continued-as-new.json'));
    assert.ok(files.includes('ingest-topic-continued-as-new-group-commit.json'));
    assert.ok(files.includes('nightly-batch.json'));
    assert.ok(files.includes('clean-table.json'));
    assert.ok(files.includes('provision-pipeline-corrected.json'));
    assert.ok(files.includes('provision-pipeline-aborted.json'));
    assert.ok(files.includes('teardown-pipeline-keep-data.json'));
    assert.ok(files.includes('teardown-pipeline-refusals.json'));
    assert.ok(files.includes('teardown-pipeline-adopted.json'));
    assert.ok(files.includes('provision-pipeline-aws.json'));
    assert.ok(files.includes('provision-pipeline-aws-cluster-wait.json'));
    assert.ok(files.includes('teardown-pipeline-aws.json'));
  });

  for (const file of files) {
    it(`replays ${file} without nondeterminism`, async () => {
      // A fixture may name its workflow id (workflows that derive child ids from their own).
      const { workflowId, ...history } = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
        workflowId?: string;
      };
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle() },
        history,
        workflowId ?? file,
      );
    });
  }
});

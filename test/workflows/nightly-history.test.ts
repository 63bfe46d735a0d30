import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { createNightlyActivities } from '../../src/activities/nightly-activities';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { drawEvents } from '../../src/domain/generator';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { bucketFor, TABLES, topicFor, type Table } from '../../src/domain/tables';
import { nightlyBatch } from '../../src/workflows/nightly-batch';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { stackConfig } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

/**
 * Bounded histories: a day of 50,000 tiny raw objects. The list of keys travels as an object in
 * S3 (the plan), never through a workflow's history, so every nightly history stays under 1 MB
 * and holds no raw key at all.
 */
describe('nightly histories at 50,000 raw objects a day', function () {
  this.timeout(600_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let scratch: string;
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const day = '2026-11-23';
  const objects: Record<Table, number> = { pin: 20_000, geo: 15_000, user: 15_000 };

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-nightly-history-'));
    await adapters.store.ensureBucket(bucket);
    const events = [...drawEvents({ seed: 'nightly-history', count: 1_000 })];
    const puts: (() => Promise<unknown>)[] = [];
    for (const table of TABLES) {
      const topic = topicFor(pipelineId, table);
      for (let o = 0; o < objects[table]; o++) {
        const event = events[o % events.length]!;
        puts.push(() =>
          adapters.store.put({
            bucket,
            key: rawObjectKey({ topic, partition: o % 4, startOffset: o, day }),
            body: `${JSON.stringify(event[table])}\n`,
          }),
        );
      }
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < puts.length) await puts[next++]!();
      }),
    );
  });
  after(async () => {
    await adapters?.close();
    await env?.teardown();
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps every nightly workflow history under 1 MB, with no raw key in it', async () => {
    const workflowId = `nightly-${pipelineId}-${day}`;
    const result = await withTestWorker(
      env,
      createNightlyActivities({
        store: adapters.store,
        scratchDir: scratch,
        duckdb: duckDbS3OptionsFrom(stackConfig()),
      }),
      (taskQueue) =>
        env.client.workflow.execute(nightlyBatch, {
          taskQueue,
          workflowId,
          args: [{ pipelineId, date: day }],
        }),
    );
    for (const table of TABLES) {
      assert.equal(result.tables[table]?.counts.rawRecords, objects[table]);
      assert.equal(result.tables[table]?.inputs, objects[table]);
    }
    for (const id of [workflowId, ...TABLES.map((t) => `${workflowId}-${t}`)]) {
      const json = historyToJSON(await env.client.workflow.getHandle(id).fetchHistory());
      const bytes = Buffer.byteLength(json);
      assert.ok(bytes < 1024 * 1024, `${id}: history of ${bytes} bytes`);
      assert.ok(!json.includes('partition='), `${id}: no raw-zone key in the history`);
      console.log(`      ${id.replace(pipelineId, '<id>')}: ${bytes} bytes of history`);
    }
  });
});

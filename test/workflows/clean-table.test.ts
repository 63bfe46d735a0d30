import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { createNightlyActivities } from '../../src/activities/nightly-activities';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { drawEvents } from '../../src/domain/generator';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { bucketFor, topicFor } from '../../src/domain/tables';
import type { ObjectStore } from '../../src/ports/object-store';
import { cleanTable, type CleaningOptions } from '../../src/workflows/clean-table';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { stackConfig } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

/**
 * cleanTable against the real S3 and a real Temporal server, with a store that misbehaves on
 * purpose: a raw object that streams for longer than the heartbeat timeout must not livelock the
 * shard (it heartbeats on a clock), and a shard that fails at the same point every time must fail
 * the table after bounded attempts, naming the table, the object and the byte position.
 */
describe('cleanTable: progress that cannot livelock, failures that say where', function () {
  this.timeout(240_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let scratch: string;
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const day = '2026-11-22';
  const topic = topicFor(pipelineId, 'geo');
  const slowKey = rawObjectKey({ topic, partition: 0, startOffset: 0, day });
  const otherKey = rawObjectKey({ topic, partition: 1, startOffset: 0, day });

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-clean-table-'));
    await adapters.store.ensureBucket(bucket);
    const events = [...drawEvents({ seed: 'clean-table', count: 4_000 })];
    for (const [key, slice] of [
      [slowKey, events.slice(0, 2_000)],
      [otherKey, events.slice(2_000)],
    ] as const) {
      await adapters.store.put({
        bucket,
        key,
        body: `${slice.map((e) => JSON.stringify(e.geo)).join('\n')}\n`,
      });
    }
  });
  after(async () => {
    await adapters?.close();
    await env?.teardown();
    await rm(scratch, { recursive: true, force: true });
  });

  /** The real store, with getStream of one key replaced. */
  function storeWith(getStream: ObjectStore['getStream']): ObjectStore {
    const real = adapters.store;
    return new Proxy(real, {
      get(target, prop, receiver): unknown {
        if (prop === 'getStream') return getStream;
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  }

  const activities = (store: ObjectStore) =>
    createNightlyActivities({
      store,
      scratchDir: scratch,
      duckdb: duckDbS3OptionsFrom(stackConfig()),
    });
  const start = (
    taskQueue: string,
    id: string,
    cleaning: CleaningOptions = { maxObjectsPerShard: 1 },
  ) =>
    env.client.workflow.start(cleanTable, {
      taskQueue,
      workflowId: id,
      args: [
        {
          pipelineId,
          bucket,
          table: 'geo',
          date: day,
          run: id.slice(-12),
          cleaning,
        },
      ],
    });
  const run = (store: ObjectStore, id: string) =>
    withTestWorker(env, activities(store), async (taskQueue) =>
      (await start(taskQueue, id)).result(),
    );

  it('streams an object for longer than the heartbeat timeout, and finishes on attempt 1', async () => {
    // The slow object trickles in for ~14 s, over the shard profile's 10 s heartbeat timeout.
    const slow = storeWith(async (ref) => {
      const body = await adapters.store.getStream(ref);
      if (!body || ref.key !== slowKey) return body;
      return (async function* () {
        for await (const chunk of body) {
          for (let i = 0; i < chunk.length; i += 4 * 1024) {
            await new Promise((r) => setTimeout(r, 250));
            yield chunk.subarray(i, i + 4 * 1024);
          }
        }
      })();
    });
    const id = `clean-slow-${randomUUID().replace(/-/g, '')}`;
    const result = await run(slow, id);
    assert.equal(result.counts.rawRecords, 4_000);
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    const attempts = (history.events ?? [])
      .map((e) => e.activityTaskStartedEventAttributes?.attempt)
      .filter((a): a is number => a !== undefined && a !== null);
    assert.ok(attempts.length > 0);
    assert.deepEqual([...new Set(attempts)], [1], 'no activity was retried (no heartbeat timeout)');
  });

  it('fails the table after bounded attempts, naming table, object and byte position', async () => {
    const broken = storeWith(async (ref) => {
      if (ref.key === otherKey) throw new Error('connection reset by peer');
      return adapters.store.getStream(ref);
    });
    const id = `clean-broken-${randomUUID().replace(/-/g, '')}`;
    // The queries below replay the closed workflow: keep the worker until they are done.
    await withTestWorker(env, activities(broken), async (taskQueue) => {
      const handle = await start(taskQueue, id);
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        const message = String(err.cause?.message);
        assert.match(message, /^geo 2026-11-22: cleaning failed: shard 2 of 2: /);
        assert.ok(message.includes(`${otherKey} from byte 0 while downloading: `), message);
        assert.match(message, /connection reset by peer \(gave up after 5 attempts\)$/);
        return true;
      });
      const described = await handle.describe();
      assert.deepEqual(described.searchAttributes['PipelineStatus'], ['failed']);
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(String(meta.currentDetails), /\*\*failed\*\*: geo 2026-11-22: cleaning failed/);
    });
  });

  it('continues as new between shards and carries the plan and the counts', async () => {
    const id = `clean-can-${randomUUID().replace(/-/g, '')}`;
    const result = await withTestWorker(env, activities(adapters.store), async (taskQueue) =>
      (await start(taskQueue, id, { maxObjectsPerShard: 1, shardsPerRun: 1 })).result(),
    );
    assert.equal(result.shards, 2);
    assert.equal(result.inputs, 2);
    assert.equal(result.counts.rawRecords, 4_000);
    const runs = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${id}'` })) {
      runs.push(w.runId);
    }
    assert.equal(runs.length, 2, 'one shard per run: two runs');
  });
});

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { readCleanParquet } from '../../src/analytics/parquet-writer';
import { createIngestServer } from '../../src/api/server';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { createNightlyActivities } from '../../src/activities/nightly-activities';
import { createSinkActivities } from '../../src/activities/sink-activities';
import { cleanManifestKey, parseCleanManifest } from '../../src/domain/clean-zone';
import { DEFAULT_GATES } from '../../src/domain/quality-gates';
import { utcDay } from '../../src/domain/raw-zone';
import { SEED_ROWS } from '../../src/domain/seed-fixture';
import { bucketFor, TABLES, topicFor, type Table } from '../../src/domain/tables';
import { ingestTopic, progressQuery, stopSignal } from '../../src/workflows/ingest-topic';
import { nightlyBatch } from '../../src/workflows/nightly-batch';
import { backfill } from '../../src/workflows/backfill';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { stackConfig } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

/**
 * The nightly batch on the real stack: the seed fixture rows go in through the ingest API, are
 * ingested into the raw zone, cleaned into Parquet and read back; reruns replace the day; a
 * failing gate stops the analytics while the other tables commit.
 */
describe('nightlyBatch workflow (API → Kafka → raw zone → clean zone → analytics)', function () {
  this.timeout(240_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let scratch: string;
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const day = utcDay(Date.now());

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-nightly-test-'));
    await adapters.kafka.ensureTopics(
      TABLES.map((t) => ({ name: topicFor(pipelineId, t), partitions: 2 })),
    );

    // Post every fixture event through the REST Proxy compatible API: pin, geo, user.
    const api = createIngestServer({ kafka: adapters.kafka });
    const { port } = await api.listen(0, '127.0.0.1');
    try {
      for (const table of TABLES) {
        const res = await fetch(`http://127.0.0.1:${port}/topics/${topicFor(pipelineId, table)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
          body: JSON.stringify({ records: SEED_ROWS.map((r) => ({ value: r.raw[table] })) }),
        });
        assert.equal(res.status, 200, await res.text());
      }
    } finally {
      await api.close();
    }
    // Ingest them into the raw zone and stop.
    await withWorker(async (taskQueue) => {
      for (const table of TABLES) {
        const handle = await env.client.workflow.start(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-${table}`,
          args: [{ pipelineId, table, rotateIntervalMs: 200, idlePollMs: 100 }],
        });
        for (;;) {
          const p = await handle.query(progressQuery);
          if (p.totals.recordsWritten === SEED_ROWS.length) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        await handle.signal(stopSignal);
        await handle.result();
      }
    });
  });

  after(async () => {
    await adapters?.kafka.deleteTopics(TABLES.map((t) => topicFor(pipelineId, t)));
    await adapters?.close();
    await env?.teardown();
    await rm(scratch, { recursive: true, force: true });
  });

  const withWorker = <T>(fn: (taskQueue: string) => Promise<T>, gates = DEFAULT_GATES) =>
    withTestWorker(
      env,
      {
        ...createSinkActivities(adapters),
        ...createNightlyActivities({
          store: adapters.store,
          scratchDir: scratch,
          gates,
          duckdb: duckDbS3OptionsFrom(stackConfig()),
          // As the worker runs it: shards read whole raw objects in place.
          readInPlace: duckDbS3OptionsFrom(stackConfig()),
        }),
      },
      fn,
    );

  async function partitionKeys(table: Table): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of adapters.store.list({ bucket, prefix: `clean/${table}/dt=${day}/` }))
      keys.push(o.key);
    return keys;
  }

  async function cleanRowsOf(table: Table) {
    const manifest = parseCleanManifest(
      Buffer.from(
        (await adapters.store.get({ bucket, key: cleanManifestKey(table, day) }))!,
      ).toString(),
    );
    const rows = [];
    for (const f of manifest.files) {
      const local = path.join(scratch, `${table}-${randomUUID()}.parquet`);
      await writeFile(local, (await adapters.store.get({ bucket, key: f.key }))!);
      rows.push(...(await readCleanParquet(table, local)));
    }
    return { manifest, rows };
  }

  it('cleans the seed fixture rows exactly into their clean form and runs the analytics', async () => {
    const result = await withWorker((taskQueue) =>
      env.client.workflow.execute(nightlyBatch, {
        taskQueue,
        workflowId: `nightly-${pipelineId}-${day}`,
        args: [{ pipelineId, date: day }],
      }),
    );
    for (const table of TABLES) {
      const { manifest, rows } = await cleanRowsOf(table);
      const expected = SEED_ROWS.map((r) => r.clean[table]).sort((a, b) => a.ind - b.ind);
      const actual = [...rows].sort((a, b) => a.ind - b.ind);
      assert.deepEqual(actual, expected, `${table} clean rows`);
      actual.forEach((row, i) => assert.deepEqual(Object.keys(row), Object.keys(expected[i]!)));
      assert.equal(manifest.counts.rawRecords, SEED_ROWS.length);
      assert.ok(manifest.gates.every((g) => g.status !== 'failed'));
      assert.equal(result.tables[table]?.counts.rowsOut, SEED_ROWS.length);
    }
    assert.equal(result.analytics?.queries.length, 9);
    if (process.env.PINPIPE_SAVE_HISTORIES) {
      // Replay fixtures: the parent and one child (see test/workflows/replay.test.ts).
      const dir = path.resolve(__dirname, '../fixtures/histories');
      for (const [id, name] of [
        [`nightly-${pipelineId}-${day}`, 'nightly-batch.json'],
        [`nightly-${pipelineId}-${day}-pin`, 'clean-table.json'],
      ] as const) {
        const history = await env.client.workflow.getHandle(id).fetchHistory();
        const json = JSON.parse(historyToJSON(history)) as Record<string, unknown>;
        await writeFile(path.join(dir, name), JSON.stringify({ workflowId: id, ...json }));
      }
    }
    const report = await adapters.store.get({ bucket, key: result.analytics.reportKey });
    assert.match(Buffer.from(report!).toString(), /<svg/);
  });

  it('a rerun of the same day replaces its outputs and leaves no extra file visible', async () => {
    const before = await cleanRowsOf('pin');
    await withWorker((taskQueue) =>
      env.client.workflow.execute(nightlyBatch, {
        taskQueue,
        workflowId: `nightly-${pipelineId}-${day}-rerun`,
        args: [{ pipelineId, date: day }],
      }),
    );
    const after = await cleanRowsOf('pin');
    assert.notEqual(after.manifest.run, before.manifest.run, 'a new run wrote new files');
    assert.deepEqual(after.rows, before.rows, 'the same rows');
    for (const table of TABLES) {
      const keys = await partitionKeys(table);
      assert.equal(keys.length, 2, `${table}: only the manifest and one file: ${keys.join(', ')}`);
      assert.ok(keys.includes(cleanManifestKey(table, day)));
    }
  });

  it('a failing gate stops the analytics with a clear reason while the other tables commit', async () => {
    const strict = {
      ...DEFAULT_GATES,
      pin: [
        ...DEFAULT_GATES.pin,
        {
          name: 'no_story_posts',
          description: 'is_image_or_video is not a story',
          policy: 'fail' as const,
          maxFailureRate: 0,
          check: (r: { is_image_or_video: string | null }) =>
            !r.is_image_or_video?.startsWith('multi-video'),
          // The same expectation in SQL, for the cleaning that runs in DuckDB.
          sql: `coalesce(NOT starts_with(is_image_or_video, 'multi-video'), true)`,
        },
      ],
    };
    const pinBefore = await cleanRowsOf('pin');
    await withWorker(async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(nightlyBatch, {
          taskQueue,
          workflowId: `nightly-${pipelineId}-${day}-strict`,
          args: [{ pipelineId, date: day }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.match(
            String(err.cause?.message),
            /analytics skipped because pin: .*quality gate failed: no_story_posts/,
          );
          return true;
        },
      );
    }, strict);
    // pin keeps its previous commit; geo and user committed again with this run.
    const pinAfter = await cleanRowsOf('pin');
    assert.equal(pinAfter.manifest.run, pinBefore.manifest.run);
    const geo = await cleanRowsOf('geo');
    assert.notEqual(geo.manifest.run, pinBefore.manifest.run);
  });

  it('backfills days in order and, restarted, skips the days that finished', async () => {
    const yesterday = utcDay(Date.now() - 86_400_000);
    const first = await withWorker((taskQueue) =>
      env.client.workflow.execute(backfill, {
        taskQueue,
        workflowId: `backfill-${pipelineId}-${randomUUID()}`,
        args: [{ pipelineId, from: yesterday, to: day, concurrency: 2 }],
      }),
    );
    // Today finished in the tests above; yesterday had no raw data and commits empty partitions.
    assert.deepEqual(first.days, [
      { date: yesterday, status: 'done' },
      { date: day, status: 'skipped' },
    ]);
    // One day per run: the backfill continues as new between the days and keeps their outcomes.
    const againId = `backfill-${pipelineId}-${randomUUID()}`;
    const again = await withWorker((taskQueue) =>
      env.client.workflow.execute(backfill, {
        taskQueue,
        workflowId: againId,
        args: [{ pipelineId, from: yesterday, to: day, daysPerRun: 1 }],
      }),
    );
    assert.deepEqual(
      again.days.map((d) => d.status),
      ['skipped', 'skipped'],
    );
    const runs = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${againId}'` })) {
      runs.push(w.runId);
    }
    assert.equal(runs.length, 2, 'the backfill ran as two runs (continued as new once)');
  });

  it('fails at once on a bad date, naming it', async () => {
    await withWorker(async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(nightlyBatch, {
          taskQueue,
          workflowId: `nightly-${pipelineId}-bad`,
          args: [{ pipelineId, date: '2026-13-45' }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.match(String(err.cause?.message), /date: expected YYYY-MM-DD, got 2026-13-45/);
          return true;
        },
      );
    });
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import { readCleanParquet } from '../../src/analytics/parquet-writer';
import { cleanManifestKey, parseCleanManifest } from '../../src/domain/clean-zone';
import { drawEvents } from '../../src/domain/generator';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { bucketFor, TABLES, topicFor, type Table } from '../../src/domain/tables';
import { nightlyBatch } from '../../src/workflows/nightly-batch';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { startWorkerProcess, type Spawned } from '../helpers/processes';
import { stackConfig, uniqueName } from '../helpers/stack';

/**
 * The cleaning of one day fans out over every worker on the task queue: three worker processes
 * share the shards of each table (their identities are in the history), and the committed
 * partitions are the same rows, in the same order, as one worker's run of the same day.
 */
describe('nightly cleaning fanned out over three worker processes (real processes)', function () {
  this.timeout(300_000);
  const adapters = createAdapters(stackConfig());
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const day = '2026-11-21';
  const workers: Spawned[] = [];
  let connection: Connection;
  let client: Client;
  let scratch: string;

  before(async () => {
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    client = new Client({ connection });
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-nightly-fanout-'));
    // 30 raw objects of 1,000 events per table; shards of 200 KiB make ~10-20 shards per table.
    await adapters.store.ensureBucket(bucket);
    const events = [...drawEvents({ seed: 'nightly-fanout', count: 30_000 })];
    for (const table of TABLES) {
      const topic = topicFor(pipelineId, table);
      for (let o = 0; o < 30; o++) {
        const slice = events.slice(o * 1000, (o + 1) * 1000);
        await adapters.store.put({
          bucket,
          key: rawObjectKey({ topic, partition: o % 3, startOffset: o * 1000, day }),
          body: `${slice.map((e) => JSON.stringify(e[table])).join('\n')}\n`,
        });
      }
    }
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await connection?.close();
    await adapters.close();
    await rm(scratch, { recursive: true, force: true });
  });

  async function committed(table: Table) {
    const manifest = parseCleanManifest(
      Buffer.from(
        (await adapters.store.get({ bucket, key: cleanManifestKey(table, day) }))!,
      ).toString(),
    );
    const rows: string[] = [];
    for (const f of manifest.files) {
      const local = path.join(scratch, `${manifest.run}-${path.basename(f.key)}`);
      await writeFile(local, (await adapters.store.get({ bucket, key: f.key }))!);
      for (const r of await readCleanParquet(table, local)) rows.push(JSON.stringify(r));
    }
    return { manifest, rows };
  }

  async function runDay(workerCount: number, suffix: string) {
    const taskQueue = uniqueName(`fanout-${workerCount}`);
    const mine = await Promise.all(
      Array.from({ length: workerCount }, () => startWorkerProcess(taskQueue)),
    );
    workers.push(...mine);
    try {
      const workflowId = `nightly-${pipelineId}-${day}-${suffix}`;
      await client.workflow.execute(nightlyBatch, {
        taskQueue,
        workflowId,
        args: [
          {
            pipelineId,
            date: day,
            cleaning: { maxShardBytes: 200 * 1024, shardWindow: 6 },
          },
        ],
      });
      const identities = new Map<Table, Set<string>>();
      for (const table of TABLES) {
        const history = await client.workflow.getHandle(`${workflowId}-${table}`).fetchHistory();
        const who = new Set<string>();
        for (const e of history.events ?? []) {
          const started = e.activityTaskStartedEventAttributes;
          if (started?.identity) who.add(started.identity);
        }
        identities.set(table, who);
      }
      const out = new Map<Table, Awaited<ReturnType<typeof committed>>>();
      for (const table of TABLES) out.set(table, await committed(table));
      return { identities, out };
    } finally {
      for (const w of mine) w.child.kill('SIGTERM');
      await Promise.all(mine.map((w) => w.exited));
    }
  }

  it('shares the shards among the workers and commits what one worker commits', async () => {
    const three = await runDay(3, 'three');
    const all = new Set([...three.identities.values()].flatMap((s) => [...s]));
    assert.ok(all.size >= 2, `shards ran on more than one worker: ${[...all].join(', ')}`);
    for (const table of TABLES) {
      const m = three.out.get(table)!.manifest;
      assert.equal(m.counts.rawRecords, 30_000, `${table}: every raw record counted`);
      assert.equal(m.inputs.length, 30);
    }

    const one = await runDay(1, 'one');
    for (const table of TABLES) {
      assert.equal(one.identities.get(table)!.size, 1, `${table}: a single worker`);
      const a = three.out.get(table)!;
      const b = one.out.get(table)!;
      assert.notEqual(a.manifest.run, b.manifest.run);
      assert.deepEqual(b.manifest.counts, a.manifest.counts, `${table}: same counts`);
      assert.deepEqual(b.rows, a.rows, `${table}: same rows in the same order`);
    }
  });
});

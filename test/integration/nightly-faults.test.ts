import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import { readCleanParquet } from '../../src/analytics/parquet-writer';
import {
  cleanManifestKey,
  cleanShardPartKey,
  parseCleanManifest,
} from '../../src/domain/clean-zone';
import { cleanRecord } from '../../src/domain/cleaning';
import { drawEvents } from '../../src/domain/generator';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { bucketFor, TABLES, topicFor } from '../../src/domain/tables';
import { nightlyBatch } from '../../src/workflows/nightly-batch';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { startWorkerProcess, type Spawned } from '../helpers/processes';
import { stackConfig, uniqueName } from '../helpers/stack';

/**
 * A worker process SIGKILLed in the middle of cleaning: the retries on another worker resume
 * from the checkpoint (the shards already staged are not cleaned or written again) and the
 * committed partition is still exactly the distinct clean rows of the day.
 */
describe('nightly cleaning when the worker is killed mid-way (real processes)', function () {
  this.timeout(300_000);
  const adapters = createAdapters(stackConfig());
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const day = '2026-11-20';
  const taskQueue = uniqueName('nightly-faults');
  const workers: Spawned[] = [];
  let connection: Connection;
  let scratch: string;

  before(async () => {
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-nightly-faults-'));
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await connection?.close();
    await adapters.close();
    await rm(scratch, { recursive: true, force: true });
  });

  async function startWorker(): Promise<Spawned> {
    const w = await startWorkerProcess(taskQueue);
    workers.push(w);
    return w;
  }

  it('resumes from its checkpoint and commits exactly the distinct clean rows', async () => {
    // 80 raw objects of 500 events per table, straight into the raw zone (duplicates included:
    // the draw is with replacement, as in the seed).
    await adapters.store.ensureBucket(bucket);
    const events = [...drawEvents({ seed: 'nightly-faults', count: 40_000 })];
    const expected = new Set(events.map((e) => JSON.stringify(cleanRecord('pin', e.pin))));
    for (const table of TABLES) {
      const topic = topicFor(pipelineId, table);
      for (let o = 0; o < 80; o++) {
        const slice = events.slice(o * 500, (o + 1) * 500);
        await adapters.store.put({
          bucket,
          key: rawObjectKey({ topic, partition: 0, startOffset: o * 500, day }),
          body: `${slice.map((e) => JSON.stringify(e[table])).join('\n')}\n`,
          metadata: {
            'first-offset': String(o * 500),
            'last-offset': String(o * 500 + 499),
            'record-count': '500',
          },
        });
      }
    }

    const first = await startWorker();
    const client = new Client({ connection });
    const handle = await client.workflow.start(nightlyBatch, {
      taskQueue,
      workflowId: `nightly-${pipelineId}-${day}`,
      // Small shards: many of them, so the kill lands while shards are still being cleaned.
      args: [{ pipelineId, date: day, cleaning: { maxShardBytes: 256 * 1024, shardWindow: 4 } }],
    });
    const run = handle.firstExecutionRunId.replace(/-/g, '').slice(0, 12);
    const firstPart = cleanShardPartKey('pin', day, run, 0);
    let seen: string | undefined;
    for (let i = 0; i < 1200 && !seen; i++) {
      seen = (await adapters.store.head({ bucket, key: firstPart }))?.etag;
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen, 'the first part was staged');
    first.child.kill('SIGKILL');
    await first.exited;
    await startWorker();

    // Until the commit removes it, the first part must never be written again.
    for (;;) {
      const head = await adapters.store.head({ bucket, key: firstPart });
      if (!head) break;
      assert.equal(head.etag, seen, 'a staged part was rewritten: the retry did not resume');
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await handle.result();
    assert.equal(result.date, day);

    // The killed worker held shards of whichever tables its slots had taken at that moment
    // (the three tables share the shard queue), so look for the retries in every child.
    let retried = false;
    for (const table of TABLES) {
      const history = await client.workflow
        .getHandle(`nightly-${pipelineId}-${day}-${table}`)
        .fetchHistory();
      retried ||= (history.events ?? []).some(
        (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1,
      );
    }
    assert.ok(retried, 'an activity the killed worker held was retried by the other one');

    const manifest = parseCleanManifest(
      Buffer.from(
        (await adapters.store.get({ bucket, key: cleanManifestKey('pin', day) }))!,
      ).toString(),
    );
    assert.equal(manifest.counts.rawRecords, 40_000);
    const rows: string[] = [];
    for (const f of manifest.files) {
      const local = path.join(scratch, path.basename(f.key));
      await writeFile(local, (await adapters.store.get({ bucket, key: f.key }))!);
      for (const r of await readCleanParquet('pin', local)) rows.push(JSON.stringify(r));
    }
    assert.equal(rows.length, expected.size, 'distinct rows only');
    assert.deepEqual(new Set(rows), expected);
    assert.equal(manifest.counts.duplicates, 40_000 - expected.size);
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { bucketFor, topicFor } from '../../src/domain/tables';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
} from '../../src/workflows/ingest-topic';
import { pinRecord, randomPipelineId } from '../helpers/ingest-fixtures';
import {
  freePort,
  spawnEntry,
  startWorkerProcess,
  waitForOutput,
  type Spawned,
} from '../helpers/processes';
import { assertExactlyOnce } from '../helpers/raw-zone-audit';
import { repoRoot, stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/**
 * Fault tests on the real stack: worker processes killed with SIGKILL, the S3 server stopped,
 * the Kafka broker restarted, two workers at once. After each, every offset the topic holds
 * must be in the raw zone exactly once (checked offset by offset, not by totals).
 */
describe('ingestion under faults (real processes, real services)', function () {
  this.timeout(600_000);
  let adapters: Adapters;
  let connection: Connection;
  let client: Client;
  let api: Spawned;
  let apiUrl: string;
  const workers: Spawned[] = [];
  const topics: string[] = [];
  // The API serves only the pipelines it is started with: pick them before it starts.
  const pipelineIds = Array.from({ length: 8 }, () => randomPipelineId());

  const stack = (...args: string[]) =>
    execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), ...args], { stdio: 'ignore' });

  before(async () => {
    adapters = createAdapters(stackConfig());
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    client = new Client({ connection });
    const port = await freePort();
    api = spawnEntry('src/api/main.ts', {
      ...stackEnv(),
      PINPIPE_API_PORT: String(port),
      PINPIPE_PIPELINE_IDS: pipelineIds.join(','),
    });
    await waitForOutput(api, /listening on/);
    apiUrl = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    api?.child.kill('SIGTERM');
    await api?.exited;
    stack('up'); // whatever a test stopped comes back for the next suite
    await adapters.kafka.deleteTopics(topics).catch(() => undefined);
    await adapters.close();
    await connection?.close();
  });

  async function startWorker(taskQueue: string): Promise<Spawned> {
    const w = await startWorkerProcess(taskQueue);
    workers.push(w);
    return w;
  }

  async function kill(w: Spawned): Promise<void> {
    w.child.kill('SIGKILL');
    await w.exited;
  }

  async function newPipeline(partitions: number) {
    const pipelineId = pipelineIds.pop();
    if (!pipelineId) throw new Error('add pipeline ids: the API serves only those it started with');
    const topic = topicFor(pipelineId, 'pin');
    await adapters.kafka.ensureTopics([{ name: topic, partitions }]);
    topics.push(topic);
    return { pipelineId, topic, bucket: bucketFor(pipelineId), taskQueue: uniqueName('faults') };
  }

  /** Posts `count` pins through the API in batches, re-posting whatever was not acknowledged. */
  async function postPins(topic: string, start: number, count: number, batch = 500) {
    let acknowledged = 0;
    let retried = 0;
    for (let from = start; from < start + count; from += batch) {
      let pending = Array.from({ length: Math.min(batch, start + count - from) }, (_, i) =>
        pinRecord(from + i),
      );
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 200) throw new Error('the API did not accept records for too long');
        if (attempt > 0) {
          retried++;
          await new Promise((r) => setTimeout(r, 250));
        }
        try {
          const res = await fetch(`${apiUrl}/topics/${topic}`, {
            method: 'POST',
            headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
            body: JSON.stringify({ records: pending.map((value) => ({ value })) }),
          });
          if (res.status !== 200) continue;
          const body = (await res.json()) as { offsets: Array<{ error_code: number | null }> };
          const failed = pending.filter((_, i) => body.offsets[i]?.error_code !== null);
          acknowledged += pending.length - failed.length;
          pending = failed;
        } catch {
          // connection refused or reset while the broker restarts: post again
        }
      }
    }
    return { acknowledged, retried };
  }

  async function waitUntil(
    handle: WorkflowHandle,
    done: (p: IngestProgress) => boolean,
    timeoutMs = 240_000,
  ): Promise<IngestProgress> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const p = await handle.query(progressQuery);
        if (done(p)) return p;
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p.totals)}`);
      } catch (err) {
        // no worker to answer the query for a moment (it was just killed): ask again
        if (Date.now() > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function startIngest(pipelineId: string, taskQueue: string) {
    return client.workflow.start(ingestTopic, {
      taskQueue,
      workflowId: `ingest-${pipelineId}-pin`,
      args: [
        { pipelineId, table: 'pin', maxRecords: 2_000, rotateIntervalMs: 1_000, idlePollMs: 200 },
      ],
    });
  }

  it('SIGKILLed workers, several times while 50,000 events flow in through the API', async () => {
    const { pipelineId, topic, bucket, taskQueue } = await newPipeline(3);
    let worker = await startWorker(taskQueue);
    const handle = await startIngest(pipelineId, taskQueue);

    const count = 50_000;
    const posting = postPins(topic, 0, count);
    let kills = 0;
    let posted = false;
    void posting.then(() => (posted = true));
    // Kill at irregular moments while records flow and batches are being written.
    while (!posted || kills < 4) {
      await new Promise((r) => setTimeout(r, 1_500 + Math.floor(Math.random() * 2_500)));
      await kill(worker);
      kills++;
      worker = await startWorker(taskQueue);
      if (kills >= 6) break;
    }
    const { acknowledged } = await posting;
    assert.equal(acknowledged, count);

    const progress = await waitUntil(
      handle,
      (p) => p.totals.lag === 0 && p.totals.recordsWritten >= count,
    );
    await handle.signal(stopSignal);
    await handle.result();
    assert.ok(kills >= 4, `killed the worker ${kills} times`);

    const { audit, total } = await assertExactlyOnce(adapters, bucket, topic);
    assert.equal(total, count, 'one Kafka record per acknowledged post');
    const indexes = new Set(
      [...audit.byOffset.values()].map((v) => (JSON.parse(v.line) as { index: number }).index),
    );
    assert.equal(indexes.size, count, 'every posted pin once');
    assert.equal(progress.totals.recordsWritten, count);
    await kill(worker);
  });

  it('S3 stopped for 20 s and the Kafka broker restarted: resumes by itself, exactly once', async () => {
    const { pipelineId, topic, bucket, taskQueue } = await newPipeline(3);
    const worker = await startWorker(taskQueue);
    const handle = await startIngest(pipelineId, taskQueue);
    await postPins(topic, 0, 10_000);

    stack('stop', 's3');
    const duringOutage = postPins(topic, 10_000, 10_000);
    await new Promise((r) => setTimeout(r, 20_000));
    stack('up');
    await duringOutage;

    stack('stop', 'kafka');
    await new Promise((r) => setTimeout(r, 2_000));
    stack('up');
    await postPins(topic, 20_000, 10_000);

    const marks = await adapters.kafka.watermarks(topic);
    const total = marks.reduce((a, m) => a + m.high, 0);
    await waitUntil(handle, (p) => p.totals.lag === 0 && p.totals.recordsWritten >= total);
    await handle.signal(stopSignal);
    await handle.result();
    const checked = await assertExactlyOnce(adapters, bucket, topic);
    assert.ok(checked.total >= 30_000);
    await kill(worker);
  });

  it('two workers at once share the work without duplicates', async () => {
    const { pipelineId, topic, bucket, taskQueue } = await newPipeline(6);
    const a = await startWorker(taskQueue);
    const b = await startWorker(taskQueue);
    const handle = await startIngest(pipelineId, taskQueue);
    // Traffic in waves, so many batches are scheduled over time and both workers' pollers take
    // some (one burst can be drained by whichever worker polls first).
    for (let wave = 0; wave < 20; wave++) {
      await postPins(topic, wave * 1_000, 1_000);
      await new Promise((r) => setTimeout(r, 400));
    }
    await waitUntil(handle, (p) => p.totals.lag === 0 && p.totals.recordsWritten >= 20_000);
    await handle.signal(stopSignal);
    await handle.result();
    await assertExactlyOnce(adapters, bucket, topic);

    // Both processes ran sink batches (from their own Prometheus metrics).
    for (const w of [a, b]) {
      const port = /metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(w.output())?.[1];
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = metrics
        .split('\n')
        .find(
          (l) =>
            l.startsWith('temporal_activity_execution_latency_count') && l.includes('sinkBatch'),
        );
      assert.ok(line && Number(line.split(' ').pop()) > 0, `worker ran no sinkBatch:\n${line}`);
    }
    await kill(a);
    await kill(b);
  });
});

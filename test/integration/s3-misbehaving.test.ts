import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import {
  CONDITIONAL_WRITES_UNPROVEN,
  CONDITIONAL_WRITES_UNSUPPORTED,
} from '../../src/activities/conditional-write-guard';
import {
  createSinkActivities,
  OBJECT_IN_FLIGHT,
  type SinkActivities,
  type SinkBatchInput,
  type SinkBatchResult,
} from '../../src/activities/sink-activities';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-object-store';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { bucketFor, topicFor, topicsFor } from '../../src/domain/tables';
import type { ObjectStore } from '../../src/ports/object-store';
import { createActivities } from '../../src/workers/create-activities';
import {
  abortUpdate,
  progressQuery as provisionProgress,
  provisionPipeline,
} from '../../src/workflows/provision-pipeline';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
} from '../../src/workflows/ingest-topic';
import { producePins, randomPipelineId } from '../helpers/ingest-fixtures';
import { freePort, spawnEntry, waitForOutput, type Spawned } from '../helpers/processes';
import { assertExactlyOnce, auditRawZone } from '../helpers/raw-zone-audit';
import {
  answerOnce,
  type ProxiedRequest,
  type S3Proxy,
  type ScriptedAnswer,
  startS3Proxy,
} from '../helpers/s3-proxy';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';
import { createLocalEnv, workflowBundle } from '../helpers/temporal';

/**
 * The S3 server misbehaving, on the real stack: proxies in front of the stack's versitygw that
 * ignore If-None-Match, answer a scripted 409 / 412 for a chosen key, or hold an upload longer
 * than the sink's heartbeat timeout. Each case ends with the raw zone audited offset by offset.
 */
describe('the sink when S3 misbehaves (proxies in front of the real S3 server)', function () {
  this.timeout(240_000);
  const config = stackConfig();
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  const proxies: S3Proxy[] = [];
  const clients: Array<{ destroy(): void }> = [];
  const cleanups: Array<() => Promise<unknown>> = [];
  const spawned: Spawned[] = [];

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(config);
  });

  after(async () => {
    // A worker that should have exited but did not (a failed test) must not outlive the run.
    for (const w of spawned) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    for (const c of clients) c.destroy();
    for (const p of proxies) await p.close();
    await adapters?.close();
    await env?.teardown();
  });

  async function proxy(options: Parameters<typeof startS3Proxy>[0]): Promise<S3Proxy> {
    const p = await startS3Proxy(options);
    proxies.push(p);
    return p;
  }

  /** The real adapter, with its requests going through `p`. */
  function storeThrough(p: S3Proxy): S3ObjectStore {
    const client = createS3Client({ ...config.aws, s3Endpoint: p.url });
    clients.push(client);
    return new S3ObjectStore(client);
  }

  async function emptyAndDelete(bucket: string): Promise<void> {
    for await (const o of adapters.store.list({ bucket, prefix: '' })) {
      await adapters.store.delete({ bucket, key: o.key });
    }
    await adapters.store.deleteBucket(bucket);
  }

  async function pipeline(count: number) {
    const pipelineId = randomPipelineId();
    const topic = topicFor(pipelineId, 'pin');
    const bucket = bucketFor(pipelineId);
    await adapters.kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    cleanups.push(() => adapters.kafka.deleteTopics([topic]));
    await adapters.store.ensureBucket(bucket);
    cleanups.push(() => emptyAndDelete(bucket));
    await producePins(adapters.kafka, topic, { start: 0, count, partitions: 1 });
    return { pipelineId, topic, bucket };
  }

  /** The first raw object of partition 0 (start offset 0), whatever its day. */
  const firstRawObject = (topic: string) => (r: ProxiedRequest) =>
    r.key?.startsWith(`topics/${topic}/`) === true && r.key.endsWith(`+0+0000000000.json`);

  const putOf = (match: (r: ProxiedRequest) => boolean) => (r: ProxiedRequest) =>
    r.method === 'PUT' && 'if-none-match' in r.headers && match(r);

  /** Runs a worker with `activities` on `taskQueue` until `fn` settles. */
  async function withWorkerOn<T>(
    taskQueue: string,
    activities: object,
    fn: () => Promise<T>,
  ): Promise<T> {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
    });
    return worker.runUntil(fn());
  }

  async function waitFor(
    handle: WorkflowHandle,
    done: (p: IngestProgress) => boolean,
    timeoutMs = 90_000,
  ): Promise<IngestProgress> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await handle.query(progressQuery);
      if (done(p)) return p;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p.totals)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Every attempt of sinkBatch the history shows started: attempt number and last failure. */
  async function sinkAttempts(handle: WorkflowHandle) {
    const { events } = await handle.fetchHistory();
    const names = new Map<string, string>();
    const attempts: Array<{ attempt: number; lastFailureType?: string; lastFailure?: string }> = [];
    let timedOut = 0;
    for (const e of events ?? []) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) names.set(String(e.eventId), scheduled.activityType?.name ?? '');
      if (e.activityTaskTimedOutEventAttributes) timedOut++;
      const started = e.activityTaskStartedEventAttributes;
      if (started && names.get(String(started.scheduledEventId)) === 'sinkBatch') {
        const failure = started.lastFailure;
        attempts.push({
          attempt: started.attempt ?? 1,
          ...(failure?.applicationFailureInfo?.type
            ? { lastFailureType: failure.applicationFailureInfo.type }
            : {}),
          ...(failure?.message ? { lastFailure: failure.message } : {}),
        });
      }
    }
    return { attempts, timedOut };
  }

  const ingestInput = (pipelineId: string, maxRecords: number) => ({
    pipelineId,
    table: 'pin' as const,
    maxRecords,
    rotateIntervalMs: 500,
    idlePollMs: 100,
  });

  /** One sinkBatch outside a workflow, with a real activity context (heartbeats observable). */
  const runSinkBatch = (
    sink: SinkActivities,
    input: SinkBatchInput,
    activityEnv = new MockActivityEnvironment(),
  ): Promise<SinkBatchResult> =>
    activityEnv.run<[SinkBatchInput], SinkBatchResult, SinkActivities['sinkBatch']>(
      (i) => sink.sinkBatch(i),
      input,
    );

  /** Row 1: the reviewer's sequence, activity by activity (the Temporal retry made explicit). */
  describe('a server that ignores If-None-Match, then a sink retry from an earlier offset', () => {
    const batch = (topic: string, bucket: string, from: number, max: number): SinkBatchInput => ({
      table: 'pin',
      topic,
      bucket,
      partition: 0,
      fromOffset: from,
      maxRecords: max,
      maxBytes: 16 * 1024 * 1024,
      rotateIntervalMs: 60_000,
      budgetMs: 0,
    });

    /** [0..149], [150..299], then the retry from 0 that reads 300 records at once. */
    async function reviewerSequence(store: ObjectStore, topic: string, bucket: string) {
      const sink = createSinkActivities({ kafka: adapters.kafka, store });
      const run = (from: number, max: number) =>
        runSinkBatch(sink, batch(topic, bucket, from, max));
      assert.equal((await run(0, 150)).nextOffset, 150);
      assert.equal((await run(150, 150)).nextOffset, 300);
      return run(0, 300);
    }

    it('honoured (the real server): the retry adopts instead of overwriting; every offset once', async () => {
      const { topic, bucket } = await pipeline(300);
      const retry = await reviewerSequence(adapters.store, topic, bucket);
      // It reads [0..299], is refused at +0000000000, adopts [0..149], goes on from 150 in the
      // same batch and adopts the second object the same way.
      assert.equal(retry.objectsAdopted, 2);
      assert.equal(retry.objectsWritten, 0);
      assert.equal(retry.nextOffset, 300);
      assert.equal((await assertExactlyOnce(adapters, bucket, topic)).total, 300);
    });

    it('before this change (a store that assumes support): 150 offsets stored twice', async () => {
      const { topic, bucket } = await pipeline(300);
      const stripped = storeThrough(await proxy({ stripIfNoneMatch: true }));
      // The adapter as it was: no probe, conditional writes taken on trust.
      const trusting = Object.assign(Object.create(stripped) as S3ObjectStore, {
        probeConditionalWrites: () =>
          Promise.resolve({ support: 'supported' as const, endpoint: '', message: '' }),
      });
      await reviewerSequence(trusting, topic, bucket);
      const audit = await auditRawZone(adapters.store, bucket, topic, 'pin', new Map([[0, 300]]));
      const twice = audit.problems.filter((p) => p.includes('stored twice'));
      assert.equal(twice.length, 150, audit.problems.slice(0, 3).join('\n'));
    });

    it('now: the sink refuses to write (retryable), naming the server and its answer', async () => {
      const { topic, bucket } = await pipeline(300);
      const p = await proxy({ stripIfNoneMatch: true });
      const sink = createSinkActivities({ kafka: adapters.kafka, store: storeThrough(p) });
      await assert.rejects(runSinkBatch(sink, batch(topic, bucket, 0, 150)), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, CONDITIONAL_WRITES_UNSUPPORTED);
        assert.equal(err.nonRetryable, false);
        assert.match(
          err.message,
          new RegExp(
            `^S3 endpoint ${p.url} ignores If-None-Match: \\*: a second conditional PUT .* answered 200`,
          ),
        );
        return true;
      });
      const written = [];
      for await (const o of adapters.store.list({ bucket, prefix: 'topics/' })) written.push(o);
      assert.deepEqual(written, []);
      assert.equal(
        p.log.filter((e) => e.key?.startsWith('topics/')).length,
        0,
        'no raw object was even attempted',
      );
    });

    it('the ingestion waits on the refusing worker and completes exactly once on a good one', async () => {
      const { pipelineId, topic, bucket } = await pipeline(300);
      const stripped = storeThrough(await proxy({ stripIfNoneMatch: true }));
      const taskQueue = uniqueName('cw-ignored');
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [ingestInput(pipelineId, 100)],
      });
      // A worker whose S3 endpoint ignores the header: its sink attempts are refused, visibly.
      const pending = await withWorkerOn(
        taskQueue,
        createSinkActivities({ kafka: adapters.kafka, store: stripped }),
        async () => {
          for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
            const { raw } = await handle.describe();
            const refused = raw.pendingActivities?.find(
              (a) => a.lastFailure?.applicationFailureInfo?.type === CONDITIONAL_WRITES_UNSUPPORTED,
            );
            if (refused) return refused;
            await new Promise((r) => setTimeout(r, 200));
          }
          throw new Error('no refused sink attempt');
        },
      );
      assert.match(pending.lastFailure?.message ?? '', /ignores If-None-Match/);
      assert.equal((await handle.describe()).status.name, 'RUNNING');
      const nothing = [];
      for await (const o of adapters.store.list({ bucket, prefix: 'topics/' })) nothing.push(o);
      assert.deepEqual(nothing, []);
      // The same workflow on a worker with an honest endpoint: every offset, once.
      await withWorkerOn(taskQueue, createSinkActivities(adapters), async () => {
        await waitFor(handle, (p) => p.totals.recordsWritten === 300 && p.totals.lag === 0);
        await handle.signal(stopSignal);
        await handle.result();
      });
      assert.equal((await assertExactlyOnce(adapters, bucket, topic)).total, 300);
    });
  });

  describe('the worker process probes at start', () => {
    async function workerWith(s3Endpoint: string, pipelineId: string) {
      const w = spawnEntry('src/workers/main.ts', {
        ...stackEnv(),
        AWS_ENDPOINT_URL_S3: s3Endpoint,
        PINPIPE_PIPELINE_ID: pipelineId,
        TEMPORAL_TASK_QUEUE: uniqueName('cw-worker'),
        PINPIPE_METRICS_PORT: String(await freePort()),
      });
      spawned.push(w);
      return w;
    }

    it('exits 2 naming the server that ignores If-None-Match, before taking any task', async () => {
      const pipelineId = randomPipelineId();
      await adapters.store.ensureBucket(bucketFor(pipelineId));
      cleanups.push(() => emptyAndDelete(bucketFor(pipelineId)));
      const p = await proxy({ stripIfNoneMatch: true });
      const w = await workerWith(p.url, pipelineId);
      assert.equal(await w.exited, 2, w.output());
      assert.match(
        w.output(),
        new RegExp(
          `pinpipe worker: S3 endpoint ${p.url} ignores If-None-Match: \\*: a second conditional PUT of the existing object s3://${bucketFor(pipelineId)}/_pinpipe/probe/`,
        ),
      );
      assert.doesNotMatch(w.output(), /pinpipe worker: task queue/);
    });

    it('exits 2 when the server refuses the header (501 NotImplemented)', async () => {
      const pipelineId = randomPipelineId();
      await adapters.store.ensureBucket(bucketFor(pipelineId));
      cleanups.push(() => emptyAndDelete(bucketFor(pipelineId)));
      const p = await proxy({
        answer: (r) =>
          r.method === 'PUT' && 'if-none-match' in r.headers
            ? { error: { status: 501, code: 'NotImplemented' } }
            : undefined,
      });
      const w = await workerWith(p.url, pipelineId);
      assert.equal(await w.exited, 2, w.output());
      assert.match(
        w.output(),
        new RegExp(`S3 endpoint ${p.url} does not support conditional writes: .* answered 501`),
      );
    });

    it('starts on an honest server (says so), and without a bucket yet (says the sink probes)', async () => {
      const pipelineId = randomPipelineId();
      await adapters.store.ensureBucket(bucketFor(pipelineId));
      cleanups.push(() => emptyAndDelete(bucketFor(pipelineId)));
      const s3Endpoint = config.aws.s3Endpoint ?? 'http://127.0.0.1:7070';
      for (const [id, line] of [
        [pipelineId, `S3 endpoint ${s3Endpoint}: conditional writes proven in bucket`],
        [randomPipelineId(), 'conditional writes not probed at start \\(bucket .* does not exist'],
      ] as const) {
        const w = await workerWith(s3Endpoint, id);
        try {
          await waitForOutput(w, /pinpipe worker: task queue/);
          assert.match(w.output(), new RegExp(`pinpipe worker: ${line}`));
        } finally {
          w.child.kill('SIGTERM');
          await w.exited;
        }
      }
    });
  });

  it('provisioning parks at the bucket step naming the server, and leaves no bucket', async () => {
    const pipelineId = randomPipelineId();
    // Should the run not park, what it made goes (the bucket and topics; the client host comes later).
    cleanups.push(() => adapters.kafka.deleteTopics(topicsFor(pipelineId)));
    cleanups.push(() => emptyAndDelete(bucketFor(pipelineId)));
    const p = await proxy({ stripIfNoneMatch: true });
    const control = new TemporalControl(env.client);
    const activities = createActivities({
      ...adapters,
      store: storeThrough(p),
      control,
      duckdb: duckDbS3OptionsFrom(config),
    });
    const taskQueue = uniqueName('cw-provision');
    await withWorkerOn(taskQueue, activities, async () => {
      const handle = await env.client.workflow.start(provisionPipeline, {
        taskQueue,
        workflowId: `provision-${pipelineId}`,
        args: [{ pipelineId, target: 'local', endpoint: { url: 'http://127.0.0.1:9' } }],
      });
      for (const deadline = Date.now() + 60_000; ;) {
        const progress = await handle.query(provisionProgress);
        if (progress.status === 'awaiting-correction') break;
        if (Date.now() > deadline) throw new Error(JSON.stringify(progress.steps));
        await new Promise((r) => setTimeout(r, 200));
      }
      const parked = await handle.query(provisionProgress);
      assert.equal(parked.currentStep, 'bucket');
      const step = parked.steps.find((s) => s.step === 'bucket');
      assert.equal(step?.attempt, 1, 'not retried: retrying cannot change the server');
      assert.match(step?.error ?? '', new RegExp(`S3 endpoint ${p.url} ignores If-None-Match`));
      assert.equal(await adapters.store.bucketExists(bucketFor(pipelineId)), false);
      await handle.executeUpdate(abortUpdate);
      assert.equal((await handle.result()).status, 'aborted');
    });
  });

  it('S3 unavailable when the sink first writes: the probe has no verdict, is asked again, and the ingestion completes exactly once', async () => {
    const { pipelineId, topic, bucket } = await pipeline(200);
    let availableAt = Number.POSITIVE_INFINITY;
    const p = await proxy({
      answer: (r) =>
        Date.now() < availableAt && r.key !== undefined
          ? {
              error: {
                status: 503,
                code: 'ServiceUnavailable',
                message: 'Please reduce your request rate.',
              },
            }
          : undefined,
    });
    const taskQueue = uniqueName('cw-unavailable');
    const handle = await env.client.workflow.start(ingestTopic, {
      taskQueue,
      workflowId: `ingest-${pipelineId}-pin`,
      args: [ingestInput(pipelineId, 100)],
    });
    await withWorkerOn(
      taskQueue,
      createSinkActivities({ kafka: adapters.kafka, store: storeThrough(p) }),
      async () => {
        // Until the first probe has failed, then 3 s more of outage.
        for (const deadline = Date.now() + 30_000; ;) {
          if (p.log.some((e) => e.key?.startsWith('_pinpipe/probe/') && e.status === 503)) break;
          if (Date.now() > deadline) throw new Error('the sink never probed');
          await new Promise((r) => setTimeout(r, 100));
        }
        availableAt = Date.now() + 3_000;
        await waitFor(handle, (x) => x.totals.recordsWritten === 200 && x.totals.lag === 0);
        await handle.signal(stopSignal);
        await handle.result();
      },
    );
    assert.equal((await assertExactlyOnce(adapters, bucket, topic)).total, 200);
    const { attempts } = await sinkAttempts(handle);
    assert.ok(
      attempts.some((a) => a.lastFailureType === CONDITIONAL_WRITES_UNPROVEN),
      JSON.stringify(attempts),
    );
    const probes = p.log.filter((e) => e.key?.startsWith('_pinpipe/probe/') && e.method === 'PUT');
    assert.ok(
      probes.some((e) => e.status === 412),
      'probed again once S3 answered',
    );
  });

  /** Row 2: a conditional write refused for a key whose object HEAD does not show (yet). */
  for (const [label, answer] of [
    [
      '409 ConditionalRequestConflict, then HEAD 404 while the other write is in flight (it lands)',
      {
        error: {
          status: 409,
          code: 'ConditionalRequestConflict',
          message:
            'A conflicting conditional operation is currently in progress against this resource.',
        },
        forwardAfterMs: 300,
      },
    ],
    [
      '412 PreconditionFailed, then HEAD 404 (and nothing ever lands)',
      { error: { status: 412, code: 'PreconditionFailed' } },
    ],
  ] as const satisfies ReadonlyArray<readonly [string, ScriptedAnswer]>) {
    it(`${label}: retried, and the ingestion completes exactly once`, async () => {
      const { pipelineId, topic, bucket } = await pipeline(250);
      const p = await proxy({ answer: answerOnce(putOf(firstRawObject(topic)), answer) });
      const taskQueue = uniqueName('cw-conflict');
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [ingestInput(pipelineId, 100)],
      });
      await withWorkerOn(
        taskQueue,
        createSinkActivities({ kafka: adapters.kafka, store: storeThrough(p) }),
        async () => {
          await waitFor(handle, (x) => x.totals.recordsWritten === 250 && x.totals.lag === 0);
          await handle.signal(stopSignal);
          await handle.result();
        },
      );
      assert.equal((await assertExactlyOnce(adapters, bucket, topic)).total, 250);
      const { attempts } = await sinkAttempts(handle);
      const retried = attempts.filter((a) => a.attempt > 1);
      assert.equal(retried.length, 1, JSON.stringify(attempts));
      assert.equal(retried[0]?.lastFailureType, OBJECT_IN_FLIGHT);
      assert.match(retried[0]?.lastFailure ?? '', /retrying from offset 0/);
      const forKey = p.log
        .filter((e) => firstRawObject(topic)({ ...e, headers: {}, body: Buffer.alloc(0) }))
        .map((e) => `${e.method} ${e.status}${e.scripted ? ' scripted' : ''}`);
      const landed = 'forwardAfterMs' in answer;
      assert.deepEqual(
        forKey,
        landed
          ? // the retry finds the other write landed, and adopts it
            [`PUT ${answer.error.status} scripted`, 'HEAD 404', 'PUT 412', 'HEAD 200']
          : // the retry finds nothing, and writes it
            [`PUT ${answer.error.status} scripted`, 'HEAD 404', 'PUT 200'],
      );
    });
  }

  /** Row 3: an upload that takes longer than the sink's 10 s heartbeat timeout. */
  describe('a put that takes longer than the heartbeat timeout', () => {
    it('heartbeats on a clock while the object uploads (activity level)', async () => {
      const { topic, bucket } = await pipeline(100);
      const p = await proxy({
        answer: answerOnce(putOf(firstRawObject(topic)), { delayMs: 5_000 }),
      });
      const sink = createSinkActivities({ kafka: adapters.kafka, store: storeThrough(p) });
      const activityEnv = new MockActivityEnvironment();
      const beats: number[] = [];
      activityEnv.on('heartbeat', () => beats.push(Date.now()));
      const result = await runSinkBatch(
        sink,
        {
          table: 'pin',
          topic,
          bucket,
          partition: 0,
          fromOffset: 0,
          maxRecords: 100,
          maxBytes: 16 * 1024 * 1024,
          rotateIntervalMs: 60_000,
        },
        activityEnv,
      );
      assert.equal(result.nextOffset, 100);
      const put = p.log.find(
        (e) =>
          e.method === 'PUT' && firstRawObject(topic)({ ...e, headers: {}, body: Buffer.alloc(0) }),
      );
      assert.ok(put);
      const during = beats.filter((t) => t > put.at && t < put.doneAt);
      // Every 2 s through a 5 s upload (the first beat as the write starts, just before).
      assert.ok(during.length >= 2, `${during.length} heartbeats during the upload`);
    });

    it('a 13 s upload on the real server: the attempt is not timed out, and the key is written once', async () => {
      const { pipelineId, topic, bucket } = await pipeline(100);
      const p = await proxy({
        answer: answerOnce(putOf(firstRawObject(topic)), { delayMs: 13_000 }),
      });
      const taskQueue = uniqueName('cw-slow');
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [ingestInput(pipelineId, 100)],
      });
      await withWorkerOn(
        taskQueue,
        createSinkActivities({ kafka: adapters.kafka, store: storeThrough(p) }),
        async () => {
          await waitFor(handle, (x) => x.totals.recordsWritten === 100 && x.totals.lag === 0);
          await handle.signal(stopSignal);
          await handle.result();
        },
      );
      const { attempts, timedOut } = await sinkAttempts(handle);
      assert.equal(timedOut, 0);
      assert.deepEqual(
        attempts.filter((a) => a.attempt > 1),
        [],
        'no sinkBatch attempt was retried (a heartbeat timeout would have been)',
      );
      const puts = p.log.filter(
        (e) =>
          e.method === 'PUT' && firstRawObject(topic)({ ...e, headers: {}, body: Buffer.alloc(0) }),
      );
      assert.equal(puts.length, 1);
      assert.ok(puts[0]!.doneAt - puts[0]!.at >= 13_000);
      assert.equal((await assertExactlyOnce(adapters, bucket, topic)).total, 100);
    });
  });
});

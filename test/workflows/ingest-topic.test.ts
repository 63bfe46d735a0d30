import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { CompressionTypes } from 'kafkajs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createKafka } from '../../src/adapters/kafkajs-kafka';
import { createSinkActivities, type SinkActivities } from '../../src/activities/sink-activities';
import { bucketFor, topicFor } from '../../src/domain/tables';
import { ingestGroupId } from '../../src/domain/workflow-ids';
import { type KafkaPort, UnreadableRecordsError } from '../../src/ports/kafka';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
  type IngestTopicInput,
} from '../../src/workflows/ingest-topic';
import { assertExactlyOnce, auditRawZone } from '../helpers/raw-zone-audit';
import { producePins, randomPipelineId } from '../helpers/ingest-fixtures';
import { stackConfig, stackEnv } from '../helpers/stack';
import { runCli } from '../helpers/run-cli';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

describe('ingestTopic workflow (real Kafka and S3)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
  });

  after(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    await adapters?.close();
    await env?.teardown();
  });

  async function pipeline(partitions: number) {
    const pipelineId = randomPipelineId();
    const topic = topicFor(pipelineId, 'pin');
    const bucket = bucketFor(pipelineId);
    await adapters.kafka.ensureTopics([{ name: topic, partitions }]);
    cleanups.push(() => adapters.kafka.deleteTopics([topic]));
    return { pipelineId, topic, bucket };
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
      if (Date.now() > deadline)
        throw new Error(`timed out; progress: ${JSON.stringify(p.totals)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const withWorker = <T>(activities: SinkActivities, fn: (taskQueue: string) => Promise<T>) =>
    withTestWorker(env, activities, fn);

  async function highWatermarks(topic: string) {
    return new Map((await adapters.kafka.watermarks(topic)).map((m) => [m.partition, m.high]));
  }

  it('writes every offset exactly once, quarantines bad records, and reports progress', async () => {
    const { pipelineId, topic, bucket } = await pipeline(2);
    const produced = await producePins(adapters.kafka, topic, {
      start: 0,
      count: 400,
      partitions: 2,
      badEvery: 50,
    });
    const total = produced.valid.length + produced.invalid;

    const input: IngestTopicInput = {
      pipelineId,
      table: 'pin',
      maxRecords: 60,
      rotateIntervalMs: 500,
      idlePollMs: 100,
      groupCommitIntervalMs: 300,
    };
    let groupWhileRunning: { partition: number; offset: number }[] = [];
    const { progress, result, handle } = await withWorker(
      createSinkActivities(adapters),
      async (taskQueue) => {
        const handle = await env.client.workflow.start(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-pin`,
          args: [input],
        });
        const progress = await waitFor(
          handle,
          (p) => p.totals.recordsWritten + p.totals.quarantined === total && p.totals.lag === 0,
        );
        // Lag tools follow a running workflow: the group catches up without a stop.
        const deadline = Date.now() + 20_000;
        const caughtUp = () => groupWhileRunning.reduce((n, o) => n + o.offset, 0) === total;
        while (!caughtUp() && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          groupWhileRunning = await adapters.kafka.fetchGroupOffsets(ingestGroupId(topic), topic);
        }
        assert.equal((await handle.describe()).status.name, 'RUNNING');
        await handle.signal(stopSignal);
        return { progress, result: await handle.result(), handle };
      },
    );

    assert.equal(progress.totals.recordsWritten, produced.valid.length);
    assert.equal(progress.totals.quarantined, produced.invalid);
    assert.equal(result.totals.lag, 0);
    assert.deepEqual(
      result.partitions.map((p) => p.partition),
      [0, 1],
    );

    const marks = await highWatermarks(topic);
    const audit = await auditRawZone(adapters.store, bucket, topic, 'pin', marks);
    assert.deepEqual(audit.problems, []);
    const raw = [...audit.byOffset.values()].filter((v) => v.kind === 'raw');
    const indexes = raw
      .map((v) => (JSON.parse(v.line) as { index: number }).index)
      .sort((a, b) => a - b);
    assert.deepEqual(indexes, produced.valid);
    const quarantined = [...audit.byOffset.values()].filter((v) => v.kind === 'quarantine');
    assert.equal(quarantined.length, produced.invalid);
    for (const q of quarantined) {
      const line = JSON.parse(q.line) as { reason: string; topic: string; offset: number };
      assert.equal(line.topic, topic);
      assert.match(line.reason, /^(not JSON|schema: index)/);
    }

    // The Kafka group mirrors the ledger, so lag tools agree with the workflow.
    assert.deepEqual(
      groupWhileRunning,
      [...marks].map(([partition, offset]) => ({ partition, offset })),
      'committed while running',
    );
    const group = await adapters.kafka.fetchGroupOffsets(ingestGroupId(topic), topic);
    assert.deepEqual(
      group,
      [...marks].map(([partition, offset]) => ({ partition, offset })),
    );

    const description = await handle.describe();
    assert.deepEqual(description.searchAttributes.PipelineId, [pipelineId]);
    assert.deepEqual(description.searchAttributes.PipelineTable, ['pin']);
    assert.deepEqual(description.searchAttributes.IngestLag, [0]);
  });

  it('adopts what a crashed attempt wrote instead of writing it twice', async () => {
    const { pipelineId, topic, bucket } = await pipeline(1);
    const produced = await producePins(adapters.kafka, topic, {
      start: 0,
      count: 120,
      partitions: 1,
    });
    const real = createSinkActivities(adapters);
    let crashes = 0;
    const activities: SinkActivities = {
      ...real,
      async sinkBatch(input) {
        const result = await real.sinkBatch(input);
        // The objects are durable but the result never reaches the workflow: a worker crash.
        if (result.flushed && crashes < 2) {
          crashes++;
          throw new Error('worker crashed after writing');
        }
        return result;
      },
    };
    const progress = await withWorker(activities, async (taskQueue) => {
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [
          { pipelineId, table: 'pin', maxRecords: 50, rotateIntervalMs: 300, idlePollMs: 100 },
        ],
      });
      const p = await waitFor(handle, (x) => x.totals.recordsWritten === produced.valid.length);
      await handle.signal(stopSignal);
      await handle.result();
      return p;
    });
    assert.equal(crashes, 2);
    assert.equal(progress.totals.lag, 0);
    const { total } = await assertExactlyOnce(adapters, bucket, topic);
    assert.equal(total, produced.valid.length);
  });

  it('continues as new carrying the ledger, and the data stays exactly once', async () => {
    const { pipelineId, topic, bucket } = await pipeline(2);
    const produced = await producePins(adapters.kafka, topic, {
      start: 0,
      count: 300,
      partitions: 2,
    });
    const workflowId = `ingest-${pipelineId}-pin`;
    const progress = await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId,
        args: [
          {
            pipelineId,
            table: 'pin',
            maxRecords: 10,
            rotateIntervalMs: 200,
            idlePollMs: 100,
            maxHistoryEvents: 200,
            groupCommitIntervalMs: 300,
          },
        ],
      });
      const p = await waitFor(
        env.client.workflow.getHandle(workflowId),
        (x) => x.totals.recordsWritten === produced.valid.length && x.run > 1,
      );
      if (process.env.PINPIPE_SAVE_HISTORIES) {
        // The first run, which ended in continue-as-new: a replay fixture.
        const history = await env.client.workflow
          .getHandle(workflowId, handle.firstExecutionRunId)
          .fetchHistory();
        writeFileSync(
          // PINPIPE_SAVE_HISTORIES names the fixture file, e.g. ingest-topic-can-v2.json
          path.resolve(__dirname, '../fixtures/histories', process.env.PINPIPE_SAVE_HISTORIES),
          historyToJSON(history),
        );
      }
      await env.client.workflow.getHandle(workflowId).signal(stopSignal);
      await env.client.workflow.getHandle(workflowId).result();
      return p;
    });
    assert.ok(progress.run > 1, `ran ${progress.run} times`);
    const { total } = await assertExactlyOnce(adapters, bucket, topic);
    assert.equal(total, produced.valid.length);
  });

  it('fails at once, without retrying, on invalid input naming the field', async () => {
    await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(ingestTopic, {
          taskQueue,
          workflowId: `ingest-bad-${randomUUID()}`,
          args: [{ pipelineId: 'NOT-HEX', table: 'pin', maxRecords: -1 }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.ok(err.cause instanceof ApplicationFailure);
          assert.equal(err.cause.nonRetryable, true);
          assert.match(err.cause.message, /pipelineId: expected 12 lowercase hex/);
          assert.match(err.cause.message, /maxRecords:/);
          return true;
        },
      );
    });
  });

  it('fails with an actionable message when the topic does not exist', async () => {
    const pipelineId = randomPipelineId();
    await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-geo`,
          args: [{ pipelineId, table: 'geo' }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.ok(err.cause instanceof ActivityFailure);
          assert.ok(err.cause.cause instanceof ApplicationFailure);
          assert.equal(err.cause.cause.type, 'TopicNotFound');
          assert.match(err.cause.cause.message, /topic .*\.geo does not exist: provision/);
          return true;
        },
      );
    });
  });

  it('stops for good, naming partition and offset, at records no retry can read', async () => {
    const { pipelineId, topic, bucket } = await pipeline(1);
    await producePins(adapters.kafka, topic, { start: 0, count: 20, partitions: 1 });
    // The real port, except that from offset 10 on Kafka serves a batch it cannot decode (as
    // an lz4 batch from another producer would be: the broker test suite cannot write one).
    const unreadableFrom = 10;
    const kafka: KafkaPort = Object.create(adapters.kafka) as KafkaPort;
    let attemptsAtTheBadOffset = 0;
    kafka.readPartition = async (input) => {
      if (input.fromOffset >= unreadableFrom) {
        attemptsAtTheBadOffset++;
        throw new UnreadableRecordsError(
          `${topic}/0 at offset ${input.fromOffset}: record batch compressed with lz4: ...`,
          topic,
          0,
          input.fromOffset,
        );
      }
      const read = await adapters.kafka.readPartition(input);
      const records = read.records.filter((r) => r.offset < unreadableFrom);
      const last = records.at(-1);
      return { ...read, records, nextOffset: last ? last.offset + 1 : input.fromOffset };
    };
    await withWorker(createSinkActivities({ kafka, store: adapters.store }), async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-pin`,
          args: [{ pipelineId, table: 'pin', rotateIntervalMs: 500 }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.ok(err.cause instanceof ActivityFailure);
          assert.ok(err.cause.cause instanceof ApplicationFailure);
          assert.equal(err.cause.cause.type, 'UnreadableRecords');
          assert.equal(err.cause.cause.nonRetryable, true);
          assert.match(err.cause.cause.message, new RegExp(`${topic}/0 at offset 10: .*lz4`));
          return true;
        },
      );
    });
    assert.equal(attemptsAtTheBadOffset, 1, 'not retried');
    // What came before the unreadable batch is in the raw zone, once.
    const audit = await auditRawZone(adapters.store, bucket, topic, 'pin', new Map([[0, 10]]));
    assert.deepEqual(audit.problems, []);
    assert.equal(audit.byOffset.size, 10);
  });

  it('keeps its ledger when the Kafka group is reset, and says so', async () => {
    const { pipelineId, topic, bucket } = await pipeline(1);
    await producePins(adapters.kafka, topic, { start: 0, count: 20, partitions: 1 });
    // Offsets 0-4 were written by an earlier run (its carried ledger says so); then someone
    // ran `kafka-consumer-groups --reset-offsets --to-offset 15` on the sink's group.
    await adapters.kafka.commitGroupOffsets(ingestGroupId(topic), topic, [
      { partition: 0, offset: 15 },
    ]);
    const ledger = { '0': { nextOffset: 5, highWatermark: 5 } };
    const progress = await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [{ pipelineId, table: 'pin', rotateIntervalMs: 300, idlePollMs: 100, ledger }],
      });
      const p = await waitFor(handle, (x) => x.totals.recordsWritten === 15 && x.totals.lag === 0);
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(
        String(meta.currentDetails),
        /partition 0: the Kafka group says offset 15, the ledger 5; the ledger is kept/,
      );
      await handle.signal(stopSignal);
      await handle.result();
      return p;
    });
    assert.deepEqual(progress.groupDifferences, [
      { partition: 0, ledgerOffset: 5, groupOffset: 15 },
    ]);
    // 5..19 written: nothing between the ledger and the group's offset was skipped.
    const audit = await auditRawZone(adapters.store, bucket, topic, 'pin', new Map([[0, 20]]));
    assert.equal(audit.byOffset.size, 15);
    assert.ok([...audit.byOffset.keys()].every((k) => Number(k.split(':')[1]) >= 5));
  });

  it('counts, shows and keeps the offsets retention deleted before they were read', async () => {
    const { pipelineId, topic } = await pipeline(1);
    await producePins(adapters.kafka, topic, { start: 0, count: 30, partitions: 1 });
    const admin = createKafka(stackConfig().kafka).admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs it loaded
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '12' }] });
    } finally {
      await admin.disconnect();
    }
    const progress = await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [{ pipelineId, table: 'pin', rotateIntervalMs: 300, idlePollMs: 100 }],
      });
      await waitFor(handle, (x) => x.totals.recordsWritten === 18 && x.totals.lag === 0);
      const meta = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      assert.match(String(meta.currentDetails), /\*\*lost to retention 12\*\*/);
      await handle.signal(stopSignal);
      return handle.result();
    });
    assert.equal(progress.totals.lostToRetention, 12);
    assert.equal(progress.partitions[0]?.lostToRetention, 12);
    assert.equal(progress.partitions[0]?.nextOffset, 30);
  });

  it('stops for good at a compression bomb, says where, and ingest status shows why', async () => {
    const { pipelineId, topic, bucket } = await pipeline(1);
    await producePins(adapters.kafka, topic, { start: 0, count: 5, partitions: 1 });
    // Anyone who can produce can send this: 96 MiB of one byte, about 100 kB gzipped, over
    // the reader's 64 MiB cap per batch. It must not be inflated, retried or crash the worker.
    const producer = createKafka(stackConfig().kafka).producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: [{ value: Buffer.alloc(96 * 1024 * 1024, 0x61), partition: 0 }],
      });
    } finally {
      await producer.disconnect();
    }
    await producePins(adapters.kafka, topic, { start: 6, count: 5, partitions: 1 });
    await withWorker(createSinkActivities(adapters), async (taskQueue) => {
      await assert.rejects(
        env.client.workflow.execute(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-pin`,
          args: [{ pipelineId, table: 'pin', rotateIntervalMs: 300, idlePollMs: 100 }],
        }),
        (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          const cause = err.cause?.cause;
          assert.ok(cause instanceof ApplicationFailure);
          assert.equal(cause.type, 'UnreadableRecords');
          assert.equal(cause.nonRetryable, true);
          assert.match(cause.message, new RegExp(`${topic}/0 at offset 5: `));
          return true;
        },
      );
      // The CLI names the stop while a worker can still answer the progress query.
      const r = await runCli(['ingest', 'status', '--pipeline', pipelineId, '--table', 'pin'], {
        ...stackEnv(),
        TEMPORAL_ADDRESS: env.address, // this file's private dev server
        TEMPORAL_TASK_QUEUE: taskQueue,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^pin: FAILED/m);
      assert.match(r.stdout, new RegExp(`failed: cannot read ${topic}/0 at offset 5: `));
    });
    // Offsets before the bomb are in the raw zone, once.
    const audit = await auditRawZone(adapters.store, bucket, topic, 'pin', new Map([[0, 5]]));
    assert.deepEqual(audit.problems, []);
    assert.equal(audit.byOffset.size, 5);
  });
});

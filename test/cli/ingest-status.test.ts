import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import type { LiveFigures } from '../../src/cli/ingest-live';
import { bucketFor, topicFor } from '../../src/domain/tables';
import { ingestGroupId } from '../../src/domain/workflow-ids';
import type { IngestProgress } from '../../src/workflows/ingest-topic';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { startWorkerProcess, type Spawned } from '../helpers/processes';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';
import { runCli } from '../helpers/run-cli';

interface TableStatus {
  table: string;
  status: string;
  progress?: IngestProgress;
  live: LiveFigures | null;
  liveError?: string;
}

/** `pinpipe ingest status` against the stack: lag from Kafka's high watermark at the time asked. */
describe('pinpipe ingest status: live lag (CLI process)', function () {
  this.timeout(180_000);
  const adapters = createAdapters(stackConfig());
  const taskQueue = uniqueName('ingest-status-test');
  const env = { ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue };
  const idle = randomPipelineId();
  const running = randomPipelineId();
  let worker: Spawned | undefined;
  let connection: Connection | undefined;

  const value = (n: number) => JSON.stringify({ index: n });
  const produce = (topic: string, partition: number, count: number) =>
    adapters.kafka.produce(
      topic,
      Array.from({ length: count }, (_, n) => ({ value: value(n), partition })),
    );

  async function status(pipelineId: string, ...args: string[]): Promise<TableStatus[]> {
    const r = await runCli(['ingest', 'status', '--pipeline', pipelineId, '--json', ...args], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as TableStatus[];
  }

  after(async () => {
    if (connection) {
      const client = new Client({ connection });
      await client.workflow
        .getHandle(`ingest-${running}-pin`)
        .terminate('test over')
        .catch(() => undefined);
      await connection.close();
    }
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await adapters.kafka.deleteTopics([topicFor(idle, 'pin'), topicFor(running, 'pin')]);
    await adapters.store.deleteBucket(bucketFor(running)).catch(() => undefined);
    await adapters.close();
  });

  it('with no workflow: records waiting in Kafka, counted from the consumer group', async () => {
    const topic = topicFor(idle, 'pin');
    await adapters.kafka.ensureTopics([{ name: topic, partitions: 3 }]);
    await produce(topic, 0, 3);
    await produce(topic, 1, 2);
    // Where a previous run left off: the next one starts here.
    await adapters.kafka.commitGroupOffsets(ingestGroupId(topic), topic, [
      { partition: 0, offset: 1 },
    ]);

    const [pin, geo] = await status(idle);
    assert.equal(pin?.status, 'NOT_STARTED');
    assert.equal(pin?.progress, undefined);
    const kafkaHigh = (await adapters.kafka.watermarks(topic)).map((m) => m.high);
    assert.deepEqual(
      pin?.live?.partitions.map((p) => p.highWatermark),
      kafkaHigh,
      "the live figures are Kafka's high watermarks",
    );
    assert.deepEqual(pin?.live?.partitions, [
      { partition: 0, highWatermark: 3, nextOffset: 1, nextOffsetFrom: 'group', lag: 2 },
      { partition: 1, highWatermark: 2, nextOffset: 0, nextOffsetFrom: 'group', lag: 2 },
      { partition: 2, highWatermark: 0, nextOffset: 0, nextOffsetFrom: 'group', lag: 0 },
    ]);
    assert.equal(pin?.live?.lag, 4);
    assert.equal(geo?.live, null, 'no geo topic');
    assert.equal(geo?.liveError, `topic ${topicFor(idle, 'geo')} does not exist`);

    const text = await runCli(['ingest', 'status', '--pipeline', idle, '--table', 'pin'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^pin: NOT_STARTED · lag 4 \(live\)$/m);
    assert.match(
      text.stdout,
      /^ {2}partition 0: next 1 \(consumer group\) \/ live high 3 \(lag 2\)$/m,
    );
  });

  it('with a running workflow: records in an open batch count as lag', async () => {
    worker = await startWorkerProcess(taskQueue, env);
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    // A batch that stays open for the whole test: nothing flushes, so the ledger stays at 0.
    const started = await runCli(
      [
        ...['ingest', 'start', '--pipeline', running, '--table', 'pin', '--create-topics'],
        ...['--max-records', '1000', '--rotate-interval-ms', '600000'],
      ],
      env,
    );
    assert.equal(started.code, 0, started.stderr);
    const topic = topicFor(running, 'pin');
    for (let i = 0; ; i++) {
      const [pin] = await status(running, '--table', 'pin');
      if (pin?.progress?.partitions.length === 3) break;
      assert.ok(i < 100, 'the workflow reads its partitions');
      await new Promise((r) => setTimeout(r, 300));
    }
    await produce(topic, 1, 4);

    const [pin] = await status(running, '--table', 'pin');
    assert.equal(pin?.status, 'RUNNING');
    assert.equal(pin?.progress?.partitions[1]?.nextOffset, 0, 'nothing flushed');
    const kafkaHigh = (await adapters.kafka.watermarks(topic)).map((m) => m.high);
    assert.deepEqual(
      pin?.live?.partitions.map((p) => p.highWatermark),
      kafkaHigh,
    );
    assert.deepEqual(pin?.live?.partitions[1], {
      partition: 1,
      highWatermark: 4,
      nextOffset: 0,
      nextOffsetFrom: 'workflow',
      lag: 4,
    });
    assert.equal(pin?.live?.lag, 4);
    // The workflow's own figure lags behind until its next sinkBatch returns; never ahead.
    assert.ok((pin?.progress?.totals.lag ?? 0) <= 4);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createSinkActivities } from '../../src/activities/sink-activities';
import { bucketFor, topicFor } from '../../src/domain/tables';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
} from '../../src/workflows/ingest-topic';
import { pinRecord, randomPipelineId } from '../helpers/ingest-fixtures';
import { runKafkaJava } from '../helpers/java-kafka';
import { assertExactlyOnce } from '../helpers/raw-zone-audit';
import { stackConfig } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

/**
 * Pins written by a client that is not pinpipe (Kafka's own Java producer, batches compressed
 * the way Java compresses them: gzip, snappy in xerial framing, lz4 frames, zstd without a
 * size) and ingested by the sink: every offset in the raw zone exactly once, none quarantined.
 */
describe('pins from a Java producer, every codec, through the sink to the raw zone', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let dir: string;
  const topics: string[] = [];

  before(async () => {
    env = await createLocalEnv();
    adapters = createAdapters(stackConfig());
    dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-codec-pipeline-'));
  });

  after(async () => {
    await adapters?.kafka.deleteTopics(topics).catch(() => undefined);
    await adapters?.close();
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
    it(`${codec}: every record once, validated, none lost`, async () => {
      const pipelineId = randomPipelineId();
      const topic = topicFor(pipelineId, 'pin');
      await adapters.kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      topics.push(topic);
      const count = 2_000;
      const file = path.join(dir, `${codec}.ndjson`);
      await writeFile(
        file,
        Array.from({ length: count }, (_, i) => JSON.stringify(pinRecord(i))).join('\n') + '\n',
      );
      const printed = await runKafkaJava([
        'produce-lines',
        stackConfig().kafka.brokers[0]!,
        topic,
        codec,
        file,
      ]);
      assert.match(printed, new RegExp(`produced ${count} to ${topic.replace('.', '\\.')}`));

      const progress = await withTestWorker(env, createSinkActivities(adapters), async (tq) => {
        const handle = await env.client.workflow.start(ingestTopic, {
          taskQueue: tq,
          workflowId: `ingest-${pipelineId}-pin`,
          args: [{ pipelineId, table: 'pin', rotateIntervalMs: 300, idlePollMs: 100 }],
        });
        const deadline = Date.now() + 90_000;
        let p: IngestProgress;
        for (;;) {
          p = await handle.query(progressQuery);
          if (p.totals.recordsWritten + p.totals.quarantined >= count && p.totals.lag === 0) break;
          if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p.totals)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        await handle.signal(stopSignal);
        await handle.result();
        return p;
      });
      assert.equal(progress.totals.quarantined, 0);
      assert.equal(progress.totals.recordsWritten, count);
      const { audit, total } = await assertExactlyOnce(adapters, bucketFor(pipelineId), topic);
      assert.equal(total, count);
      for (let i = 0; i < count; i += 397) {
        assert.equal(audit.byOffset.get(`0:${i}`)?.line, JSON.stringify(pinRecord(i)));
      }
    });
  }
});

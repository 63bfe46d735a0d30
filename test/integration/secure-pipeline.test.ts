import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createSinkActivities } from '../../src/activities/sink-activities';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { loadConfig, type Config } from '../../src/config';
import type { Compression } from '../../src/kafka-settings';
import { bucketFor, topicFor } from '../../src/domain/tables';
import {
  ingestTopic,
  progressQuery,
  stopSignal,
  type IngestProgress,
} from '../../src/workflows/ingest-topic';
import { pinRecord, randomPipelineId } from '../helpers/ingest-fixtures';
import { assertExactlyOnce } from '../helpers/raw-zone-audit';
import { stackEnv } from '../helpers/stack';
import { createLocalEnv, withTestWorker } from '../helpers/temporal';

/**
 * The whole ingestion path (REST API → Kafka → sink → raw zone) over the local broker's
 * SASL_SSL listener: every connection pinpipe opens (the API's producer and admin, the sink's
 * reader, the test's own checks) goes through TLS with the stack's CA and SCRAM-SHA-512, as it
 * would against MSK or Confluent Cloud. The plaintext listener is not given to anything here.
 */

function secureConfig(compression: Compression): Config {
  const env = stackEnv();
  const brokers = env['PINPIPE_KAFKA_SECURE_BROKERS'];
  const ca = env['PINPIPE_KAFKA_CA_FILE'];
  if (!brokers || !ca) {
    throw new Error(
      '`scripts/stack.sh env` printed no secured Kafka listener (PINPIPE_KAFKA_SECURE_*)',
    );
  }
  return loadConfig({
    ...env,
    KAFKA_BROKERS: brokers,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: ca,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: env['PINPIPE_KAFKA_SASL_USERNAME'],
    KAFKA_SASL_PASSWORD: env['PINPIPE_KAFKA_SASL_PASSWORD'],
    KAFKA_COMPRESSION: compression,
  });
}

describe('the pipeline over TLS + SCRAM (the SASL_SSL listener)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  const opened: Adapters[] = [];
  const servers: IngestServer[] = [];

  before(async () => {
    env = await createLocalEnv();
  });

  after(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    for (const a of opened) await a.close().catch(() => undefined);
    await env?.teardown();
  });

  for (const compression of ['none', 'zstd'] as const) {
    it(`API → Kafka → sink → raw zone, exactly once (produced with ${compression})`, async () => {
      const config = secureConfig(compression);
      assert.deepEqual(config.kafka.security.saslMechanism, 'scram-sha-512');
      const adapters = createAdapters(config);
      opened.push(adapters);
      const pipelineId = randomPipelineId();
      const topic = topicFor(pipelineId, 'pin');
      const bucket = bucketFor(pipelineId);
      await adapters.kafka.ensureTopics([{ name: topic, partitions: 2 }]);

      // The adapters produce with config.kafka.compression, as the API's process does.
      const api = createIngestServer({ kafka: adapters.kafka });
      servers.push(api);
      const { port } = await api.listen(0, '127.0.0.1');
      const total = 300;
      for (let start = 0; start < total; start += 100) {
        const records = Array.from({ length: 100 }, (_, i) => ({ value: pinRecord(start + i) }));
        const res = await fetch(`http://127.0.0.1:${port}/topics/${topic}`, {
          method: 'POST',
          headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
          body: JSON.stringify({ records }),
        });
        assert.equal(res.status, 200, await res.text());
      }

      const sink = createSinkActivities(adapters);
      const progress = await withTestWorker(env, sink, async (taskQueue) => {
        const handle = await env.client.workflow.start(ingestTopic, {
          taskQueue,
          workflowId: `ingest-${pipelineId}-pin`,
          args: [{ pipelineId, table: 'pin', rotateIntervalMs: 500, idlePollMs: 100 }],
        });
        const deadline = Date.now() + 90_000;
        let p: IngestProgress;
        for (;;) {
          p = await handle.query(progressQuery);
          if (p.totals.recordsWritten === total && p.totals.lag === 0) break;
          if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p.totals)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        await handle.signal(stopSignal);
        await handle.result();
        return p;
      });
      assert.equal(progress.totals.quarantined, 0);
      const { total: stored } = await assertExactlyOnce(adapters, bucket, topic);
      assert.equal(stored, total);
      await adapters.kafka.deleteTopics([topic]);
    });
  }
});

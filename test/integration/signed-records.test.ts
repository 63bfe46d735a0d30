import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createKafka } from '../../src/adapters/kafkajs-kafka';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { createSinkActivities } from '../../src/activities/sink-activities';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { loadConfig } from '../../src/config';
import { parseSignatureHeader, SIGNATURE_HEADER } from '../../src/domain/signed-groups';
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
 * Signed runs on the real stack (PINPIPE_SIGNING_KEY): the ingest API's producer signs what it
 * validated, the signature survives the broker and the Fetch decoder, and the sink writes those
 * records without validating them again, while whatever another producer writes, signature
 * header or not, is validated in full.
 */
describe('signed records: API → Kafka → sink on the local stack', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let server: IngestServer | undefined;
  const config = loadConfig(stackEnv());

  before(async () => {
    assert.ok(config.kafka.signingKey, '`scripts/stack.sh env` sets PINPIPE_SIGNING_KEY');
    env = await createLocalEnv();
    adapters = createAdapters(config);
  });

  after(async () => {
    await server?.close().catch(() => undefined);
    await adapters?.close();
    await env?.teardown();
  });

  /** Runs the ingestion of `topic` until `records` offsets are durable; its final progress. */
  async function ingest(pipelineId: string, records: number): Promise<IngestProgress> {
    const sink = createSinkActivities(adapters);
    return withTestWorker(env, sink, async (taskQueue) => {
      const handle = await env.client.workflow.start(ingestTopic, {
        taskQueue,
        workflowId: `ingest-${pipelineId}-pin`,
        args: [{ pipelineId, table: 'pin', rotateIntervalMs: 300, idlePollMs: 100 }],
      });
      const deadline = Date.now() + 90_000;
      for (;;) {
        const p = await handle.query(progressQuery);
        if (p.totals.recordsWritten + p.totals.quarantined >= records && p.totals.lag === 0) {
          await handle.signal(stopSignal);
          await handle.result();
          return p;
        }
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(p.totals)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });
  }

  it('signs each partition run the API produced, on its first record, and the sink writes them once', async () => {
    const pipelineId = randomPipelineId();
    const topic = topicFor(pipelineId, 'pin');
    await adapters.kafka.ensureTopics([{ name: topic, partitions: 2 }]);
    server = createIngestServer({ kafka: adapters.kafka });
    const { port } = await server.listen(0, '127.0.0.1');
    const post = async (records: unknown[]) => {
      const res = await fetch(`http://127.0.0.1:${port}/topics/${topic}`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
        body: JSON.stringify({ records }),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await post(Array.from({ length: 40 }, (_, i) => ({ value: pinRecord(i), partition: i % 2 })));
    await post([{ value: pinRecord(40), partition: 0 }]);

    // In Kafka: each request's run per partition starts with a signature that claims the run.
    const read = await adapters.kafka.readPartition({
      topic,
      partition: 0,
      fromOffset: 0,
      maxRecords: 100,
      maxWaitMs: 2_000,
      untilCaughtUp: true,
    });
    const claims = read.records.map((r) => parseSignatureHeader(r.headers?.[SIGNATURE_HEADER]));
    assert.deepEqual(
      claims.map((c) => c?.count),
      [20, ...Array<undefined>(19), 1],
    );

    const progress = await ingest(pipelineId, 41);
    assert.deepEqual([progress.totals.recordsWritten, progress.totals.quarantined], [41, 0]);
    const { total } = await assertExactlyOnce(adapters, bucketFor(pipelineId), topic);
    assert.equal(total, 41);
    await adapters.kafka.deleteTopics([topic]);
  });

  it('writes what only the key could sign, and validates a copied signature on other bytes', async () => {
    const pipelineId = randomPipelineId();
    const topic = topicFor(pipelineId, 'pin');
    await adapters.kafka.ensureTopics([{ name: topic, partitions: 1 }]);
    // Not a pin: only a signature with the shared key lets it into the raw zone.
    const trusted = '{"not":"a pin","signed":"with the shared key"}';
    await adapters.kafka.produce(topic, [{ value: trusted, partition: 0, validated: true }]);
    const [signed] = (
      await adapters.kafka.readPartition({
        topic,
        partition: 0,
        fromOffset: 0,
        maxRecords: 1,
        maxWaitMs: 2_000,
      })
    ).records;
    const header = signed?.headers?.[SIGNATURE_HEADER];
    assert.ok(header, 'the producer signed the validated record');

    // Another producer (plain kafkajs, no key) copies that header onto bytes of its own.
    const outsider = createKafka(config.kafka).producer();
    await outsider.connect();
    try {
      await outsider.send({
        topic,
        messages: [
          {
            partition: 0,
            value: '{"not":"a pin","signed":"by nobody"}',
            headers: { [SIGNATURE_HEADER]: header },
          },
          {
            partition: 0,
            value: JSON.stringify(pinRecord(7)),
            headers: { [SIGNATURE_HEADER]: header },
          },
        ],
      });
    } finally {
      await outsider.disconnect();
    }

    const progress = await ingest(pipelineId, 3);
    assert.deepEqual([progress.totals.recordsWritten, progress.totals.quarantined], [2, 1]);
    const { audit } = await assertExactlyOnce(adapters, bucketFor(pipelineId), topic);
    assert.deepEqual(
      [0, 1, 2].map((o) => audit.byOffset.get(`0:${o}`)?.kind),
      ['raw', 'quarantine', 'raw'],
    );
    assert.equal(audit.byOffset.get('0:0')?.line, trusted);
    await adapters.kafka.deleteTopics([topic]);
  });
});

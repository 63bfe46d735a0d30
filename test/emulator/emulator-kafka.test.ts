import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import { TABLES } from '../../src/domain/tables';
import { runEmulator } from '../../src/emulator/run-emulator';
import { exitCodeFor } from '../../src/emulator/report';
import { recordCount, startApiHarness, type ApiHarness } from '../api/harness';

/** Every value in a topic, as stored (all partitions, from the start). */
async function valuesIn(h: ApiHarness, topic: string): Promise<string[]> {
  const values: string[] = [];
  for (const mark of await h.kafka.watermarks(topic)) {
    if (mark.high === mark.low) continue;
    const read = await h.kafka.readPartition({
      topic,
      partition: mark.partition,
      fromOffset: mark.low,
      maxRecords: mark.high - mark.low,
      maxWaitMs: 15_000,
    });
    values.push(...read.records.map((r) => Buffer.from(r.value!).toString('utf8')));
  }
  return values;
}

describe('emulator → ingest API → Kafka (local stack)', function () {
  this.timeout(120_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('lands exactly count records in each topic, and the summary says so', async () => {
    const summary = await runEmulator({
      url: h.url,
      pipelineId: h.pipelineId,
      count: 30,
      rate: 0,
      concurrency: 3,
      batch: 5,
      seed: 'integration',
    });
    assert.equal(summary.outcome, 'completed');
    assert.equal(summary.events, 30);
    assert.equal(summary.sent, 90);
    assert.equal(summary.acknowledged, 90);
    assert.equal(summary.rejected, 0);
    assert.equal(summary.failed, 0);
    assert.equal(summary.requests, 18, '6 batches × 3 tables');
    assert.equal(exitCodeFor(summary), 0);
    for (const table of TABLES) {
      assert.equal(await recordCount(h.kafka, h.topics[table]), 30, table);
    }
    // Exactly the drawn events' records (as a multiset: concurrency reorders batches).
    const events = [...drawEvents({ seed: 'integration', count: 30 })];
    for (const table of TABLES) {
      const stored = (await valuesIn(h, h.topics[table])).sort();
      assert.deepEqual(stored, events.map((e) => JSON.stringify(e[table])).sort(), table);
    }
  });
});

describe('emulator against an API that requires a token', function () {
  this.timeout(60_000);
  const token = 'emulator-token-123456';
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness({ token });
  });
  after(async () => {
    await h?.close();
  });

  it('sends the bearer token; without it the run aborts on the 401', async () => {
    const options = {
      url: h.url,
      pipelineId: h.pipelineId,
      count: 4,
      rate: 0,
      concurrency: 2,
      batch: 2,
      seed: 3,
    };
    const ok = await runEmulator({ ...options, token });
    assert.equal(ok.acknowledged, 12);
    assert.equal(await recordCount(h.kafka, h.topics.user), 4);
    const refused = await runEmulator(options);
    assert.equal(refused.outcome, 'aborted');
    assert.match(refused.abortReason ?? '', /HTTP 401: Unauthorized/);
    assert.equal(refused.acknowledged, 0);
    assert.equal(exitCodeFor(refused), 1);
  });
});

import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { DEFAULT_TOPIC_CACHE_ENTRIES, TopicRegistry } from '../../src/api/topic-registry';
import { topicFor } from '../../src/domain/tables';
import { randomPipelineId, request, startApiHarness, type ApiHarness } from './harness';

/** Heap in use after a full collection (gc exposed at run time for this measurement). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MiB = 1024 * 1024;

describe('topic cache is bounded', function () {
  this.timeout(120_000);

  it(`200,000 distinct unknown topics: at most ${DEFAULT_TOPIC_CACHE_ENTRIES} remembered, heap flat`, async () => {
    let lookups = 0;
    const registry = new TopicRegistry({
      partitionCount: () => {
        lookups++;
        return Promise.resolve(undefined);
      },
    });
    const before = heapAfterGc();
    for (let i = 0; i < 200_000; i++) {
      assert.equal(
        await registry.partitionCount(`${i.toString(16).padStart(12, '0')}.pin`),
        undefined,
      );
    }
    assert.equal(lookups, 200_000);
    assert.equal(registry.size, DEFAULT_TOPIC_CACHE_ENTRIES);
    const grown = heapAfterGc() - before;
    // Unbounded, these entries held about 29 MiB.
    assert.ok(grown < 4 * MiB, `heap grew ${(grown / MiB).toFixed(1)} MiB`);
  });

  it('drops the least recently used topic first', async () => {
    let lookups = 0;
    const registry = new TopicRegistry(
      {
        partitionCount: () => {
          lookups++;
          return Promise.resolve(3);
        },
      },
      { maxEntries: 2 },
    );
    await registry.partitionCount('a');
    await registry.partitionCount('b');
    await registry.partitionCount('a'); // a hit: a is now the most recent
    await registry.partitionCount('c'); // evicts b
    assert.equal(lookups, 3);
    await registry.partitionCount('a');
    assert.equal(lookups, 3, 'a still cached');
    await registry.partitionCount('b');
    assert.equal(lookups, 4, 'b was evicted');
    assert.equal(registry.size, 2);
  });

  it('refuses a bound that is not a positive integer', () => {
    assert.throws(
      () => new TopicRegistry({ partitionCount: () => Promise.resolve(1) }, { maxEntries: 0 }),
      /maxEntries must be a positive integer/,
    );
  });
});

describe('topic cache through the API (local Kafka)', function () {
  this.timeout(180_000);
  let h: ApiHarness;
  let wide: IngestServer | undefined;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await wide?.close();
    await h?.close();
  });

  /** Posts to each topic name, `concurrency` at a time; every answer must be `status`. */
  async function postAll(url: string, topics: string[], status: number, concurrency = 32) {
    let next = 0;
    const body = JSON.stringify({ records: [{ value: {} }] });
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < topics.length) {
          const topic = topics[next++]!;
          const reply = await request(`${url}/topics/${encodeURIComponent(topic)}`, {
            method: 'POST',
            headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
            body,
          });
          assert.equal(reply.status, status, `${topic}: ${reply.text}`);
        }
      }),
    );
  }

  it('20,000 distinct topics of unserved pipelines or no pipeline: 404 without a lookup', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) =>
      i % 2 === 0 ? topicFor(randomPipelineId(), 'pin') : `no-such-topic-${i}`,
    );
    await postAll(h.url, names, 404);
    assert.equal(h.api.topics.size, 0, 'nothing looked up, nothing cached');
  });

  it('a lookup per distinct missing topic of a served pipeline, cached up to the bound', async () => {
    const pipelines = Array.from({ length: 400 }, () => randomPipelineId());
    wide = createIngestServer({ kafka: h.kafka, pipelines, topicCacheEntries: 100 });
    const url = `http://127.0.0.1:${(await wide.listen(0)).port}`;
    const names = pipelines.flatMap((id) => [topicFor(id, 'pin'), topicFor(id, 'user')]);
    await postAll(url, names, 404, 8);
    assert.equal(wide.topics.size, 100);
  });
});

import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { drawEvents } from '../../src/domain/generator';
import type { KafkaPort } from '../../src/ports/kafka';
import { freePort } from '../helpers/processes';
import {
  randomPipelineId,
  recordCount,
  request,
  startApiHarness,
  type ApiHarness,
} from './harness';

/** A real kafkajs client pointed at a port nothing listens on, with few retries. */
async function deadKafka(): Promise<KafkajsKafka> {
  const port = await freePort();
  const brokers = [`127.0.0.1:${port}`];
  return new KafkajsKafka(
    new Kafka({
      clientId: 'pinpipe-test-dead',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 300,
      retry: { retries: 1, initialRetryTime: 100 },
    }),
    { brokers, clientId: 'pinpipe-test-dead' },
  );
}

const [event] = [...drawEvents({ seed: 'unavailable', count: 1 })];
const body = JSON.stringify({ records: [{ value: event!.pin }] });

describe('ingest API when Kafka is unavailable', function () {
  this.timeout(60_000);

  describe('broker unreachable', () => {
    let dead: KafkajsKafka;
    let api: IngestServer;
    let url: string;

    before(async () => {
      dead = await deadKafka();
      api = createIngestServer({ kafka: dead, kafkaTimeoutMs: 5_000, healthTimeoutMs: 2_000 });
      url = `http://127.0.0.1:${(await api.listen(0)).port}`;
    });
    after(async () => {
      await api?.close();
      await dead?.disconnect();
    });

    it('answers a produce with a retriable 503 50301, not a hang', async () => {
      const reply = await request(`${url}/topics/${randomPipelineId()}.pin`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
        body,
      });
      assert.equal(reply.status, 503);
      assert.equal((reply.body as { error_code: number }).error_code, 50301);
      assert.match(
        (reply.body as { message: string }).message,
        /^Kafka is unavailable, retry later: /,
      );
      assert.equal(reply.headers.get('retry-after'), '1');
    });

    it('reports unhealthy on /healthz and 503 on GET /topics', async () => {
      const health = await request(`${url}/healthz`);
      assert.equal(health.status, 503);
      assert.equal((health.body as { status: string }).status, 'unavailable');
      assert.equal((await request(`${url}/topics`)).status, 503);
    });
  });

  describe('broker lost between the topic lookup and the produce', () => {
    let h: ApiHarness;
    let dead: KafkajsKafka;
    let api: IngestServer;
    let url: string;

    before(async () => {
      h = await startApiHarness();
      dead = await deadKafka();
      // Metadata from the live broker, produce through a producer whose broker is gone.
      const split = new Proxy<KafkaPort>(h.kafka, {
        get(target, prop) {
          if (prop === 'produce') return dead.produce.bind(dead);
          const member = Reflect.get(target, prop) as unknown;
          return typeof member === 'function' ? (member as () => unknown).bind(target) : member;
        },
      });
      api = createIngestServer({ kafka: split, kafkaTimeoutMs: 5_000 });
      url = `http://127.0.0.1:${(await api.listen(0)).port}`;
    });
    after(async () => {
      await api?.close();
      await dead?.disconnect();
      await h?.close();
    });

    it('fails the whole request with 503 50301 and produces nothing', async () => {
      const reply = await request(`${url}/topics/${h.topics.pin}`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
        body: JSON.stringify({ records: [{ value: event!.pin }, { value: { bad: true } }] }),
      });
      assert.equal(reply.status, 503);
      assert.equal((reply.body as { error_code: number }).error_code, 50301);
      assert.match(
        (reply.body as { message: string }).message,
        /no record of this request was acknowledged/,
      );
      assert.equal(await recordCount(h.kafka, h.topics.pin), 0);
    });
  });
});

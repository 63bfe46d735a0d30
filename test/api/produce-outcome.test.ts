import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Producer, RecordMetadata, TopicMessages } from 'kafkajs';
import { createKafka, KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import {
  ProduceAttemptError,
  ProduceCoalescer,
  ProduceNotSentError,
} from '../../src/adapters/produce-coalescer';
import { OUTCOME_UNKNOWN_MESSAGE } from '../../src/api/errors';
import { classifyProduceFailure } from '../../src/api/kafka-errors';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { drawEvents } from '../../src/domain/generator';
import type { KafkaPort, ProducedOffset } from '../../src/ports/kafka';
import { stackConfig, uniqueName } from '../helpers/stack';
import {
  offsetsOf,
  readBack,
  recordCount,
  request,
  startApiHarness,
  type ApiHarness,
  type Reply,
} from './harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = [...drawEvents({ seed: 'outcome', count: 40 })];

/** The harness's real Kafka, with `produce` replaced. */
function withProduce(kafka: KafkaPort, produce: KafkaPort['produce']): KafkaPort {
  return new Proxy<KafkaPort>(kafka, {
    get(target, prop) {
      if (prop === 'produce') return produce;
      const member = Reflect.get(target, prop) as unknown;
      return typeof member === 'function' ? (member as () => unknown).bind(target) : member;
    },
  });
}

function post(url: string, topic: string, values: unknown[]): Promise<Reply> {
  return request(`${url}/topics/${topic}`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
    body: JSON.stringify({ records: values.map((value) => ({ value })) }),
  });
}

function errorOf(reply: Reply): { error_code: number; message: string } {
  return reply.body as { error_code: number; message: string };
}

describe('ingest API: a produce whose outcome is unknown says so', function () {
  this.timeout(120_000);
  let h: ApiHarness;
  const servers: IngestServer[] = [];

  /** An API over the harness's topics whose produce is `produce`. */
  async function apiWith(produce: KafkaPort['produce'], produceTimeoutMs?: number) {
    const api = createIngestServer({
      kafka: withProduce(h.kafka, produce),
      pipelines: [h.pipelineId],
      ...(produceTimeoutMs === undefined ? {} : { produceTimeoutMs }),
    });
    servers.push(api);
    return `http://127.0.0.1:${(await api.listen(0)).port}`;
  }

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    for (const api of servers) await api.close();
    await h?.close();
  });

  it('the broker acknowledges after the API gave up: 504 50401, and the record is in Kafka', async () => {
    let acknowledged: Promise<ProducedOffset[]> | undefined;
    // The real produce completes; its answer reaches the API only after the API's deadline.
    const url = await apiWith((topic, records) => {
      acknowledged = h.kafka.produce(topic, records);
      return acknowledged.then(async (offsets) => {
        await sleep(1_500);
        return offsets;
      });
    }, 300);
    const before = await recordCount(h.kafka, h.topics.pin);
    const reply = await post(url, h.topics.pin, [events[0]!.pin]);

    assert.equal(reply.status, 504, reply.text);
    assert.equal(errorOf(reply).error_code, 50401);
    assert.ok(errorOf(reply).message.startsWith(OUTCOME_UNKNOWN_MESSAGE), reply.text);
    assert.match(errorOf(reply).message, /Kafka produce did not answer within 300 ms/);
    assert.equal(reply.headers.get('retry-after'), null, 'retrying is the client’s call');
    // What the answer warned about: the record did land.
    const [offset] = await acknowledged!;
    assert.equal(await recordCount(h.kafka, h.topics.pin), before + 1);
    const stored = await readBack(h.kafka, h.topics.pin, [offset!]);
    assert.equal(
      stored.get(`${offset!.partition}:${offset!.offset}`)?.value,
      JSON.stringify(events[0]!.pin),
    );
  });

  const protocolError = (type: string) =>
    Object.assign(new Error(`broker said ${type}`), {
      name: 'KafkaJSProtocolError',
      type,
      retriable: false,
    });

  const cases: {
    name: string;
    error: () => Error;
    status: number;
    code?: number;
    message?: RegExp;
    retryAfter?: string | null;
  }[] = [
    {
      name: 'a send that failed after the records reached the producer: 504 50401',
      error: () => new ProduceAttemptError(new Error('Connection closed'), h.topics.pin, 1),
      status: 504,
      code: 50401,
      message:
        /^the outcome of this produce is unknown: .*handed to the producer: Connection closed/,
      retryAfter: null,
    },
    {
      name: 'a broker refusal of a send of several partition batches: 504 50401 (some may be in)',
      error: () => new ProduceAttemptError(protocolError('MESSAGE_TOO_LARGE'), h.topics.pin, 2),
      status: 504,
      code: 50401,
      message: /MESSAGE_TOO_LARGE.*2 partition batches of which some may have been written/,
    },
    {
      name: 'records dropped from the queue unsent: 503 50301, retry is safe',
      error: () => new ProduceNotSentError(h.topics.pin, 15_000),
      status: 503,
      code: 50301,
      message: /waited 15000 ms .* were not sent.*none was sent: retrying cannot duplicate them/,
      retryAfter: '1',
    },
    {
      name: 'Kafka failing before the records reached the producer: 503 50301',
      error: () => new Error('Connection error: connect ECONNREFUSED 127.0.0.1:1'),
      status: 503,
      code: 50301,
      message: /^Kafka is unavailable, retry later: Connection error.*none was sent/,
      retryAfter: '1',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const url = await apiWith(() => Promise.reject(c.error()));
      const reply = await post(url, h.topics.pin, [events[1]!.pin]);
      assert.equal(reply.status, c.status, reply.text);
      assert.equal(errorOf(reply).error_code, c.code);
      assert.match(errorOf(reply).message, c.message!);
      if (c.retryAfter !== undefined) assert.equal(reply.headers.get('retry-after'), c.retryAfter);
    });
  }

  it('a broker refusal of a single partition batch: 200, each record refused (nothing written)', async () => {
    const url = await apiWith(() =>
      Promise.reject(new ProduceAttemptError(protocolError('MESSAGE_TOO_LARGE'), 'x', 1)),
    );
    const offsets = offsetsOf(await post(url, h.topics.pin, [events[2]!.pin, events[3]!.pin]));
    for (const o of offsets) {
      assert.equal(o.error_code, 1);
      assert.match(o.error!, /^Kafka refused the records: MESSAGE_TOO_LARGE/);
    }
  });
});

describe('ingest API: coalesced produces fail per topic (local Kafka)', function () {
  this.timeout(180_000);
  const config = stackConfig().kafka;
  const admin = KafkajsKafka.fromOptions(config);
  let producer: Producer;
  let healthy: string;
  let doomed: string;
  const value = (tag: string) => `${tag}-${randomBytes(4).toString('hex')}`;

  /** Everything in partition 0 of `topic`, as text. */
  async function contents(topic: string): Promise<string[]> {
    const [mark] = await admin.watermarks(topic);
    if (!mark || mark.high === 0) return [];
    const read = await admin.readPartition({
      topic,
      partition: 0,
      fromOffset: 0,
      maxRecords: mark.high,
      maxWaitMs: 10_000,
      untilCaughtUp: true,
    });
    return read.records.map((r) => Buffer.from(r.value!).toString('utf8'));
  }

  beforeEach(async () => {
    healthy = uniqueName('coalesce-healthy');
    doomed = uniqueName('coalesce-doomed');
    await admin.ensureTopics([
      { name: healthy, partitions: 1 },
      { name: doomed, partitions: 1 },
    ]);
    // A producer like KafkajsKafka's, which has written to both topics (so it knows them),
    // before another client deletes one of them.
    producer = createKafka(config).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    for (const topic of [healthy, doomed]) {
      await producer.send({ topic, acks: -1, messages: [{ value: 'warm-up', partition: 0 }] });
    }
    const other = KafkajsKafka.fromOptions(config);
    await other.deleteTopics([doomed]);
    await other.disconnect();
  });
  afterEach(async () => {
    await producer?.disconnect();
    await admin.deleteTopics([healthy, doomed]);
  });
  after(async () => {
    await admin.disconnect();
  });

  it('why one send carries one topic: a two-topic send fails as a whole, yet the healthy topic’s record is written', async () => {
    const mine = value('two-topic');
    await assert.rejects(
      producer.sendBatch({
        acks: -1,
        topicMessages: [
          { topic: healthy, messages: [{ value: mine, partition: 0 }] },
          { topic: doomed, messages: [{ value: 'lost', partition: 0 }] },
        ],
      }),
      (err: unknown) => classifyProduceFailure(err).kind === 'unknown-topic',
    );
    assert.deepEqual(await contents(healthy), ['warm-up', mine]);
  });

  it('the healthy calls queued with a call to a just-deleted topic get their own offsets', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sends: string[][] = [];
    const coalescer = new ProduceCoalescer(async (topicMessages) => {
      sends.push(topicMessages.map((t) => t.topic));
      if (sends.length === 1) await held; // keep the first send in flight while others queue
      return producer.sendBatch({ acks: -1, topicMessages });
    });
    const first = value('first');
    const second = value('second');
    const third = value('third');
    const calls = [
      coalescer.produce(healthy, [{ value: first, partition: 0 }]),
      coalescer.produce(doomed, [{ value: 'to the deleted topic', partition: 0 }]),
      coalescer.produce(healthy, [{ value: second, partition: 0 }]),
      coalescer.produce(healthy, [{ value: third, partition: 0 }]),
    ];
    release();
    const [a, b, c, d] = await Promise.allSettled(calls);

    assert.deepEqual(sends, [[healthy], [doomed], [healthy]], 'one topic per send, oldest first');
    assert.equal(a!.status, 'fulfilled');
    assert.equal(b!.status, 'rejected');
    const failure = (b as PromiseRejectedResult).reason as unknown;
    assert.ok(failure instanceof ProduceAttemptError);
    assert.equal(classifyProduceFailure(failure).kind, 'unknown-topic', String(failure));
    assert.deepEqual(
      [c, d].map((r) => (r as PromiseFulfilledResult<ProducedOffset[]>).value),
      [[{ partition: 0, offset: 2 }], [{ partition: 0, offset: 3 }]],
    );
    assert.deepEqual(await contents(healthy), ['warm-up', first, second, third], 'each once');
  });
});

describe('ingest API: concurrent requests, one topic deleted a moment ago (local Kafka)', function () {
  this.timeout(180_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('the requests to the healthy topic get 200 and land exactly once; the other gets 404', async () => {
    // The API, its adapter and its producer all know both topics...
    offsetsOf(await h.post(`/topics/${h.topics.pin}`, { records: [{ value: events[0]!.pin }] }));
    offsetsOf(await h.post(`/topics/${h.topics.geo}`, { records: [{ value: events[0]!.geo }] }));
    // ...when another client deletes one of them.
    const other = KafkajsKafka.fromOptions(stackConfig().kafka);
    await other.deleteTopics([h.topics.geo]);
    await other.disconnect();

    // Hold the adapter's first send in flight until every request has reached the adapter, so
    // the others queue together behind it: the case where they used to share one send.
    const adapter = h.kafka as unknown as { produce: KafkaPort['produce'] };
    const producer = h.kafka.producer as unknown as {
      sendBatch: (batch: TopicMessages[]) => Promise<RecordMetadata[]>;
    };
    assert.equal(typeof producer.sendBatch, 'function', 'KafkajsProducer sends through sendBatch');
    const sendBatch = producer.sendBatch.bind(h.kafka.producer);
    const produce = adapter.produce.bind(h.kafka);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const sends: string[][] = [];
    let entered = 0;
    producer.sendBatch = async (batch) => {
      sends.push(batch.map((t) => t.topic));
      if (sends.length === 1) await held;
      return sendBatch(batch);
    };
    adapter.produce = (topic, records) => {
      entered++;
      return produce(topic, records);
    };

    const before = await recordCount(h.kafka, h.topics.pin);
    const pins = events.slice(1, 12).map((e) => e.pin);
    const postPin = (pin: unknown) =>
      h.post(`/topics/${h.topics.pin}`, { records: [{ value: pin }] });
    const first = postPin(pins[0]);
    while (sends.length === 0) await sleep(5);
    const rest = [
      ...pins.slice(1, 6).map(postPin),
      h.post(`/topics/${h.topics.geo}`, { records: [{ value: events[1]!.geo }] }),
      ...pins.slice(6).map(postPin),
    ];
    while (entered < 1 + rest.length) await sleep(5);
    await sleep(100); // from the adapter's produce into the coalescer's queue: cached metadata
    release();
    const replies = [await first, ...(await Promise.all(rest))];
    delete (producer as Partial<typeof producer>).sendBatch;
    delete (adapter as Partial<typeof adapter>).produce;

    const geo = replies.splice(6, 1)[0]!;
    assert.equal(geo.status, 404, geo.text);
    assert.deepEqual(geo.body, { error_code: 40401, message: `Topic ${h.topics.geo} not found` });
    const offsets = replies.map((r) => offsetsOf(r)[0]!);
    assert.ok(
      offsets.every((o) => o.error_code === null),
      JSON.stringify(offsets),
    );
    assert.equal(await recordCount(h.kafka, h.topics.pin), before + pins.length, 'each once');
    const stored = await readBack(
      h.kafka,
      h.topics.pin,
      offsets.map((o) => ({ partition: o.partition!, offset: o.offset! })),
    );
    offsets.forEach((o, i) =>
      assert.equal(stored.get(`${o.partition}:${o.offset}`)?.value, JSON.stringify(pins[i])),
    );
    assert.ok(
      sends.every((topics) => topics.length === 1),
      `one topic per send: ${JSON.stringify(sends)}`,
    );
  });
});

import assert from 'node:assert/strict';
import type { RecordMetadata, TopicMessages } from 'kafkajs';
import {
  ProduceAttemptError,
  ProduceCoalescer,
  ProduceNotSentError,
} from '../../src/adapters/produce-coalescer';
import {
  apiProduceTimeoutMs,
  KAFKA_PRODUCE_TIMING,
  maxRetryBackoffMs,
  producerSendBoundMs,
  type RetrySettings,
} from '../../src/adapters/kafka-produce-timing';

/** A send that records what it was given and answers when told to. */
function scriptedSend() {
  const sends: { batch: TopicMessages[]; settle: (err?: Error) => void }[] = [];
  const offsets = new Map<string, number>();
  const send = (batch: TopicMessages[]) =>
    new Promise<RecordMetadata[]>((resolve, reject) => {
      sends.push({
        batch,
        settle: (err) => {
          if (err) return reject(err);
          const meta: RecordMetadata[] = [];
          for (const { topic, messages } of batch) {
            for (const p of new Set(messages.map((m) => m.partition!))) {
              const key = `${topic}/${p}`;
              const base = offsets.get(key) ?? 0;
              offsets.set(key, base + messages.filter((m) => m.partition === p).length);
              meta.push({ topicName: topic, partition: p, errorCode: 0, baseOffset: String(base) });
            }
          }
          resolve(meta);
        },
      });
    });
  return { send, sends };
}

const msg = (value: string, partition = 0) => ({ value, partition });
const tick = () => new Promise((r) => setImmediate(r));

describe('ProduceCoalescer', () => {
  it('batches the calls of one topic queued behind a send into the next send', async () => {
    const { send, sends } = scriptedSend();
    const c = new ProduceCoalescer(send);
    const calls = [
      c.produce('t', [msg('a')]),
      c.produce('t', [msg('b'), msg('c', 1)]),
      c.produce('t', [msg('d')]),
    ];
    await tick();
    assert.equal(sends.length, 1);
    sends[0]!.settle();
    await tick();
    assert.equal(sends.length, 2, 'everything queued went out in one send');
    assert.deepEqual(
      sends[1]!.batch.map((t) => t.messages.map((m) => m.value)),
      [['b', 'c', 'd']],
    );
    sends[1]!.settle();
    assert.deepEqual(await Promise.all(calls), [
      [{ partition: 0, offset: 0 }],
      [
        { partition: 0, offset: 1 },
        { partition: 1, offset: 0 },
      ],
      [{ partition: 0, offset: 2 }],
    ]);
  });

  it('sends one topic at a time, the oldest queued first, each topic in its order', async () => {
    const { send, sends } = scriptedSend();
    const c = new ProduceCoalescer(send);
    const calls = [
      c.produce('a', [msg('a1')]),
      c.produce('b', [msg('b1')]),
      c.produce('a', [msg('a2')]),
      c.produce('c', [msg('c1')]),
      c.produce('b', [msg('b2')]),
    ];
    for (let i = 0; i < 4; i++) {
      await tick();
      sends[i]?.settle();
    }
    await Promise.all(calls);
    assert.deepEqual(
      sends.map((s) =>
        s.batch.map((t) => `${t.topic}:${t.messages.map((m) => m.value).join('+')}`),
      ),
      [['a:a1'], ['b:b1+b2'], ['a:a2'], ['c:c1']],
    );
  });

  it('a failed send fails its own callers only, each with a ProduceAttemptError', async () => {
    const { send, sends } = scriptedSend();
    const c = new ProduceCoalescer(send);
    const first = c.produce('a', [msg('a0')]);
    // Settled into values at once: they fail before this test looks at them.
    const doomed = [c.produce('gone', [msg('x', 0)]), c.produce('gone', [msg('y', 1)])].map((p) =>
      p.then(
        () => assert.fail('expected a rejection'),
        (err: unknown) => err,
      ),
    );
    const healthy = c.produce('a', [msg('a1')]);
    await tick();
    sends[0]!.settle();
    await tick();
    const cause = Object.assign(new Error('This server does not host this topic-partition'), {
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    sends[1]!.settle(cause);
    await tick();
    sends[2]!.settle();
    assert.deepEqual(await first, [{ partition: 0, offset: 0 }]);
    assert.deepEqual(await healthy, [{ partition: 0, offset: 1 }]);
    for (const err of await Promise.all(doomed)) {
      assert.ok(err instanceof ProduceAttemptError);
      assert.equal(err.cause, cause);
      assert.equal(err.topic, 'gone');
      assert.equal(err.partitionBatches, 2);
    }
  });

  it('a call queued longer than maxQueueMs fails unsent, and its records never reach the producer', async () => {
    const { send, sends } = scriptedSend();
    const c = new ProduceCoalescer(send, { maxQueueMs: 50 });
    const stuck = c.produce('t', [msg('in flight')]);
    const shed = c.produce('t', [msg('shed')]);
    await assert.rejects(shed, (err: unknown) => {
      assert.ok(err instanceof ProduceNotSentError);
      assert.match(err.message, /waited 50 ms behind other sends to Kafka and were not sent/);
      return true;
    });
    sends[0]!.settle();
    assert.deepEqual(await stuck, [{ partition: 0, offset: 0 }]);
    const later = c.produce('t', [msg('later')]);
    await tick();
    sends[1]!.settle();
    await later;
    assert.deepEqual(
      sends.map((s) => s.batch[0]!.messages.map((m) => m.value)),
      [['in flight'], ['later']],
    );
  });

  it('packs a topic’s calls under the per-partition limit, keeping their order', async () => {
    const { send, sends } = scriptedSend();
    const c = new ProduceCoalescer(send, { maxPartitionBytes: 1_000 });
    const big = 'x'.repeat(200); // ~664 bytes by the coalescer's estimate
    const calls = [
      c.produce('t', [msg('first')]),
      c.produce('t', [msg(big)]),
      c.produce('t', [msg(big)]),
      c.produce('t', [msg('small')]),
    ];
    for (let i = 0; i < 4; i++) {
      await tick();
      sends[i]?.settle();
    }
    await Promise.all(calls);
    assert.deepEqual(
      sends.map((s) => s.batch[0]!.messages.length),
      [1, 1, 2],
      'the second big call waits, and the small one stays behind it',
    );
  });
});

describe('produce timing: the API waits longer than the producer tries', () => {
  it('maxRetryBackoffMs is the longest back-off kafkajs’s retrier can take', async () => {
    // kafkajs's own retrier, with Math.random at its maximum and its waits recorded, not waited.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const createRetry = require('kafkajs/src/retry') as (
      o: RetrySettings,
    ) => (fn: () => Promise<unknown>) => Promise<unknown>;
    const random = Math.random;
    const timeout = global.setTimeout;
    const waits: number[] = [];
    Math.random = () => 1 - Number.EPSILON;
    global.setTimeout = ((fn: () => void, ms: number) => {
      waits.push(ms);
      setImmediate(fn);
      return 0;
    }) as unknown as typeof setTimeout;
    try {
      const retry = createRetry(KAFKA_PRODUCE_TIMING.retry);
      await assert.rejects(retry(() => Promise.reject(new Error('retriable'))));
    } finally {
      Math.random = random;
      global.setTimeout = timeout;
    }
    assert.equal(waits.length, KAFKA_PRODUCE_TIMING.retry.retries);
    assert.equal(
      waits.reduce((a, b) => a + b, 0),
      maxRetryBackoffMs(KAFKA_PRODUCE_TIMING.retry),
    );
  });

  it('the API’s produce timeout outlasts the queue wait and every attempt of the producer', () => {
    const t = KAFKA_PRODUCE_TIMING;
    assert.equal(
      producerSendBoundMs(),
      (t.retry.retries + 1) * (t.connectionTimeoutMs + t.requestTimeoutMs) +
        maxRetryBackoffMs(t.retry),
    );
    assert.ok(apiProduceTimeoutMs() > t.maxQueueMs + producerSendBoundMs());
    assert.ok(t.ackTimeoutMs < t.requestTimeoutMs, 'the broker answers before kafkajs gives up');
    // The numbers as they stand: 20 s queue + 6 × (3 + 5) s + 8.2 s back-off + 2 s = 78.2 s.
    assert.equal(apiProduceTimeoutMs(), 78_200);
  });
});

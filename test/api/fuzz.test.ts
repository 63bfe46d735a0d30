import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import {
  offsetsOf,
  readBack,
  recordCount,
  startApiHarness,
  type ApiHarness,
  type Reply,
} from './harness';

/** Small seeded PRNG (mulberry32): a failing fuzz case replays with the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUZZ_SEED = 20240611;

describe('ingest API under malformed input (fuzz)', function () {
  this.timeout(180_000);
  let h: ApiHarness;
  const random = rng(FUZZ_SEED);
  const int = (n: number) => Math.floor(random() * n);
  const events = [...drawEvents({ seed: 'fuzz', count: 50 })];

  function randomValue(depth = 0): unknown {
    switch (int(depth > 3 ? 6 : 8)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return int(1000) - 500;
      case 3:
        return random() * 1e6;
      case 4:
        return 'ü€😀\u0000"\\'.repeat(int(4)) + String(int(100));
      case 5:
        return '';
      case 6:
        return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: int(4) }, (_, i) => [`k${i}`, randomValue(depth + 1)]),
        );
    }
  }

  /** A structurally plausible body with one field of one record replaced by something random. */
  function mutatedBody(): string {
    const event = events[int(events.length)]!;
    const pin: Record<string, unknown> = { ...event.pin };
    const keys = Object.keys(pin);
    if (random() < 0.8) pin[keys[int(keys.length)]!] = randomValue();
    else delete pin[keys[int(keys.length)]!];
    const records: unknown[] = [{ value: pin }, { value: events[int(events.length)]!.pin }];
    if (random() < 0.2) records.push(randomValue());
    return JSON.stringify(random() < 0.1 ? randomValue() : { records });
  }

  function randomBytes(): Buffer {
    return Buffer.from(Array.from({ length: int(2000) }, () => int(256)));
  }

  function flipped(): string {
    const text = mutatedBody();
    const at = int(text.length);
    return text.slice(0, at) + String.fromCharCode(int(128)) + text.slice(at + 1);
  }

  before(async () => {
    h = await startApiHarness({ partitions: 2 });
  });
  after(async () => {
    await h?.close();
  });

  it('answers every malformed request with a 2xx/4xx in the proxy shape and loses no acknowledged record', async () => {
    const bodies: (string | Buffer)[] = [];
    for (let i = 0; i < 150; i += 1) bodies.push(mutatedBody());
    for (let i = 0; i < 50; i += 1) bodies.push(randomBytes());
    for (let i = 0; i < 50; i += 1) bodies.push(flipped());
    const deep = 200_000;
    bodies.push(`{"records":[{"value":${'['.repeat(deep)}${']'.repeat(deep)}}]}`);
    bodies.push(`{"records":${'['.repeat(deep)}`);
    bodies.push(
      JSON.stringify({ records: [{ value: { ...events[0]!.pin, title: 'ä'.repeat(400_000) } }] }),
    );
    bodies.push(JSON.stringify({ records: Array.from({ length: 5000 }, () => ({ value: 1 })) }));

    const replies: Reply[] = [];
    for (let i = 0; i < bodies.length; i += 8) {
      replies.push(
        ...(await Promise.all(
          bodies.slice(i, i + 8).map((b) => h.post(`/topics/${h.topics.pin}`, b)),
        )),
      );
    }

    let acknowledged = 0;
    const acked: { partition: number; offset: number; value: string }[] = [];
    replies.forEach((reply, i) => {
      assert.ok(
        [200, 422].includes(reply.status),
        `body ${i}: ${reply.status} ${reply.text.slice(0, 300)}`,
      );
      if (reply.status !== 200) {
        const error = reply.body as { error_code: number; message: string };
        assert.equal(error.error_code, 422);
        assert.equal(typeof error.message, 'string');
        return;
      }
      const posted = (JSON.parse(bodies[i]!.toString()) as { records: { value: unknown }[] })
        .records;
      const offsets = offsetsOf(reply);
      assert.equal(offsets.length, posted.length);
      offsets.forEach((o, j) => {
        if (o.error_code === null) {
          assert.ok(Number.isInteger(o.partition) && Number.isInteger(o.offset));
          acknowledged += 1;
          acked.push({
            partition: o.partition!,
            offset: o.offset!,
            value: JSON.stringify(posted[j]!.value),
          });
        } else {
          assert.equal(o.error_code, 1);
          assert.ok(o.error && o.error.length > 0);
          assert.deepEqual([o.partition, o.offset], [null, null]);
        }
      });
    });
    assert.ok(acknowledged > 0, 'some records were valid');
    const huge = offsetsOf(replies[bodies.length - 2]!);
    assert.equal(huge[0]!.error_code, null, 'an 800 KB record under the body limit is produced');
    assert.equal(
      await recordCount(h.kafka, h.topics.pin),
      acknowledged,
      'every acknowledged record, nothing else',
    );
    const stored = await readBack(h.kafka, h.topics.pin, acked);
    for (const a of acked) assert.equal(stored.get(`${a.partition}:${a.offset}`)?.value, a.value);
    const health = await h.get('/healthz');
    assert.equal(health.status, 200);
  });
});

import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import { exitCodeFor } from '../../src/emulator/report';
import { runEmulator, type EmulatorOptions } from '../../src/emulator/run-emulator';
import { ackAll, fakeDeps, json } from './fake-proxy';

const base: EmulatorOptions = {
  url: 'http://127.0.0.1:8082',
  pipelineId: '0123456789ab',
  count: 7,
  rate: 0,
  concurrency: 1,
  batch: 3,
  seed: 'unit',
};

const unavailable = () => json(503, { error_code: 50301, message: 'Kafka is unavailable' });

describe('emulator/run-emulator (fake API)', () => {
  it("posts each batch's pins, then geos, then users, in draw order", async () => {
    const fake = fakeDeps();
    const summary = await runEmulator(base, fake.deps);
    assert.deepEqual(
      fake.requests.map((r) => `${r.topic}:${r.values.length}`),
      ['pin:3', 'geo:3', 'user:3', 'pin:3', 'geo:3', 'user:3', 'pin:1', 'geo:1', 'user:1'].map(
        (t) => `0123456789ab.${t}`,
      ),
    );
    const events = [...drawEvents({ seed: 'unit', count: 7 })];
    assert.deepEqual(
      fake.requests.filter((r) => r.topic.endsWith('.pin')).flatMap((r) => r.values),
      events.map((e) => e.pin),
    );
    assert.deepEqual(
      fake.requests.filter((r) => r.topic.endsWith('.user')).flatMap((r) => r.values),
      events.map((e) => e.user),
    );
    assert.equal(fake.requests[0]!.url, 'http://127.0.0.1:8082/topics/0123456789ab.pin');
    assert.deepEqual(
      {
        outcome: summary.outcome,
        events: summary.events,
        sent: summary.sent,
        acknowledged: summary.acknowledged,
        rejected: summary.rejected,
        retried: summary.retried,
        failed: summary.failed,
        requests: summary.requests,
      },
      {
        outcome: 'completed',
        events: 7,
        sent: 21,
        acknowledged: 21,
        rejected: 0,
        retried: 0,
        failed: 0,
        requests: 9,
      },
    );
    assert.equal(exitCodeFor(summary), 0);
  });

  it('retries a 503 with growing backoff and counts the retries', async () => {
    const fake = fakeDeps((req, i) => (i < 2 ? unavailable() : ackAll(req, new Map())));
    const summary = await runEmulator({ ...base, count: 2, batch: 2 }, fake.deps);
    assert.deepEqual(
      fake.requests.map((r) => r.topic.split('.')[1]),
      ['pin', 'pin', 'pin', 'geo', 'user'],
    );
    assert.deepEqual(fake.requests[2]!.values, fake.requests[0]!.values, 'the same records again');
    assert.deepEqual(fake.sleeps, [150, 300], 'equal jitter at random 0.5: 200→150, 400→300');
    assert.equal(summary.retried, 4);
    assert.equal(summary.acknowledged, 6);
    assert.equal(summary.failed, 0);
    assert.equal(summary.errors, 2);
    assert.equal(summary.requests, 5);
    assert.equal(exitCodeFor(summary), 0);
  });

  it('re-sends only the records answered with error_code 2; error_code 1 is rejected, not retried', async () => {
    const fake = fakeDeps((req, i) => {
      if (i === 0) {
        return json(200, {
          offsets: [
            { partition: 0, offset: 0, error_code: null, error: null },
            { partition: null, offset: null, error_code: 2, error: 'not leader' },
            { partition: null, offset: null, error_code: 1, error: 'index: missing' },
          ],
        });
      }
      return ackAll(req, new Map());
    });
    const summary = await runEmulator({ ...base, count: 3, batch: 3 }, fake.deps);
    assert.equal(fake.requests[1]!.topic, '0123456789ab.pin');
    assert.deepEqual(fake.requests[1]!.values, [fake.requests[0]!.values[1]]);
    assert.equal(summary.sent, 9);
    assert.equal(summary.acknowledged, 8);
    assert.equal(summary.rejected, 1);
    assert.equal(summary.retried, 1);
    assert.equal(summary.failed, 0);
    assert.ok(
      summary.topErrors.some((e) => e.message === 'rejected: error_code 1: index: missing'),
    );
    assert.equal(exitCodeFor(summary), 0, 'a rejection is an answer, not a failure');
  });

  it('retries network errors, and gives up after maxAttempts with the records counted as failed', async () => {
    const fake = fakeDeps((req) => {
      if (req.topic.endsWith('.geo')) return Promise.reject(new TypeError('fetch failed'));
      return ackAll(req, new Map());
    });
    const summary = await runEmulator({ ...base, count: 2, batch: 2, maxAttempts: 4 }, fake.deps);
    assert.equal(fake.requests.filter((r) => r.topic.endsWith('.geo')).length, 4);
    assert.equal(fake.sleeps.length, 3);
    assert.equal(summary.failed, 2);
    assert.equal(summary.retried, 6);
    assert.equal(summary.acknowledged, 4, 'pins and users');
    assert.equal(summary.outcome, 'completed');
    assert.equal(exitCodeFor(summary), 1);
    assert.ok(summary.topErrors.some((e) => e.message === 'failed: gave up after 4 attempts'));
  });

  it('a 422 fails that request only; a 404 aborts the run', async () => {
    const unprocessable = fakeDeps((req, i) =>
      i === 0 ? json(422, { error_code: 422, message: 'bad' }) : ackAll(req, new Map()),
    );
    const partial = await runEmulator({ ...base, count: 2, batch: 1 }, unprocessable.deps);
    assert.equal(partial.failed, 1);
    assert.equal(partial.acknowledged, 5);
    assert.equal(unprocessable.requests.length, 6, 'not retried, the run goes on');

    const missing = fakeDeps(() =>
      json(404, { error_code: 40401, message: 'Topic 0123456789ab.pin not found' }),
    );
    const aborted = await runEmulator(
      { ...base, count: 100, batch: 1, concurrency: 2 },
      missing.deps,
    );
    assert.equal(aborted.outcome, 'aborted');
    assert.equal(
      aborted.abortReason,
      '0123456789ab.pin: HTTP 404: Topic 0123456789ab.pin not found',
    );
    assert.equal(missing.requests.length, 2, 'only the requests already in flight');
    assert.equal(aborted.events, 0);
    assert.equal(exitCodeFor(aborted), 1);
  });

  it('paces batches to --rate on the clock', async () => {
    const fake = fakeDeps();
    const summary = await runEmulator({ ...base, count: 6, batch: 2, rate: 10 }, fake.deps);
    assert.deepEqual(fake.sleeps, [200, 200], 'batches start at 0, 200 and 400 ms');
    assert.equal(summary.durationMs, 400);
    assert.equal(summary.eventsPerSecond, 15);
  });

  it('an interrupt stops new batches, lets started ones finish whole, and skips retries', async () => {
    const interrupt = new AbortController();
    const fake = fakeDeps((req, i) => {
      if (i === 4) interrupt.abort(); // during the second batch's geo request
      return i === 4 ? unavailable() : ackAll(req, new Map());
    });
    const summary = await runEmulator(
      { ...base, count: 50, batch: 2, concurrency: 1, signal: interrupt.signal },
      fake.deps,
    );
    assert.equal(summary.outcome, 'interrupted');
    assert.deepEqual(
      fake.requests.map((r) => r.topic.split('.')[1]),
      ['pin', 'geo', 'user', 'pin', 'geo', 'user'],
    );
    assert.equal(summary.events, 4);
    assert.equal(summary.failed, 2, 'the geo records not retried after the interrupt');
    assert.equal(summary.retried, 0);
    assert.equal(exitCodeFor(summary), 130);
  });

  it('reports progress after every request', async () => {
    const seen: number[] = [];
    const fake = fakeDeps();
    await runEmulator(
      { ...base, count: 2, batch: 1, onProgress: (c) => seen.push(c.acknowledged) },
      fake.deps,
    );
    assert.equal(seen.at(-1), 6);
    assert.ok(seen.length >= 6);
  });
});

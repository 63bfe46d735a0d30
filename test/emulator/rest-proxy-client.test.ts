import assert from 'node:assert/strict';
import { postRecords, type FetchLike } from '../../src/emulator/rest-proxy-client';
import { json } from './fake-proxy';

function answering(response: Response | Error): {
  fetch: FetchLike;
  seen: { url: string; init: RequestInit }[];
} {
  const seen: { url: string; init: RequestInit }[] = [];
  return {
    seen,
    fetch: (url, init) => {
      seen.push({ url, init });
      return response instanceof Error ? Promise.reject(response) : Promise.resolve(response);
    },
  };
}

const request = {
  url: 'http://127.0.0.1:1/',
  topic: '0123456789ab.pin',
  values: [{ a: 1 }, { b: 2 }],
  timeoutMs: 1000,
};

describe('emulator/rest-proxy-client', () => {
  it('posts a REST Proxy v2 body with its content type and the bearer token', async () => {
    const f = answering(json(200, { offsets: [] }));
    await postRecords(f.fetch, { ...request, token: 'secret-token' });
    const [call] = f.seen;
    assert.equal(call!.url, 'http://127.0.0.1:1/topics/0123456789ab.pin');
    assert.equal(call!.init.method, 'POST');
    const headers = call!.init.headers as Record<string, string>;
    assert.equal(headers['content-type'], 'application/vnd.kafka.json.v2+json');
    assert.equal(headers.authorization, 'Bearer secret-token');
    assert.deepEqual(JSON.parse(call!.init.body as string), {
      records: [{ value: { a: 1 } }, { value: { b: 2 } }],
    });
  });

  it('reads per-record outcomes: offsets acked, error_code 2 retriable, other codes rejected', async () => {
    const f = answering(
      json(200, {
        offsets: [
          { partition: 1, offset: 7, error_code: null, error: null },
          { partition: null, offset: null, error_code: 2, error: 'leader moved' },
        ],
      }),
    );
    assert.deepEqual(await postRecords(f.fetch, request), {
      kind: 'records',
      records: [
        { status: 'acked', partition: 1, offset: 7 },
        { status: 'retriable', reason: 'error_code 2: leader moved' },
      ],
    });
    const rejected = answering(
      json(200, {
        offsets: [
          { partition: null, offset: null, error_code: 1, error: 'index: missing' },
          { partition: 0, offset: 1, error_code: null, error: null },
        ],
      }),
    );
    const outcome = await postRecords(rejected.fetch, request);
    assert.ok(outcome.kind === 'records');
    assert.deepEqual(outcome.records[0], {
      status: 'rejected',
      reason: 'error_code 1: index: missing',
    });
  });

  it('504 (the API cannot say whether Kafka has the records) and a timeout are not retried', async () => {
    const unknown = await postRecords(
      answering(json(504, { error_code: 50401, message: 'the outcome of this produce is unknown' }))
        .fetch,
      request,
    );
    assert.deepEqual(unknown, {
      kind: 'failed',
      reason: 'outcome unknown: HTTP 504: the outcome of this produce is unknown',
      fatal: false,
    });
    const timeout = new Error('The operation was aborted due to timeout');
    timeout.name = 'TimeoutError';
    const late = await postRecords(answering(timeout).fetch, request);
    assert.equal(late.kind, 'failed');
    assert.match(
      late.kind === 'failed' ? late.reason : '',
      /^outcome unknown: no answer within 1000 ms/,
    );
  });

  it('5xx, 429 and network errors are retriable, with Retry-After in ms', async () => {
    assert.deepEqual(
      await postRecords(
        answering(json(503, { error_code: 50301, message: 'Kafka down' }, { 'retry-after': '2' }))
          .fetch,
        request,
      ),
      { kind: 'retriable', reason: 'HTTP 503: Kafka down', retryAfterMs: 2000 },
    );
    assert.equal((await postRecords(answering(json(429, {})).fetch, request)).kind, 'retriable');
    const network = await postRecords(
      answering(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })).fetch,
      request,
    );
    assert.deepEqual(network, { kind: 'retriable', reason: 'fetch failed: connect ECONNREFUSED' });
  });

  it('4xx fail without retry; 401/404/415 are fatal for the run, 413/422 are not', async () => {
    const fatal = await postRecords(
      answering(json(404, { error_code: 40401, message: 'Topic x not found' })).fetch,
      request,
    );
    assert.deepEqual(fatal, { kind: 'failed', reason: 'HTTP 404: Topic x not found', fatal: true });
    assert.deepEqual(
      await postRecords(answering(json(401, { error_code: 40101, message: 'no' })).fetch, request),
      {
        kind: 'failed',
        reason: 'HTTP 401: no',
        fatal: true,
      },
    );
    const bad = await postRecords(
      answering(json(422, { error_code: 422, message: 'records.0.value: missing' })).fetch,
      request,
    );
    assert.deepEqual(bad, {
      kind: 'failed',
      reason: 'HTTP 422: records.0.value: missing',
      fatal: false,
    });
  });

  it('a 200 that is not a produce response, or has the wrong number of offsets, is a failure', async () => {
    const html = await postRecords(
      answering(new Response('<html>proxy</html>', { status: 200 })).fetch,
      request,
    );
    assert.deepEqual(html, {
      kind: 'failed',
      reason: 'not a REST Proxy produce response: <html>proxy</html>',
      fatal: true,
    });
    const short = await postRecords(
      answering(
        json(200, { offsets: [{ partition: 0, offset: 0, error_code: null, error: null }] }),
      ).fetch,
      request,
    );
    assert.deepEqual(short, {
      kind: 'failed',
      reason: 'the response has 1 offsets for 2 records',
      fatal: false,
    });
  });
});

import assert from 'node:assert/strict';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-object-store';
import { answerOnce, conditionalPut, startS3Proxy, type S3Proxy } from '../helpers/s3-proxy';
import { stackConfig, uniqueName } from '../helpers/stack';

describe('S3ObjectStore against the local S3 server', () => {
  const s3 = createS3Client(stackConfig().aws);
  const store = new S3ObjectStore(s3);
  const bucket = uniqueName('adapter-test');
  const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

  before(async () => {
    assert.deepEqual(await store.ensureBucket(bucket), { created: true });
  });

  after(async () => {
    for await (const o of store.list({ bucket, prefix: '' }))
      await store.delete({ bucket, key: o.key });
    await store.deleteBucket(bucket);
    assert.equal(await store.bucketExists(bucket), false);
    s3.destroy();
  });

  it('ensureBucket is idempotent', async () => {
    assert.deepEqual(await store.ensureBucket(bucket), { created: false });
    assert.equal(await store.bucketExists(bucket), true);
  });

  it('putIfAbsent creates once, then reports exists without overwriting', async () => {
    const key = 'topics/t/dt=2026-11-25/partition=0/t+0+0000000000.json';
    const first = await store.putIfAbsent({
      bucket,
      key,
      body: '{"a":1}\n',
      contentType: 'application/x-ndjson',
      metadata: { 'first-offset': '0', 'last-offset': '0', 'record-count': '1' },
    });
    assert.equal(first.status, 'created');
    const second = await store.putIfAbsent({ bucket, key, body: '{"b":2}\n' });
    assert.deepEqual(second, { status: 'exists' });
    assert.equal(text(await store.get({ bucket, key })), '{"a":1}\n');
  });

  it('head returns size, content type and user metadata; undefined when missing', async () => {
    const key = 'meta/object.json';
    await store.put({
      bucket,
      key,
      body: 'hello',
      contentType: 'application/json',
      metadata: { 'record-count': '5', 'last-offset': '41' },
    });
    const head = await store.head({ bucket, key });
    assert.ok(head);
    assert.equal(head.size, 5);
    assert.equal(head.contentType, 'application/json');
    assert.deepEqual(head.metadata, { 'record-count': '5', 'last-offset': '41' });
    assert.equal(await store.head({ bucket, key: 'meta/missing.json' }), undefined);
  });

  it('put overwrites; get returns undefined for a missing key', async () => {
    await store.put({ bucket, key: 'm/_manifest.json', body: 'v1' });
    await store.put({ bucket, key: 'm/_manifest.json', body: 'v2' });
    assert.equal(text(await store.get({ bucket, key: 'm/_manifest.json' })), 'v2');
    assert.equal(await store.get({ bucket, key: 'm/nothing' }), undefined);
  });

  it('list follows pagination and filters by prefix, in key order', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `list/p/${String(i).padStart(2, '0')}.json`);
    await Promise.all(keys.map((key) => store.put({ bucket, key, body: key })));
    await store.put({ bucket, key: 'list/other.json', body: 'x' });
    const seen: string[] = [];
    for await (const o of store.list({ bucket, prefix: 'list/p/', pageSize: 2 })) seen.push(o.key);
    assert.deepEqual(seen, keys);
  });

  it('delete removes an object and tolerates a missing one', async () => {
    await store.put({ bucket, key: 'del/x', body: 'x' });
    await store.delete({ bucket, key: 'del/x' });
    assert.equal(await store.head({ bucket, key: 'del/x' }), undefined);
    await store.delete({ bucket, key: 'del/x' });
  });

  it('concurrent conditional writers: exactly one creates', async () => {
    const key = 'race/one.json';
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent({ bucket, key, body: `writer ${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 'created').length, 1);
    assert.equal(results.filter((r) => r.status === 'exists').length, 7);
  });
});

describe('S3ObjectStore.probeConditionalWrites (real server, and proxies in front of it)', () => {
  const config = stackConfig();
  const s3 = createS3Client(config.aws);
  const store = new S3ObjectStore(s3);
  const bucket = uniqueName('probe-test');
  const proxies: S3Proxy[] = [];
  const clients: Array<{ destroy(): void }> = [];
  const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

  /** A store whose requests go through `proxy` to the stack's S3 server. */
  function through(proxy: S3Proxy): S3ObjectStore {
    proxies.push(proxy);
    const client = createS3Client({ ...config.aws, s3Endpoint: proxy.url });
    clients.push(client);
    return new S3ObjectStore(client);
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const o of store.list({ bucket, prefix })) keys.push(o.key);
    return keys;
  }

  before(async () => {
    await store.ensureBucket(bucket);
  });

  after(async () => {
    for (const c of clients) c.destroy();
    for (const p of proxies) await p.close();
    for await (const o of store.list({ bucket, prefix: '' }))
      await store.delete({ bucket, key: o.key });
    await store.deleteBucket(bucket);
    s3.destroy();
  });

  it('the stack versitygw: supported (412 on the second write), and the probe leaves nothing', async () => {
    const v = await store.probeConditionalWrites(bucket);
    assert.equal(v.support, 'supported', v.message);
    assert.equal(v.endpoint, config.aws.s3Endpoint);
    assert.match(
      v.message,
      /honours If-None-Match: \* \(a second conditional PUT of s3:\/\/.*\/_pinpipe\/probe\/[0-9a-f-]{36} answered 412 PreconditionFailed\)/,
    );
    assert.deepEqual(await keysUnder('_pinpipe/'), []);
  });

  it('a server that ignores If-None-Match: the proxy really overwrites, and the probe says ignored, naming it', async () => {
    const proxy = await startS3Proxy({ stripIfNoneMatch: true });
    const stripped = through(proxy);
    // What the sink met before the probe existed: both conditional writes "create".
    const key = 'stripped/t+0+0000000000.json';
    assert.equal((await stripped.putIfAbsent({ bucket, key, body: 'first' })).status, 'created');
    assert.equal((await stripped.putIfAbsent({ bucket, key, body: 'second' })).status, 'created');
    assert.equal(text(await store.get({ bucket, key })), 'second');

    const v = await stripped.probeConditionalWrites(bucket);
    assert.equal(v.support, 'ignored');
    assert.equal(v.endpoint, proxy.url);
    assert.match(
      v.message,
      new RegExp(
        `^S3 endpoint ${proxy.url} ignores If-None-Match: \\*: a second conditional PUT of the existing object s3://${bucket}/_pinpipe/probe/[0-9a-f-]{36} answered 200 and replaced it`,
      ),
    );
    assert.deepEqual(await keysUnder('_pinpipe/'), []);
    const probes = proxy.log.filter((e) => e.key?.startsWith('_pinpipe/probe/'));
    assert.deepEqual(
      probes.map((e) => `${e.method} ${e.ifNoneMatch} ${e.status}`),
      ['PUT true 200', 'PUT true 200', 'DELETE false 204'],
    );
  });

  it('a server that refuses the header (501 NotImplemented): refused', async () => {
    const proxy = await startS3Proxy({
      answer: (r) =>
        r.method === 'PUT' && 'if-none-match' in r.headers
          ? {
              error: {
                status: 501,
                code: 'NotImplemented',
                message: 'A header you provided implies functionality that is not implemented',
              },
            }
          : undefined,
    });
    const v = await through(proxy).probeConditionalWrites(bucket);
    assert.equal(v.support, 'refused');
    assert.match(
      v.message,
      new RegExp(
        `^S3 endpoint ${proxy.url} does not support conditional writes: .* answered 501 NotImplemented`,
      ),
    );
  });

  it('no verdict (error) when access is denied, the bucket is missing or nothing answers', async () => {
    const proxy = await startS3Proxy({
      answer: (r) =>
        r.method === 'PUT'
          ? { error: { status: 403, code: 'AccessDenied', message: 'Access Denied' } }
          : undefined,
    });
    const denied = await through(proxy).probeConditionalWrites(bucket);
    assert.equal(denied.support, 'error');
    assert.match(denied.message, /answered 403 AccessDenied: Access Denied$/);
    const missing = await store.probeConditionalWrites(uniqueName('no-such-bucket'));
    assert.equal(missing.support, 'error');
    assert.match(missing.message, /answered 404 NoSuchBucket/);
    const dead = createS3Client({ ...config.aws, s3Endpoint: 'http://127.0.0.1:9' });
    clients.push(dead);
    const down = await new S3ObjectStore(dead).probeConditionalWrites(bucket);
    assert.equal(down.support, 'error');
    assert.match(
      down.message,
      /at S3 endpoint http:\/\/127\.0\.0\.1:9: .* did not answer \(.*ECONNREFUSED/,
    );
  });

  it('putIfAbsent reads a scripted 409 ConditionalRequestConflict as exists (the caller looks next)', async () => {
    const proxy = await startS3Proxy({
      answer: answerOnce(conditionalPut(/^conflict\//), {
        error: {
          status: 409,
          code: 'ConditionalRequestConflict',
          message:
            'A conflicting conditional operation is currently in progress against this resource.',
        },
      }),
    });
    const conflicted = through(proxy);
    const key = 'conflict/a.json';
    assert.deepEqual(await conflicted.putIfAbsent({ bucket, key, body: 'x' }), {
      status: 'exists',
    });
    assert.equal(await store.head({ bucket, key }), undefined);
    assert.equal((await conflicted.putIfAbsent({ bucket, key, body: 'x' })).status, 'created');
  });
});

import assert from 'node:assert/strict';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-object-store';
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

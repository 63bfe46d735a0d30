import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import { offsetsOf, startApiHarness, type ApiHarness } from './harness';

describe('ingest API topics and health', function () {
  this.timeout(60_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('GET /topics lists pipeline topics only', async () => {
    const reply = await h.get('/topics');
    assert.equal(reply.status, 200);
    const topics = reply.body as string[];
    for (const t of Object.values(h.topics)) assert.ok(topics.includes(t), t);
    assert.ok(
      topics.every((t) => /^[0-9a-f]{12}\.(pin|geo|user)$/.test(t)),
      topics.join(','),
    );
  });

  it('GET /topics/{topic} and /partitions describe the topic with its partition count', async () => {
    const reply = await h.get(`/topics/${h.topics.geo}`);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      name: h.topics.geo,
      configs: {},
      partitions: [0, 1, 2].map((partition) => ({ partition, leader: null, replicas: [] })),
    });
    const partitions = await h.get(`/topics/${h.topics.geo}/partitions`);
    assert.deepEqual(
      (partitions.body as { partition: number }[]).map((p) => p.partition),
      [0, 1, 2],
    );
  });

  it('GET /healthz is ok when Kafka answers', async () => {
    const reply = await h.get('/healthz');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok', kafka: 'ok' });
  });
});

describe('ingest API bearer-token auth', function () {
  this.timeout(60_000);
  const token = 'test-token-0123456789';
  let h: ApiHarness;
  const [event] = [...drawEvents({ seed: 'auth', count: 1 })];

  before(async () => {
    h = await startApiHarness({ token });
  });
  after(async () => {
    await h?.close();
  });

  it('401 40101 without a token or with a wrong one, on every route but /healthz', async () => {
    for (const headers of <Record<string, string>[]>[
      {},
      { authorization: 'Bearer wrong-token-000000' },
      { authorization: token },
    ]) {
      const post = await h.post(
        `/topics/${h.topics.pin}`,
        { records: [{ value: event!.pin }] },
        headers,
      );
      assert.equal(post.status, 401);
      assert.equal((post.body as { error_code: number }).error_code, 40101);
      assert.match(post.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await h.get('/topics', headers)).status, 401);
      assert.equal((await h.get('/no/such/path', headers)).status, 401, 'no route discovery');
    }
    assert.equal((await h.get('/healthz')).status, 200);
  });

  it('200 with the right token', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const offsets = offsetsOf(
      await h.post(`/topics/${h.topics.pin}`, { records: [{ value: event!.pin }] }, auth),
    );
    assert.equal(offsets[0]!.error_code, null);
    assert.equal((await h.get('/topics', auth)).status, 200);
  });
});

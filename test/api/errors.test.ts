import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import { stackConfig, uniqueName } from '../helpers/stack';
import { KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import { recordCount, request, startApiHarness, streamRequest, type ApiHarness } from './harness';

describe('ingest API errors (REST Proxy v2 shape)', function () {
  this.timeout(120_000);
  let h: ApiHarness;
  const plainTopic = uniqueName('not-a-pipeline-topic');
  const admin = KafkajsKafka.fromOptions(stackConfig().kafka);
  const [event] = [...drawEvents({ seed: 'errors', count: 1 })];
  const pin = event!.pin;

  /** Served by the API, but none of its topics exists. */
  const topicless = '0123456789ab';

  before(async () => {
    h = await startApiHarness({ maxBodyBytes: 64 * 1024, alsoServe: [topicless] });
    await admin.ensureTopics([{ name: plainTopic, partitions: 1 }]);
  });
  after(async () => {
    await h?.close();
    await admin.deleteTopics([plainTopic]);
    await admin.disconnect();
  });

  it('404 40401 for a topic of a served pipeline that does not exist', async () => {
    const reply = await h.post('/topics/0123456789ab.pin', { records: [{ value: pin }] });
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.body, {
      error_code: 40401,
      message: 'Topic 0123456789ab.pin not found',
    });
    const get = await h.get('/topics/0123456789ab.pin');
    assert.deepEqual(
      [get.status, get.body],
      [404, { error_code: 40401, message: 'Topic 0123456789ab.pin not found' }],
    );
  });

  it('404 40401 for a topic that exists in Kafka but is not a pipeline topic', async () => {
    const reply = await h.post(`/topics/${plainTopic}`, { records: [{ value: pin }] });
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.body, {
      error_code: 40401,
      message:
        `Topic ${plainTopic} not found: this API serves pipelines ${h.pipelineId}, ${topicless} ` +
        '(topics <id>.pin, <id>.geo, <id>.user)',
    });
    assert.equal(await recordCount(admin, plainTopic), 0);
  });

  it('415 for a content type other than JSON (binary or Avro formats, other charsets)', async () => {
    for (const contentType of [
      'text/plain',
      'application/vnd.kafka.binary.v2+json',
      'application/vnd.kafka.avro.v2+json',
      'application/json; charset=latin1',
    ]) {
      const reply = await h.post(
        `/topics/${h.topics.pin}`,
        { records: [{ value: pin }] },
        { 'content-type': contentType },
      );
      assert.equal(reply.status, 415, contentType);
      assert.equal((reply.body as { error_code: number }).error_code, 415);
      assert.match(
        (reply.body as { message: string }).message,
        /expected application\/vnd\.kafka\.json\.v2\+json/,
      );
    }
  });

  const unprocessable: [string, string | Buffer, RegExp][] = [
    ['not JSON', '{"records": [', /^Request body is not valid JSON: /],
    ['empty body', '', /^Request body is empty/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/],
    ['a JSON array', '[]', /^body: expected an object \{"records": \[\.\.\.\]\}/],
    ['no records field', '{"value": {}}', /^records: missing, expected an array of records/],
    [
      'records not an array',
      '{"records": {"value": {}}}',
      /^records: expected an array of records, received object/,
    ],
    ['no records', '{"records": []}', /^records: expected at least one record/],
    ['a record that is not an object', '{"records": [1]}', /^records\.0: expected an object/],
    ['a record without value', '{"records": [{"key": "k"}]}', /^records\.0\.value: missing/],
    [
      'a negative partition',
      '{"records": [{"value": {}, "partition": -1}]}',
      /^records\.0\.partition: expected a partition number/,
    ],
  ];
  for (const [name, body, message] of unprocessable) {
    it(`422 for ${name}`, async () => {
      const before = await recordCount(h.kafka, h.topics.pin);
      const reply = await h.post(`/topics/${h.topics.pin}`, body);
      assert.equal(reply.status, 422, reply.text);
      assert.equal((reply.body as { error_code: number }).error_code, 422);
      assert.match((reply.body as { message: string }).message, message);
      assert.equal(await recordCount(h.kafka, h.topics.pin), before, 'nothing produced');
    });
  }

  it('413 for a declared Content-Length over the limit, and the server keeps serving', async () => {
    const big = JSON.stringify({ records: [{ value: { ...pin, title: 'x'.repeat(70 * 1024) } }] });
    const reply = await h.post(`/topics/${h.topics.pin}`, big);
    assert.equal(reply.status, 413);
    assert.deepEqual(reply.body, {
      error_code: 413,
      message: 'Request body larger than 65536 bytes: send fewer records per request',
    });
    assert.equal((await h.get('/healthz')).status, 200);
  });

  it('413 for a chunked body that grows past the limit while streaming', async () => {
    const before = await recordCount(h.kafka, h.topics.pin);
    const chunk = '"' + 'y'.repeat(16 * 1024) + '",';
    const reply = await streamRequest(`${h.url}/topics/${h.topics.pin}`, {
      chunks: [
        '{"records":[{"value":{"tags":[',
        ...Array.from({ length: 6 }, () => chunk),
        '""]}}]}',
      ],
    });
    assert.equal(reply.status, 413);
    assert.equal((reply.body as { error_code: number }).error_code, 413);
    assert.equal(await recordCount(h.kafka, h.topics.pin), before);
  });

  it('404 for an unknown path, 405 with Allow for a wrong method', async () => {
    const unknown = await h.get('/consumers/group');
    assert.deepEqual(
      [unknown.status, unknown.body],
      [404, { error_code: 404, message: 'Not found: /consumers/group' }],
    );
    const wrong = await request(`${h.url}/topics/${h.topics.pin}`, { method: 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET, POST');
    assert.equal((wrong.body as { error_code: number }).error_code, 405);
    const produceOnList = await h.post('/topics', { records: [{ value: pin }] });
    assert.equal(produceOnList.status, 405);
  });
});

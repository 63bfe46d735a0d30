import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config';
import { createIngestServer, type IngestServer } from '../../src/api/server';
import { drawEvents } from '../../src/domain/generator';
import { topicsFor } from '../../src/domain/tables';
import {
  offsetsOf,
  randomPipelineId,
  recordCount,
  request,
  startApiHarness,
  type ApiHarness,
} from './harness';

const [event] = [...drawEvents({ seed: 'served', count: 1 })];

describe('ingest API serves its own pipelines only (local Kafka)', function () {
  this.timeout(60_000);
  /** Pipeline A's API. */
  let h: ApiHarness;
  /** Pipeline B: its topics exist in the same Kafka. */
  const b = randomPipelineId();
  const [bPin, bGeo, bUser] = topicsFor(b) as [string, string, string];
  let both: IngestServer | undefined;

  before(async () => {
    h = await startApiHarness();
    await h.kafka.ensureTopics([bPin, bGeo, bUser].map((name) => ({ name, partitions: 1 })));
  });
  after(async () => {
    await both?.close();
    await h.kafka.deleteTopics([bPin, bGeo, bUser]);
    await h?.close();
  });

  const notServed = (topic: string) => ({
    error_code: 40401,
    message:
      `Topic ${topic} not found: this API serves pipeline ${h.pipelineId} ` +
      '(topics <id>.pin, <id>.geo, <id>.user)',
  });

  it("a client of A posting to B's topic on A's API: 404 40401 naming A, nothing produced", async () => {
    for (const path of [`/topics/${bPin}`, `/topics/${bPin}/partitions/0`]) {
      const reply = await h.post(path, { records: [{ value: event!.pin }] });
      assert.equal(reply.status, 404, reply.text);
      assert.deepEqual(reply.body, notServed(bPin));
    }
    assert.equal(await recordCount(h.kafka, bPin), 0);
    // The same request to A's own topic is produced.
    const own = offsetsOf(
      await h.post(`/topics/${h.topics.pin}`, { records: [{ value: event!.pin }] }),
    );
    assert.equal(own[0]!.error_code, null);
  });

  it("B's topics are neither described nor listed by A's API", async () => {
    for (const path of [`/topics/${bGeo}`, `/topics/${bGeo}/partitions`]) {
      const reply = await h.get(path);
      assert.deepEqual([reply.status, reply.body], [404, notServed(bGeo)]);
    }
    const listed = (await h.get('/topics')).body as string[];
    assert.deepEqual(listed, Object.values(h.topics).sort());
  });

  it('an API configured with both serves both', async () => {
    both = createIngestServer({ kafka: h.kafka, pipelines: [h.pipelineId, b] });
    const url = `http://127.0.0.1:${(await both.listen(0)).port}`;
    const reply = await request(`${url}/topics/${bUser}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: event!.user }] }),
    });
    assert.equal(offsetsOf(reply)[0]!.error_code, null);
    assert.equal(await recordCount(h.kafka, bUser), 1);
    const listed = (await request(`${url}/topics`)).body as string[];
    assert.deepEqual(listed, [...Object.values(h.topics), bPin, bGeo, bUser].sort());
  });

  it('refuses to start with something that is not a pipeline id', () => {
    assert.throws(
      () => createIngestServer({ kafka: h.kafka, pipelines: ['5eedcafe0001', 'B.pin'] }),
      /invalid pipeline id "B\.pin": expected 12 lowercase hex characters/,
    );
  });
});

describe('PINPIPE_PIPELINE_IDS', () => {
  const isolated = { HOME: '/nonexistent', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

  const served: [string, Record<string, string>, string[]][] = [
    ['unset: PINPIPE_PIPELINE_ID’s default', {}, ['5eedcafe0001']],
    ['unset: PINPIPE_PIPELINE_ID', { PINPIPE_PIPELINE_ID: '0a1b2c3d4e5f' }, ['0a1b2c3d4e5f']],
    ['empty: PINPIPE_PIPELINE_ID', { PINPIPE_PIPELINE_IDS: ' ' }, ['5eedcafe0001']],
    [
      'a list (spaces trimmed, repeats dropped), PINPIPE_PIPELINE_ID not added',
      {
        PINPIPE_PIPELINE_ID: '5eedcafe0001',
        PINPIPE_PIPELINE_IDS: '0a1b2c3d4e5f, ffffffffffff,0a1b2c3d4e5f',
      },
      ['0a1b2c3d4e5f', 'ffffffffffff'],
    ],
  ];
  for (const [name, env, pipelines] of served) {
    it(name, () => assert.deepEqual(loadConfig({ ...isolated, ...env }).api.pipelines, pipelines));
  }

  const refused: [string, string, RegExp][] = [
    ['upper case', '0A1B2C3D4E5F', /not a pipeline id: "0A1B2C3D4E5F"; expected a comma-separated/],
    ['a topic name', '0a1b2c3d4e5f.pin', /not a pipeline id: "0a1b2c3d4e5f\.pin"/],
    ['an empty entry', '0a1b2c3d4e5f,,5eedcafe0001', /not a pipeline id: ""/],
    ['every bad entry named', 'abc,0a1b2c3d4e5f,x', /not a pipeline id: "abc", "x"/],
  ];
  for (const [name, value, message] of refused) {
    it(`refuses ${name}, naming the variable`, () =>
      assert.throws(
        () => loadConfig({ ...isolated, PINPIPE_PIPELINE_IDS: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.length === 1 &&
          err.problems[0]!.startsWith(`PINPIPE_PIPELINE_IDS=${JSON.stringify(value)}: `) &&
          message.test(err.problems[0]!),
      ));
  }
});

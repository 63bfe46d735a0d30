import assert from 'node:assert/strict';
import { drawEvents } from '../../src/domain/generator';
import { freePort, spawnEntry, waitForOutput, type Spawned } from '../helpers/processes';
import { stackEnv } from '../helpers/stack';
import {
  offsetsOf,
  readBack,
  request,
  startApiHarness,
  streamRequest,
  type ApiHarness,
} from './harness';

const [event] = [...drawEvents({ seed: 'lifecycle', count: 1 })];

describe('ingest API shutdown', function () {
  this.timeout(60_000);
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('close() stops accepting but lets an in-flight request finish and be produced', async () => {
    let closed: Promise<void> | undefined;
    let closedYet = false;
    const body = JSON.stringify({ records: [{ value: event!.pin }] });
    const half = body.length >> 1;
    const reply = await streamRequest(`${h.url}/topics/${h.topics.pin}`, {
      chunks: [body.slice(0, half), body.slice(half)],
      beforeLast: async () => {
        // The request is in flight (headers and half the body sent): shut down now.
        await new Promise((r) => setTimeout(r, 100));
        closed = h.api.close().then(() => {
          closedYet = true;
        });
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(closedYet, false, 'close() waits for the in-flight request');
      },
    });
    assert.equal(reply.status, 200);
    const [entry] = (reply.body as { offsets: { partition: number; offset: number }[] }).offsets;
    await closed;
    const stored = await readBack(h.kafka, h.topics.pin, [entry!]);
    assert.equal(
      stored.get(`${entry!.partition}:${entry!.offset}`)?.value,
      JSON.stringify(event!.pin),
    );
    await assert.rejects(request(`${h.url}/healthz`), 'no longer accepting connections');
  });
});

describe('ingest API process (src/api/main.ts)', function () {
  this.timeout(90_000);
  let api: Spawned | undefined;
  let h: ApiHarness;

  before(async () => {
    h = await startApiHarness();
  });
  after(async () => {
    if (api && api.child.exitCode === null) api.child.kill('SIGKILL');
    await h?.close();
  });

  it('serves a produce on PINPIPE_API_PORT, then drains and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    api = spawnEntry('src/api/main.ts', {
      ...stackEnv(),
      PINPIPE_API_PORT: String(port),
      PINPIPE_API_TOKEN: '',
      PINPIPE_PIPELINE_IDS: h.pipelineId,
    });
    await waitForOutput(api, /pinpipe api: listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(api.output(), new RegExp(`listening on http://127\\.0\\.0\\.1:${port} `));
    const reply = await request(`http://127.0.0.1:${port}/topics/${h.topics.geo}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: event!.geo }] }),
    });
    const [entry] = offsetsOf(reply);
    assert.equal(entry!.error_code, null);
    const stored = await readBack(h.kafka, h.topics.geo, [
      { partition: entry!.partition!, offset: entry!.offset! },
    ]);
    assert.equal(
      stored.get(`${entry!.partition}:${entry!.offset}`)?.value,
      JSON.stringify(event!.geo),
    );
    // PINPIPE_PIPELINE_IDS reaches the server: another pipeline's topic is not served.
    const other = await request(`http://127.0.0.1:${port}/topics/5eedcafe0001.geo`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: [{ value: event!.geo }] }),
    });
    assert.equal(other.status, 404);
    assert.match(
      (other.body as { message: string }).message,
      new RegExp(`^Topic 5eedcafe0001\\.geo not found: this API serves pipeline ${h.pipelineId} `),
    );
    assert.match(api.output(), new RegExp(`pipelines ${h.pipelineId}\\)`));
    api.child.kill('SIGTERM');
    assert.equal(await api.exited, 0, api.output());
    assert.match(api.output(), /pinpipe api: stopped/);
  });

  it('refuses to listen beyond loopback without a token (exit 2, saying what to set)', async () => {
    const open = spawnEntry('src/api/main.ts', {
      ...stackEnv(),
      PINPIPE_API_HOST: '0.0.0.0',
      PINPIPE_API_TOKEN: '',
    });
    assert.equal(await open.exited, 2);
    assert.match(
      open.output(),
      /PINPIPE_API_HOST="0\.0\.0\.0" listens beyond this machine, so the API needs PINPIPE_API_TOKEN/,
    );
  });

  it('exits 2 naming the variable on bad configuration', async () => {
    const bad = spawnEntry('src/api/main.ts', { ...stackEnv(), PINPIPE_API_PORT: 'abc' });
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /PINPIPE_API_PORT="abc": expected a port number/);
  });
});

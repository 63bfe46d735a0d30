import assert from 'node:assert/strict';
import type { EmulatorSummary } from '../../src/emulator/run-emulator';
import { waitForOutput } from '../helpers/processes';
import { spawnCli } from '../helpers/run-cli';
import { stackEnv } from '../helpers/stack';
import { recordCount, startApiHarness, type ApiHarness } from '../api/harness';
import { TABLES } from '../../src/domain/tables';

describe('pinpipe emulate (CLI process)', function () {
  this.timeout(120_000);
  let h: ApiHarness;
  let env: Record<string, string | undefined>;

  before(async () => {
    h = await startApiHarness();
    env = { ...stackEnv(), PINPIPE_API_TOKEN: '' };
  });
  after(async () => {
    await h?.close();
  });

  it('posts --count events in --batch requests and prints a JSON summary; exit 0', async () => {
    const run = spawnCli(
      [
        'emulate',
        '--url',
        h.url,
        '--pipeline',
        h.pipelineId,
        '--count',
        '12',
        '--batch',
        '4',
        '--seed',
        '7',
        '--json',
      ],
      env,
    );
    assert.equal(await run.exited, 0, run.output());
    const summary = JSON.parse(run.stdout()) as EmulatorSummary;
    assert.equal(summary.outcome, 'completed');
    assert.equal(summary.seed, 7);
    assert.equal(summary.events, 12);
    assert.equal(summary.acknowledged, 36);
    assert.equal(summary.requests, 9);
    for (const table of TABLES) assert.equal(await recordCount(h.kafka, h.topics[table]), 12);
    assert.match(
      run.output(),
      /\d+\/12 events \| sent \d+ acked \d+ rejected 0 errors 0/,
      'a progress line on stderr',
    );
  });

  it('stops on SIGINT after in-flight requests, prints the summary and exits 130', async () => {
    const before = await Promise.all(TABLES.map((t) => recordCount(h.kafka, h.topics[t])));
    const run = spawnCli(
      ['emulate', '--url', h.url, '--pipeline', h.pipelineId, '--count', '1000', '--rate', '20'],
      env,
    );
    await waitForOutput(run, /events \| sent [1-9]/, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, run.output());
    assert.match(run.stdout(), /^pinpipe emulate: interrupted\n/);
    const events = Number(/events +(\d+) of 1000/.exec(run.stdout())?.[1]);
    assert.ok(events > 0 && events < 1000, run.stdout());
    assert.match(run.stdout(), /failed +0\n/);
    const after = await Promise.all(TABLES.map((t) => recordCount(h.kafka, h.topics[t])));
    assert.deepEqual(
      after.map((n, i) => n - before[i]!),
      [events, events, events],
      'whole events only: every started event has its pin, geo and user',
    );
  });

  it('refuses bad options before posting anything', async () => {
    const badCount = spawnCli(['emulate', '--count', 'many'], env);
    assert.equal(await badCount.exited, 2, badCount.output());
    assert.match(badCount.output(), /--count <n>.*expected an integer >= 0/);
    const badPipeline = spawnCli(['emulate', '--pipeline', 'XYZ'], env);
    assert.equal(await badPipeline.exited, 2, badPipeline.output());
    assert.match(
      badPipeline.output(),
      /expected 12 lowercase hex characters, got "XYZ" from --pipeline/,
    );
  });

  it('exits 1 with the reason when the pipeline has no topics', async () => {
    const run = spawnCli(
      ['emulate', '--url', h.url, '--pipeline', 'fedcba987654', '--count', '3'],
      env,
    );
    assert.equal(await run.exited, 1);
    assert.match(
      run.stdout(),
      /aborted: fedcba987654\.pin: HTTP 404: Topic fedcba987654\.pin not found/,
    );
  });
});

import assert from 'node:assert/strict';
import { stackEnv } from '../helpers/stack';
import { runCli } from '../helpers/run-cli';

/**
 * The README's promise: bad configuration or arguments exit 2 with the variable or flag named,
 * in every command, before anything is contacted.
 */
describe('pinpipe exit code 2 on bad configuration or arguments (CLI process)', function () {
  this.timeout(180_000);
  // Nothing listens on port 1: a command that went ahead would fail (exit 1) or hang, not exit 2.
  const env = {
    ...stackEnv(),
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    KAFKA_BROKERS: '127.0.0.1:1',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
  };
  const date = ['--date', '2026-11-25'];
  const commands = [
    ['ingest', 'start'],
    ['ingest', 'stop'],
    ['ingest', 'status'],
    ['schedule', 'apply'],
    ['schedule', 'trigger'],
    ['nightly', 'run', ...date],
    ['nightly', 'backfill', '--from', '2026-11-24', '--to', '2026-11-25'],
    ['report'],
    ['emulate'],
    ['provision'],
    ['provision', 'status'],
    ['provision', 'retry'],
    ['provision', 'abort'],
    ['teardown'],
    ['demo'],
  ];

  async function expectUsage(args: string[], extraEnv: Record<string, string>, named: RegExp) {
    const r = await runCli(args, { ...env, ...extraEnv });
    const shown = `pinpipe ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`;
    assert.equal(r.code, 2, shown);
    assert.match(r.stderr, named, shown);
    assert.equal(r.stdout, '', shown);
  }

  /** Three CLI processes at a time: each spends most of its second starting up. */
  async function eachAtOnce<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    const queue = [...items];
    const lane = async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    };
    await Promise.all([lane(), lane(), lane()]);
  }

  it('a bad PINPIPE_PIPELINE_ID: `ingest status` and every other command', async () => {
    const named = /PINPIPE_PIPELINE_ID="xyz": expected 12 lowercase hex characters/;
    await expectUsage(['ingest', 'status'], { PINPIPE_PIPELINE_ID: 'xyz' }, named);
    await eachAtOnce(commands, (args) => expectUsage(args, { PINPIPE_PIPELINE_ID: 'xyz' }, named));
  });

  it('a bad --pipeline: `ingest status --pipeline XYZ` and every other command', async () => {
    const named = /pipelineId: expected 12 lowercase hex characters, got "XYZ" from --pipeline/;
    await expectUsage(['ingest', 'status', '--pipeline', 'XYZ'], {}, named);
    await eachAtOnce(commands, (args) => expectUsage([...args, '--pipeline', 'XYZ'], {}, named));
  });

  it('a date that does not exist: `nightly run --date 2026-13-45`', async () => {
    await expectUsage(
      ['nightly', 'run', '--date', '2026-13-45'],
      {},
      /option '--date <YYYY-MM-DD>' argument '2026-13-45' is invalid\. expected a date YYYY-MM-DD/,
    );
    await expectUsage(
      ['nightly', 'backfill', '--from', '2026-02-30', '--to', '2026-03-01'],
      {},
      /option '--from <YYYY-MM-DD>' argument '2026-02-30' is invalid/,
    );
  });

  it('an invalid number: `emulate --count -3`, `ingest start --max-bytes 10`', async () => {
    await expectUsage(
      ['emulate', '--count', '-3'],
      {},
      /option '--count <n>' argument '-3' is invalid\. expected an integer >= 0/,
    );
    await expectUsage(
      ['ingest', 'start', '--max-bytes', '10'],
      {},
      /option '--max-bytes <n>' argument '10' is invalid/,
    );
  });

  it('an unknown option, a missing value, an unknown --table, a missing subcommand', async () => {
    await expectUsage(['ingest', 'status', '--bogus'], {}, /unknown option '--bogus'/);
    await expectUsage(
      ['nightly', 'run'],
      {},
      /required option '--date <YYYY-MM-DD>' not specified/,
    );
    await expectUsage(['report', '--date'], {}, /option '--date <YYYY-MM-DD>' argument missing/);
    await expectUsage(
      ['ingest', 'status', '--table', 'pins'],
      {},
      /option '--table <table>' argument 'pins' is invalid\. Allowed choices are pin, geo, user/,
    );
    await expectUsage(['ingest'], {}, /Usage: pinpipe ingest/);
  });

  it('--help still exits 0', async () => {
    const r = await runCli(['ingest', 'status', '--help'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: pinpipe ingest status/);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAdapters } from '../../src/adapters/create-adapters';
import { bucketFor } from '../../src/domain/tables';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { spawnEntry } from '../helpers/processes';
import { stackConfig, stackEnv } from '../helpers/stack';

/** `pinpipe report` against the stack's real S3, with a small fake analytics day in its bucket. */
describe('pinpipe report (CLI process)', function () {
  this.timeout(60_000);
  const pipelineId = randomPipelineId();
  const bucket = bucketFor(pipelineId);
  const env = { ...stackEnv(), PINPIPE_PIPELINE_ID: pipelineId };
  const adapters = createAdapters(stackConfig());
  const older = '2026-11-24';
  const latest = '2026-11-25';
  const html = '<!doctype html><title>fake report</title><p>hello</p>\n';
  const byYear = {
    query: 'users_joined_by_year',
    columns: ['post_year', 'number_users_joined'],
    rows: [
      { post_year: 2015, number_users_joined: 108 },
      { post_year: 2016, number_users_joined: 7 },
    ],
  };
  const byCountry = {
    query: 'country_with_most_followed_user',
    columns: ['country', 'follower_count'],
    rows: [{ country: 'Côte d’Ivoire', follower_count: 500000 }],
  };
  // The manifest lists the queries in DESIGN order, which is not alphabetical here.
  const manifest = {
    date: latest,
    queries: [
      { query: byYear.query, rows: 2, key: `analytics/dt=${latest}/${byYear.query}.json` },
      { query: byCountry.query, rows: 1, key: `analytics/dt=${latest}/${byCountry.query}.json` },
    ],
    report: `analytics/dt=${latest}/report.html`,
  };
  const objects: Record<string, string> = {
    [`analytics/dt=${older}/report.html`]: '<!doctype html><title>older</title>\n',
    [`analytics/dt=${latest}/report.html`]: html,
    [`analytics/dt=${latest}/${byYear.query}.json`]: JSON.stringify(byYear, null, 2),
    [`analytics/dt=${latest}/${byCountry.query}.json`]: JSON.stringify(byCountry, null, 2),
    [`analytics/dt=${latest}/_manifest.json`]: JSON.stringify(manifest, null, 2),
    // Neither is part of the day's report: a nested key and another zone's file.
    [`analytics/dt=${latest}/tmp/ignored.json`]: '{}',
    [`clean/pin/dt=${latest}/_manifest.json`]: '{}',
  };
  let out: string;

  before(async () => {
    await adapters.store.ensureBucket(bucket);
    for (const [key, body] of Object.entries(objects)) {
      await adapters.store.put({ bucket, key, body });
    }
    out = await mkdtemp(path.join(tmpdir(), 'pinpipe-report-cli-'));
  });

  after(async () => {
    for (const key of Object.keys(objects)) await adapters.store.delete({ bucket, key });
    await adapters.store.deleteBucket(bucket);
    await adapters.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ code: number | null; out: string }> {
    const cli = spawnEntry('src/cli/main.ts', env, ['report', '--out', out, ...args]);
    const code = await cli.exited;
    return { code, out: cli.output() };
  }

  it('downloads the latest day into <out>/<id>/<date>/ and prints the path and an open hint', async () => {
    const r = await run(['--print']);
    assert.equal(r.code, 0, r.out);
    const dir = path.join(out, pipelineId, latest);
    assert.deepEqual((await readdir(dir)).sort(), [
      '_manifest.json',
      'country_with_most_followed_user.json',
      'report.html',
      'users_joined_by_year.json',
    ]);
    for (const name of await readdir(dir)) {
      assert.equal(
        await readFile(path.join(dir, name), 'utf8'),
        objects[`analytics/dt=${latest}/${name}`],
      );
    }
    const reportPath = path.join(dir, 'report.html');
    assert.ok(path.isAbsolute(reportPath));
    const lines = r.out.split('\n');
    assert.ok(lines.includes(reportPath), r.out);
    const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
    assert.ok(lines.includes(`open it: ${opener} ${reportPath}`), r.out);
    // --print: each query as an aligned table, in the manifest's order
    const tables = [
      'users_joined_by_year (2 rows)',
      'post_year  number_users_joined',
      '---------  -------------------',
      '     2015                  108',
      '     2016                    7',
      '',
      'country_with_most_followed_user (1 row)',
      'country        follower_count',
      '-------------  --------------',
      'Côte d’Ivoire          500000',
    ].join('\n');
    assert.ok(r.out.includes(tables), r.out);
  });

  it('--date picks that day; --json prints {reportPath, date, queries}', async () => {
    const r = await run(['--pipeline', pipelineId, '--date', older, '--json']);
    assert.equal(r.code, 0, r.out);
    const json = JSON.parse(r.out.slice(r.out.indexOf('{'))) as unknown;
    assert.deepEqual(json, {
      reportPath: path.join(out, pipelineId, older, 'report.html'),
      date: older,
      queries: [],
    });
    const latestJson = await run(['--json']);
    assert.deepEqual(
      (JSON.parse(latestJson.out.slice(latestJson.out.indexOf('{'))) as { queries: string[] })
        .queries,
      ['users_joined_by_year', 'country_with_most_followed_user'],
    );
  });

  it('a day without a report: exit 1 and what to run', async () => {
    const r = await run(['--date', '2026-11-20']);
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.out,
      new RegExp(
        `no analytics for 2026-11-20 in s3://${bucket}/analytics/dt=2026-11-20/; ` +
          'run `pinpipe nightly run --date 2026-11-20` first',
      ),
    );
    assert.match(r.out, /days with a report: 2026-11-24, 2026-11-25/);
  });

  it('a pipeline without a bucket: exit 1 and says so', async () => {
    const other = randomPipelineId();
    const r = await run(['--pipeline', other]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`bucket s3://user-${other}-bucket does not exist`));
  });
});

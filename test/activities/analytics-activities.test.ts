import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  ANALYTICS_SETUP_FAILED,
  BAD_CLEAN_MANIFEST,
  createAnalyticsActivities,
  duckDbS3OptionsFrom,
  type RunAnalyticsInput,
  type RunAnalyticsResult,
} from '../../src/activities/analytics-activities';
import { createS3Client, S3ObjectStore } from '../../src/adapters/s3-object-store';
import { writeCleanParquet, type CleanRow } from '../../src/analytics/parquet-writer';
import { runAnalytics, toQueryJson, type AnalyticsResult } from '../../src/analytics/run-analytics';
import { cleanRecord } from '../../src/domain/cleaning';
import {
  analyticsManifestKey,
  analyticsPrefix,
  cleanFileKey,
  cleanManifestKey,
  cleanStagingPrefix,
  type CleanManifest,
} from '../../src/domain/clean-zone';
import { drawEvents } from '../../src/domain/generator';
import { TABLES, type Table } from '../../src/domain/tables';
import type { ObjectStore } from '../../src/ports/object-store';
import { geo, PART_1, PART_2, pin, user } from '../analytics/hand-built-data';
import { stackConfig, uniqueName } from '../helpers/stack';

type Rows = { [T in Table]: CleanRow<T>[] };

/** Generated clean rows: enough bytes that a copy into the scratch dir could not go unnoticed. */
function generatedDay(count: number): Rows {
  const rows: Rows = { pin: [], geo: [], user: [] };
  for (const event of drawEvents({ seed: 'analytics-activities-test', count })) {
    rows.pin.push(cleanRecord('pin', event.pin));
    rows.geo.push(cleanRecord('geo', event.geo));
    rows.user.push(cleanRecord('user', event.user));
  }
  return rows;
}

/**
 * Rows that would change every answer if read: a new country whose posts win 1, 2 and 3a/3b, and
 * users of every age group and joining year with huge follower counts.
 */
function decoyRows(): Rows {
  const inds = Array.from({ length: 40 }, (_, i) => 90_000 + i);
  return {
    pin: inds.map((ind) => pin(ind, 'vehicles', 'Decoy', 9_000_000_000)),
    geo: inds.map((ind) => geo(ind, 'Zanzibar', '2020-06-06T00:00:00Z')),
    user: inds.map((ind, i) =>
      user(ind, `Decoy ${i}`, 18 + i, `${2015 + (i % 6)}-03-03T00:00:00Z`),
    ),
  };
}

/** Every object key `get` was asked for: manifests only, if nothing is downloaded. */
function recordingGets(store: ObjectStore, gets: string[]): ObjectStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if ((property === 'get' || property === 'getStream') && typeof value === 'function') {
        return (ref: { key: string }, ...rest: unknown[]) => {
          gets.push(ref.key);
          return (value as (...args: unknown[]) => unknown).call(target, ref, ...rest);
        };
      }
      return value;
    },
  });
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch {
    return 0; // removed meanwhile
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    total += (await stat(path.join(e.parentPath, e.name)).catch(() => undefined))?.size ?? 0;
  }
  return total;
}

/** An activity environment whose expected failures do not print a WARN each. */
const mockEnvironment = () =>
  new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

describe('activities/analytics-activities: the analytics read the committed Parquet in S3', () => {
  const config = stackConfig();
  const s3 = createS3Client(config.aws);
  const store = new S3ObjectStore(s3);
  const bucket = uniqueName('analytics-test');
  const run = 'run0000test1';
  const days: { date: string; rows: Rows }[] = [
    { date: '2024-01-01', rows: PART_1 },
    { date: '2024-01-02', rows: PART_2 },
    { date: '2024-01-03', rows: generatedDay(4000) },
  ];
  const input: RunAnalyticsInput = { bucket, pipelineId: '0a1b2c3d4e5f', date: '2024-01-04' };
  let local: string;
  let scratch: string;
  /** Local copies of exactly the committed files, per table. */
  const committed: { [T in Table]: string[] } = { pin: [], geo: [], user: [] };
  let committedBytes = 0;
  let expected: AnalyticsResult[];

  async function putFile(key: string, file: string): Promise<number> {
    const body = await readFile(file);
    await store.put({ bucket, key, body, contentType: 'application/vnd.apache.parquet' });
    return body.byteLength;
  }

  before(async function () {
    this.timeout(120_000);
    local = await mkdtemp(path.join(tmpdir(), 'pinpipe-analytics-activities-'));
    scratch = await mkdtemp(path.join(tmpdir(), 'pinpipe-analytics-scratch-'));
    await store.ensureBucket(bucket);
    for (const { date, rows } of days) {
      for (const table of TABLES) {
        const file = path.join(local, `${table}-${date}.parquet`);
        const written = await writeCleanParquet(table, rows[table] as never, file);
        const key = cleanFileKey(table, date, run, 0);
        committedBytes += await putFile(key, file);
        committed[table].push(file);
        const manifest: CleanManifest = {
          table,
          date,
          run,
          committedAt: new Date().toISOString(),
          files: [{ key, rows: written.rows, bytes: written.bytes }],
          inputs: [],
          counts: {
            rawRecords: written.rows,
            rowsOut: written.rows,
            quarantined: 0,
            duplicates: 0,
          },
          gates: [],
        };
        await store.put({
          bucket,
          key: cleanManifestKey(table, date),
          body: JSON.stringify(manifest),
          contentType: 'application/json',
        });
      }
    }
    // In the same prefixes, never in a manifest: an earlier run's file a swap left behind, a
    // staged part of a run still going, and bytes that are not Parquet at all. Reading any of
    // them would change the answers (decoys) or fail the run (junk).
    for (const table of TABLES) {
      const decoy = path.join(local, `${table}-decoy.parquet`);
      await writeCleanParquet(table, decoyRows()[table] as never, decoy);
      await putFile(cleanFileKey(table, '2024-01-01', 'replacedrun1', 0), decoy);
      await putFile(
        `${cleanStagingPrefix(table, '2024-01-02', 'stagedrun01')}part-00000.parquet`,
        decoy,
      );
      await store.put({
        bucket,
        key: cleanFileKey(table, '2024-01-03', 'junkjunkjunk', 0),
        body: 'not parquet',
      });
    }
    expected = await runAnalytics(committed);
  });

  after(async () => {
    for await (const o of store.list({ bucket, prefix: '' }))
      await store.delete({ bucket, key: o.key });
    await store.deleteBucket(bucket);
    s3.destroy();
    await rm(local, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('gives the answers runAnalytics gives over local copies of exactly the committed files', async function () {
    this.timeout(120_000);
    const gets: string[] = [];
    const activities = createAnalyticsActivities({
      store: recordingGets(store, gets),
      duckdb: duckDbS3OptionsFrom(config),
      scratchDir: scratch,
    });
    const env = mockEnvironment();
    const dayFinished = (i: { bucket: string; date: string }) => activities.dayFinished(i);
    let heartbeats = 0;
    env.on('heartbeat', () => heartbeats++);
    let maxScratch = 0;
    const watch = setInterval(() => {
      void bytesUnder(scratch).then((n) => (maxScratch = Math.max(maxScratch, n)));
    }, 5);

    assert.equal(await env.run(dayFinished, input), false);
    let result: RunAnalyticsResult;
    try {
      result = await env.run((i: RunAnalyticsInput) => activities.runAnalytics(i), input);
    } finally {
      clearInterval(watch);
    }

    // The decoys win queries 1-3 and shift every median if read; the reference never saw them.
    assert.ok(
      !JSON.stringify(expected).includes('Zanzibar') && !JSON.stringify(expected).includes('Decoy'),
    );
    const prefix = analyticsPrefix(input.date);
    assert.deepEqual(result.partitions, { pin: 3, geo: 3, user: 3 });
    assert.deepEqual(
      result.queries,
      expected.map((r) => ({
        query: r.query,
        rows: r.rows.length,
        key: `${prefix}${r.query}.json`,
      })),
    );
    for (const r of expected) {
      const stored: unknown = JSON.parse(
        text(await store.get({ bucket, key: `${prefix}${r.query}.json` })) ?? 'null',
      );
      assert.deepStrictEqual(stored, toQueryJson(r), r.query);
    }
    const report = text(await store.get({ bucket, key: result.reportKey }));
    assert.equal(result.reportKey, `${prefix}report.html`);
    assert.match(report ?? '', /^<!doctype html>/i);
    assert.equal(result.manifestKey, analyticsManifestKey(input.date));
    const manifest = JSON.parse(
      text(await store.get({ bucket, key: result.manifestKey })) ?? 'null',
    ) as Record<string, unknown>;
    assert.deepEqual(
      { ...manifest, generatedAt: undefined },
      {
        date: input.date,
        generatedAt: undefined,
        partitions: result.partitions,
        queries: result.queries,
        report: result.reportKey,
      },
    );
    assert.equal(await env.run(dayFinished, input), true);
    assert.equal(await env.run(dayFinished, { bucket, date: '2024-01-05' }), false);

    // Nothing was downloaded: the only objects fetched through the store are the manifests, and
    // the scratch dir never held more than a sliver of what is committed (it is gone afterwards).
    assert.equal(gets.length, 9);
    for (const key of gets)
      assert.match(key, /^clean\/(pin|geo|user)\/dt=[\d-]+\/_manifest\.json$/);
    assert.ok(committedBytes > 200_000, `committed ${committedBytes} bytes`);
    assert.ok(maxScratch < committedBytes / 20, `scratch held ${maxScratch} bytes`);
    assert.deepEqual(await readdir(scratch), []);
    assert.ok(heartbeats >= 1, 'heartbeats on a clock');
  });

  it('fails for good, naming the manifest, when a committed manifest is unreadable', async () => {
    const key = cleanManifestKey('geo', '2024-02-01');
    await store.put({ bucket, key, body: '{"table": "geo"' });
    try {
      const activities = createAnalyticsActivities({ store, duckdb: duckDbS3OptionsFrom(config) });
      await assert.rejects(
        mockEnvironment().run((i: RunAnalyticsInput) => activities.runAnalytics(i), input),
        (err: unknown) =>
          err instanceof ApplicationFailure &&
          err.nonRetryable === true &&
          err.type === BAD_CLEAN_MANIFEST &&
          err.message.includes(`s3://${bucket}/${key}`),
      );
    } finally {
      await store.delete({ bucket, key });
    }
  });

  describe('S3 access that cannot be set up fails for good with a message a person can act on', () => {
    let bogus: string;
    before(async () => {
      bogus = path.join(local, 'httpfs.duckdb_extension');
      await writeFile(bogus, 'not an extension');
    });

    const cases: [
      string,
      () => Parameters<typeof createAnalyticsActivities>[0]['duckdb'],
      RegExp,
    ][] = [
      [
        'an extension file that is not httpfs for this DuckDB',
        () => ({ ...duckDbS3OptionsFrom(config), httpfsExtension: bogus }),
        /could not load DuckDB's httpfs extension from .*httpfs\.duckdb_extension \(the file must be httpfs built for DuckDB v?\d/,
      ],
      [
        'an endpoint with a path, which DuckDB cannot address',
        () => ({ ...duckDbS3OptionsFrom(config), endpoint: 'http://127.0.0.1:7070/s3' }),
        /S3 endpoint http:\/\/127\.0\.0\.1:7070\/s3: .*without a path/,
      ],
    ];
    for (const [what, duckdb, message] of cases) {
      it(what, async () => {
        const activities = createAnalyticsActivities({ store, duckdb: duckdb() });
        await assert.rejects(
          mockEnvironment().run((i: RunAnalyticsInput) => activities.runAnalytics(i), input),
          (err: unknown) =>
            err instanceof ApplicationFailure &&
            err.nonRetryable === true &&
            err.type === ANALYTICS_SETUP_FAILED &&
            message.test(err.message),
        );
      });
    }
  });
});

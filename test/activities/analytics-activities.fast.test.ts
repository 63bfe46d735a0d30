import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  ANALYTICS_SETUP_FAILED,
  BAD_CLEAN_MANIFEST,
  createAnalyticsActivities,
  type RunAnalyticsInput,
} from '../../src/activities/analytics-activities';
import {
  analyticsManifestKey,
  analyticsPrefix,
  cleanManifestKey,
  type CleanManifest,
} from '../../src/domain/clean-zone';
import { activityAttempt, failureOf, useScratchDir } from '../fakes/activity-environment';
import { MemoryObjectStore } from '../fakes/memory-object-store';

/**
 * What of the analytics runs without a service. The queries themselves read the committed
 * Parquet straight from S3 through DuckDB's httpfs, so they need an S3 endpoint: they stay in
 * analytics-activities.test.ts (against the stack). Here: dayFinished, the manifest checks that
 * run before DuckDB opens, and the setup failure when httpfs cannot load.
 */

const BUCKET = 'user-0a1b2c3d4e5f-bucket';
const input: RunAnalyticsInput = { bucket: BUCKET, pipelineId: '0a1b2c3d4e5f', date: '2024-01-04' };

function manifest(overrides: Partial<CleanManifest> = {}): CleanManifest {
  return {
    table: 'pin',
    date: '2024-01-01',
    run: 'run000000001',
    committedAt: '2024-01-02T00:00:00.000Z',
    files: [{ key: 'clean/pin/dt=2024-01-01/run000000001-0.parquet', rows: 3, bytes: 100 }],
    inputs: [],
    counts: { rawRecords: 3, rowsOut: 3, quarantined: 0, duplicates: 0 },
    gates: [],
    ...overrides,
  };
}

describe('activities/analytics-activities (fast: in-memory S3, no httpfs)', () => {
  const scratch = useScratchDir('pinpipe-analytics-fast-');
  let store: MemoryObjectStore;
  let analytics: ReturnType<typeof createAnalyticsActivities>;

  beforeEach(() => {
    store = new MemoryObjectStore({ buckets: [BUCKET] });
    analytics = createAnalyticsActivities({
      store,
      scratchDir: scratch(),
      // A file that is not there: DuckDB cannot load httpfs, and never downloads it.
      duckdb: {
        region: 'us-east-1',
        httpfsExtension: path.join(scratch(), 'no-httpfs.duckdb_extension'),
      },
    });
  });

  const putManifest = (table: 'pin' | 'geo' | 'user', day: string, body: unknown) =>
    store.put({
      bucket: BUCKET,
      key: cleanManifestKey(table, day),
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it("dayFinished: true only once the day's analytics manifest exists", async () => {
    const attempt = activityAttempt();
    assert.equal(
      await attempt.run(analytics, 'dayFinished', { bucket: BUCKET, date: input.date }),
      false,
    );
    await store.put({
      bucket: BUCKET,
      key: `${analyticsPrefix(input.date)}report.html`,
      body: '<p>',
    });
    assert.equal(
      await attempt.run(analytics, 'dayFinished', { bucket: BUCKET, date: input.date }),
      false,
      'a report alone is not a finished day',
    );
    await store.put({ bucket: BUCKET, key: analyticsManifestKey(input.date), body: '{}' });
    assert.equal(
      await attempt.run(analytics, 'dayFinished', { bucket: BUCKET, date: input.date }),
      true,
    );
  });

  it('fails for good on a manifest that is not JSON, naming it', async () => {
    await putManifest('pin', '2024-01-01', '{"table": "pin", trunc');
    const failure = await failureOf(activityAttempt().run(analytics, 'runAnalytics', input));
    assert.equal(failure.type, BAD_CLEAN_MANIFEST);
    assert.equal(failure.nonRetryable, true);
    assert.ok(failure.message.includes(`s3://${BUCKET}/${cleanManifestKey('pin', '2024-01-01')}`));
  });

  it('fails for good on a manifest of another table', async () => {
    await putManifest('geo', '2024-01-01', manifest({ table: 'pin' }));
    const failure = await failureOf(activityAttempt().run(analytics, 'runAnalytics', input));
    assert.equal(failure.type, BAD_CLEAN_MANIFEST);
    assert.match(failure.message, /it is for table pin/);
  });

  it('fails for good on a manifest listing a file with glob characters', async () => {
    await putManifest(
      'user',
      '2024-01-01',
      manifest({ table: 'user', files: [{ key: 'clean/user/dt=*/x.parquet', rows: 1, bytes: 1 }] }),
    );
    const failure = await failureOf(activityAttempt().run(analytics, 'runAnalytics', input));
    assert.equal(failure.type, BAD_CLEAN_MANIFEST);
  });

  it('reads only manifests at the partition level, then fails for good when httpfs cannot load; writes nothing', async () => {
    await putManifest('pin', '2024-01-01', manifest());
    // Not manifests of a partition: never read, so their content does not matter.
    await store.put({
      bucket: BUCKET,
      key: 'clean/pin/dt=2024-01-01/x/_manifest.json',
      body: 'junk',
    });
    await store.put({
      bucket: BUCKET,
      key: 'clean/pin/dt=2024-13-45/_manifest.json',
      body: 'junk',
    });
    const attempt = activityAttempt();
    const failure = await failureOf(attempt.run(analytics, 'runAnalytics', input));
    assert.equal(failure.type, ANALYTICS_SETUP_FAILED);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /httpfs/);
    assert.equal(store.faults.count('get'), 1, 'the one partition manifest');
    assert.deepEqual(store.keys(BUCKET, 'analytics/'), []);
    assert.ok(attempt.heartbeats.length > 0);
    assert.deepEqual(await readdir(scratch()), [], 'scratch removed');
  });
});

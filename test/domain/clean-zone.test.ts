import assert from 'node:assert/strict';
import {
  ANALYTICS_DAYS_PREFIX,
  analyticsQueryKey,
  analyticsReportDay,
  analyticsReportKey,
  cleanFileKey,
  cleanManifestDay,
  cleanManifestKey,
  cleanStagingPrefix,
  cleanTablePrefix,
  isDataDate,
  parseCleanManifest,
} from '../../src/domain/clean-zone';

describe('clean zone', () => {
  const dates: Array<[unknown, boolean]> = [
    ['2026-11-25', true],
    ['2024-02-29', true],
    ['2026-02-29', false],
    ['2026-13-01', false],
    ['2026-1-01', false],
    ['2026-11-25T00:00:00Z', false],
    [20261125, false],
    [undefined, false],
  ];
  for (const [value, ok] of dates) {
    it(`isDataDate(${JSON.stringify(value)}) is ${ok}`, () => assert.equal(isDataDate(value), ok));
  }

  it('names files per run, the manifest per partition, and stages where readers do not look', () => {
    assert.equal(
      cleanFileKey('pin', '2026-11-25', 'abc', 0),
      'clean/pin/dt=2026-11-25/abc-0.parquet',
    );
    assert.equal(cleanManifestKey('geo', '2026-11-25'), 'clean/geo/dt=2026-11-25/_manifest.json');
    assert.equal(
      cleanStagingPrefix('user', '2026-11-25', 'abc'),
      'clean/user/_staging/dt=2026-11-25/abc/',
    );
  });

  it("finds a table's committed days by their manifests, and nothing else", () => {
    assert.equal(cleanTablePrefix('pin'), 'clean/pin/dt=');
    assert.ok(cleanManifestKey('pin', '2026-11-25').startsWith(cleanTablePrefix('pin')));
    assert.equal(cleanManifestDay('pin', cleanManifestKey('pin', '2026-11-25')), '2026-11-25');
    assert.equal(cleanManifestDay('geo', cleanManifestKey('pin', '2026-11-25')), undefined);
    assert.equal(cleanManifestDay('pin', 'clean/pin/dt=2026-11-25/x/_manifest.json'), undefined);
    assert.equal(cleanManifestDay('pin', 'clean/pin/dt=2026-13-45/_manifest.json'), undefined);
    assert.equal(cleanManifestDay('pin', cleanFileKey('pin', '2026-11-25', 'abc', 0)), undefined);
  });

  it("names a day's analytics, and finds the days with a report", () => {
    assert.equal(analyticsReportKey('2026-11-25'), 'analytics/dt=2026-11-25/report.html');
    assert.equal(
      analyticsQueryKey('2026-11-25', 'top_categories'),
      'analytics/dt=2026-11-25/top_categories.json',
    );
    assert.ok(analyticsReportKey('2026-11-25').startsWith(ANALYTICS_DAYS_PREFIX));
    assert.equal(analyticsReportDay(analyticsReportKey('2026-11-25')), '2026-11-25');
    assert.equal(analyticsReportDay(analyticsQueryKey('2026-11-25', 'q')), undefined);
    assert.equal(analyticsReportDay('analytics/dt=2026-02-30/report.html'), undefined);
  });

  it('parses a manifest and rejects one that is missing its counts', () => {
    const manifest = {
      table: 'pin',
      date: '2026-11-25',
      run: 'abc',
      committedAt: '2026-11-26T02:00:00Z',
      files: [{ key: 'clean/pin/dt=2026-11-25/abc-0.parquet', rows: 3, bytes: 100 }],
      inputs: ['topics/x.pin/dt=2026-11-25/partition=0/x.pin+0+0000000000.json'],
      counts: { rawRecords: 4, rowsOut: 3, quarantined: 0, duplicates: 1 },
      gates: [],
    };
    assert.deepEqual(parseCleanManifest(JSON.stringify(manifest)), manifest);
    const broken: Partial<typeof manifest> = { ...manifest };
    delete broken.counts;
    assert.throws(() => parseCleanManifest(JSON.stringify(broken)), /counts/);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { writeCleanParquet } from '../../src/analytics/parquet-writer';
import { renderReport } from '../../src/analytics/report-html';
import { runAnalytics, type AnalyticsResult } from '../../src/analytics/run-analytics';
import { TABLES, type Table } from '../../src/domain/tables';
import { launchChromium, screenshotDir } from '../helpers/browser';
import { assertChartsDrawn, assertPng, watchPage } from '../helpers/report-checks';
import { PART_1, PART_2 } from './hand-built-data';

/** The report as a person sees it: opened from disk in a real Chromium, charts drawn. */
describe('analytics report in Chromium', function () {
  this.timeout(60_000);
  let dir: string;
  let reportUrl: string;
  let results: AnalyticsResult[];
  let browser: Browser | undefined;

  before(async function () {
    // Installing Chromium (scripts/browser.sh) can take minutes on a fresh machine.
    this.timeout(11 * 60_000);
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-report-browser-'));
    const files = {} as Record<Table, string[]>;
    for (const table of TABLES) {
      files[table] = [];
      for (const [n, part] of [PART_1, PART_2].entries()) {
        const file = join(dir, `${table}-${n}.parquet`);
        await writeCleanParquet(table, part[table] as never, file);
        files[table].push(file);
      }
    }
    results = await runAnalytics(files);
    const reportPath = join(dir, 'report.html');
    await writeFile(
      reportPath,
      renderReport(results, { date: '2024-01-02', pipelineId: '5eedcafe0001' }),
    );
    reportUrl = pathToFileURL(reportPath).href;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws nine charts with bars, logs no error and fetches nothing', async () => {
    assert.ok(browser, 'Chromium launched');
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const { errors, requests } = watchPage(page);

    await page.goto(reportUrl, { waitUntil: 'load' });

    assert.equal(results.length, 9, 'nine queries');
    for (const result of results) {
      // The hand-built data gives every query rows to draw.
      assert.ok(result.rows.length > 0, `${result.query} has rows to draw`);
    }
    await assertChartsDrawn(
      page,
      results.map((r) => ({ query: r.query, title: r.title, rows: r.rows.length })),
    );

    const screenshot = join(screenshotDir(), 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    await assertPng(screenshot);

    assert.deepEqual(errors, [], 'no console or page errors');
    assert.deepEqual(requests, [reportUrl], 'the page itself is the only request');
  });
});

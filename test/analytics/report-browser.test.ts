import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { writeCleanParquet } from '../../src/analytics/parquet-writer';
import { renderReport } from '../../src/analytics/report-html';
import { runAnalytics, type AnalyticsResult } from '../../src/analytics/run-analytics';
import { TABLES, type Table } from '../../src/domain/tables';
import { launchChromium, screenshotDir } from '../helpers/browser';
import { PART_1, PART_2 } from './hand-built-data';

/** What the bar check reads of an SVG element; tsconfig has no DOM lib to type it. */
interface DrawnElement {
  getBoundingClientRect(): { width: number };
  ownerDocument: { defaultView: { getComputedStyle(e: unknown): { fill: string } } | null };
}

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
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));

    await page.goto(reportUrl, { waitUntil: 'load' });

    const charts = page.locator('main section figure > svg[role="img"]');
    assert.equal(await charts.count(), 9, 'one chart per query');
    for (const [i, result] of results.entries()) {
      const chart = charts.nth(i);
      // Each chart belongs to its query, in order (the hand-built data gives every query rows).
      assert.equal(await chart.getAttribute('aria-label'), result.title);
      assert.ok(result.rows.length > 0, `${result.query} has rows to draw`);
      const box = await chart.boundingBox();
      assert.ok(
        box && box.width > 0 && box.height > 0,
        `${result.query}: chart box ${JSON.stringify(box)}`,
      );
      const bars = chart.locator('rect.bar');
      assert.ok((await bars.count()) >= 1, `${result.query}: at least one bar`);
      // The largest value's bar is the full plot width: it must be visibly drawn, in the bar
      // colour from the inline stylesheet (the page's CSP must not have blocked it).
      const drawn = await bars.evaluateAll((rects: unknown[]) =>
        (rects as DrawnElement[]).map((r) => ({
          width: r.getBoundingClientRect().width,
          fill: r.ownerDocument.defaultView?.getComputedStyle(r).fill,
        })),
      );
      assert.ok(
        drawn.some((b) => b.width > 0),
        `${result.query}: a bar with width: ${JSON.stringify(drawn)}`,
      );
      assert.ok(
        drawn.every((b) => b.fill === 'rgb(63, 124, 172)'),
        `${result.query}: bar fill ${JSON.stringify(drawn)}`,
      );
    }

    const screenshot = join(screenshotDir(), 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    const png = await readFile(screenshot);
    assert.ok(png.subarray(1, 4).toString('latin1') === 'PNG' && png.length > 10_000, 'a PNG');

    assert.deepEqual(errors, [], 'no console or page errors');
    assert.deepEqual(requests, [reportUrl], 'the page itself is the only request');
  });
});

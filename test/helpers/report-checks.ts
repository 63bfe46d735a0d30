import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';

/** One chart the report must draw: its query's title (the SVG's label) and its row count. */
export interface ExpectedChart {
  query: string;
  title: string;
  rows: number;
}

/** What the bar check reads of an SVG element; tsconfig has no DOM lib to type it. */
interface DrawnElement {
  getBoundingClientRect(): { width: number };
  ownerDocument: { defaultView: { getComputedStyle(e: unknown): { fill: string } } | null };
}

/** The bar colour from report.html's inline stylesheet (so the page's CSP did not block it). */
const BAR_FILL = 'rgb(63, 124, 172)';

/**
 * The report open in `page` draws one chart per expected query, in order: the SVG is labelled
 * with the query's title, has a visible box and, when the query has rows, at least one bar
 * drawn with a width, every bar in the stylesheet's colour (an empty query: "<title>: no rows").
 */
export async function assertChartsDrawn(
  page: Page,
  expected: readonly ExpectedChart[],
): Promise<void> {
  const charts = page.locator('main section figure > svg[role="img"]');
  assert.equal(await charts.count(), expected.length, 'one chart per query');
  for (const [i, want] of expected.entries()) {
    const chart = charts.nth(i);
    const label = want.rows > 0 ? want.title : `${want.title}: no rows`;
    assert.equal(await chart.getAttribute('aria-label'), label, `chart ${i + 1} is ${want.query}`);
    const box = await chart.boundingBox();
    assert.ok(
      box && box.width > 0 && box.height > 0,
      `${want.query}: chart box ${JSON.stringify(box)}`,
    );
    if (want.rows === 0) continue;
    const bars = chart.locator('rect.bar');
    assert.ok((await bars.count()) >= 1, `${want.query}: at least one bar`);
    // The largest value's bar is the full plot width: it must be visibly drawn.
    const drawn = await bars.evaluateAll((rects: unknown[]) =>
      (rects as DrawnElement[]).map((r) => ({
        width: r.getBoundingClientRect().width,
        fill: r.ownerDocument.defaultView?.getComputedStyle(r).fill,
      })),
    );
    assert.ok(
      drawn.some((b) => b.width > 0),
      `${want.query}: a bar with width: ${JSON.stringify(drawn)}`,
    );
    assert.ok(
      drawn.every((b) => b.fill === BAR_FILL),
      `${want.query}: bar fill ${JSON.stringify(drawn)}`,
    );
  }
}

/** `file` is a PNG of some substance (a blank or failed screenshot is a few hundred bytes). */
export async function assertPng(file: string, minBytes = 10_000): Promise<void> {
  const png = await readFile(file);
  assert.ok(
    png.subarray(1, 4).toString('latin1') === 'PNG' && png.length > minBytes,
    `${file}: a PNG over ${minBytes} bytes (got ${png.length} bytes)`,
  );
}

/** Records a page's console errors, uncaught errors and every request it makes, from now on. */
export function watchPage(page: Page): { errors: string[]; requests: string[] } {
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  return { errors, requests };
}

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatNumber } from '../../src/analytics/bar-chart-svg';
import { writeCleanParquet } from '../../src/analytics/parquet-writer';
import { MAX_CHART_BARS, renderReport } from '../../src/analytics/report-html';
import { runAnalytics, type AnalyticsResult } from '../../src/analytics/run-analytics';
import { TABLES, type Table } from '../../src/domain/tables';
import { PART_1, PART_2, geo, pin, user } from './hand-built-data';

const CONTEXT = { date: '2024-01-02', pipelineId: '5eedcafe0001' };
const EVIL = '<script>alert("x")</script>';

function count(html: string, needle: string): number {
  return html.split(needle).length - 1;
}

describe('analytics/report-html', () => {
  let dir: string;
  let results: AnalyticsResult[];
  let html: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pinpipe-report-test-'));
    // the hand-built data set plus one event from a country whose name is an HTML payload
    const extra = {
      pin: [pin(99, 'art', `Poster ${EVIL} & "friends"`, 123456)],
      geo: [geo(99, EVIL, '2020-06-06T00:00:00Z')],
      user: [user(99, 'Zoe Z', 30, '2016-01-01T00:00:00Z')],
    };
    const files = {} as Record<Table, string[]>;
    for (const table of TABLES) {
      files[table] = [];
      for (const [n, part] of [PART_1, PART_2, extra].entries()) {
        const file = join(dir, `${table}-${n}.parquet`);
        await writeCleanParquet(table, part[table] as never, file);
        files[table].push(file);
      }
    }
    results = await runAnalytics(files);
    html = renderReport(results, CONTEXT);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is one HTML document with nine sections, each a title, an SVG chart and a table', () => {
    assert.match(html, /^<!doctype html>\n<html lang="en">/);
    assert.match(html, /<\/html>\n$/);
    assert.equal(count(html, '<section '), 9);
    assert.equal(count(html, '<svg '), 9);
    assert.equal(count(html, '</svg>'), 9);
    assert.equal(count(html, '<table>'), 9);
    assert.equal(count(html, '</table>'), 9);
    assert.equal(count(html, '<h2 '), 9);
    for (const result of results) {
      assert.ok(html.includes(`id="q-${result.query}"`), `section for ${result.query}`);
      assert.ok(html.includes(`href="#q-${result.query}"`), `contents link to ${result.query}`);
    }
    assert.ok(html.includes('5eedcafe0001'));
    assert.ok(html.includes('<time datetime="2024-01-02">2024-01-02</time>'));
  });

  it('draws one bar per row, with the value at its end', () => {
    const sections = html.split('<section ').slice(1);
    assert.equal(sections.length, results.length);
    sections.forEach((section, i) => {
      const result = results[i]!;
      assert.equal(count(section, '<rect class="bar"'), result.rows.length, result.query);
      // one table row per output row plus the header row
      assert.equal(count(section, '<tr>'), result.rows.length + 1, result.query);
    });
    // 3b is one row: Albania's 500,000 (the injected country's top user has fewer followers)
    const q3b = sections[3]!;
    assert.ok(q3b.includes('<text class="label" x="252"'));
    assert.ok(q3b.includes('>Albania</text>'));
    assert.ok(q3b.includes('>500,000</text>'));
    // grouped output 8 labels its bars "age_group · post_year"
    const q8 = sections[8]!;
    assert.ok(q8.includes('>18-24 · 2015</text>'), 'bar label of output 8');
    assert.ok(q8.includes('>+50 · 2020</text>'));
  });

  it('escapes every value: a <script> in a country name appears as text', () => {
    assert.equal(count(html, '<script'), 0);
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';
    // in output 1's table and chart, and in 3a's (its only poster) with the escaped poster name
    assert.ok(count(html, `<td>${escaped}</td>`) >= 2);
    assert.ok(html.includes(`>${escaped} · art</text>`));
    assert.ok(html.includes(`Poster ${escaped} &amp; &quot;friends&quot;`));
  });

  it('fetches nothing: no external src or href, no script, a CSP that forbids loading', () => {
    assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /<(?:script|link|img|iframe|object|embed)\b/i);
    assert.doesNotMatch(html, /@import|url\(/i);
    assert.ok(html.includes(`content="default-src 'none'; style-src 'unsafe-inline'"`));
  });

  it('escapes the date and pipeline id too', () => {
    const page = renderReport(results, { date: '<b>2024</b>', pipelineId: '"x"' });
    assert.ok(!page.includes('<b>2024</b>'));
    assert.ok(page.includes('&lt;b&gt;2024&lt;/b&gt;'));
    assert.ok(page.includes('<code>&quot;x&quot;</code>'));
  });

  it('renders empty outputs as a "No rows" chart and an empty table', () => {
    const empty = results.map((result) => ({ ...result, rows: [] }));
    const page = renderReport(empty, CONTEXT);
    assert.equal(count(page, '<svg '), 9);
    assert.equal(count(page, '<table>'), 9);
    assert.equal(count(page, '>No rows</text>'), 9);
    assert.equal(count(page, '<rect '), 0);
    assert.equal(count(page, '>no rows</td>'), 9);
  });

  it(`draws the ${MAX_CHART_BARS} largest bars of a long output and lists every row`, () => {
    const long: AnalyticsResult = {
      query: 'most_followed_user_by_country',
      title: '3a. User with the most followers per country',
      columns: ['country', 'poster_name', 'follower_count'],
      rows: Array.from({ length: 100 }, (_, i) => ({
        country: `Country ${String(i).padStart(3, '0')}`,
        poster_name: `P${i}`,
        follower_count: i * 10,
      })),
    };
    const page = renderReport([long], CONTEXT);
    assert.equal(count(page, '<rect class="bar"'), MAX_CHART_BARS);
    assert.equal(count(page, '<tr>'), 101);
    assert.ok(page.includes('>Country 099 · P99</text>'), 'the largest is drawn');
    assert.ok(!page.includes('>Country 000 · P0</text>'), 'the smallest is not');
    assert.ok(page.includes(`The ${MAX_CHART_BARS} largest of 100 rows by follower_count`));
  });

  it('formats chart values with thousands separators, independent of the locale', () => {
    assert.equal(formatNumber(0), '0');
    assert.equal(formatNumber(999), '999');
    assert.equal(formatNumber(1000), '1,000');
    assert.equal(formatNumber(12345678), '12,345,678');
    assert.equal(formatNumber(-4500), '-4,500');
  });
});

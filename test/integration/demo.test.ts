import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { ANALYTICS_QUERIES } from '../../src/analytics/queries';
import { webUiLink } from '../../src/cli/temporal-client';
import type { Config } from '../../src/config';
import { AWS_ONLY_STEPS, PROVISION_STEPS, STEP_TITLES } from '../../src/domain/provision-steps';
import { topicFor } from '../../src/domain/tables';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import { launchChromium, screenshotDir } from '../helpers/browser';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { auditPipeline, nothingLeft } from '../helpers/provision-audit';
import {
  assertChartsDrawn,
  assertPng,
  type ExpectedChart,
  watchPage,
} from '../helpers/report-checks';
import { repoRoot, stackConfig, stackEnv } from '../helpers/stack';

/** What `pinpipe demo --json` prints at the end (src/cli/commands/demo.ts). */
interface DemoSummary {
  pipelineId: string;
  status: string;
  events: number;
  emulated: { acknowledged: number; rejected: number };
  ingested: { records: number; lag: number };
  nightly: Record<string, { rawRecords: number; rowsOut: number } | undefined>;
  reportPath: string;
  queries: string[];
  timingsMs: Record<string, number>;
}

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A demo run that hangs is stopped (SIGINT, then SIGKILL) well before mocha's own timeout. */
const DEMO_DEADLINE_MS = 7 * 60_000;

/**
 * `npm run demo` as a person runs it: scripts/demo.sh as a child process against the real
 * stack (it starts the worker and the ingest API itself when they are not running), then what
 * it points at: the provisioning checklist and the ingestion lag table in the Temporal Web UI,
 * and the downloaded report in Chromium. A second run reuses the pipeline; teardown at the end
 * must leave nothing of it.
 */
describe('npm run demo end to end (scripts/demo.sh, Web UI, report)', function () {
  this.timeout(10 * 60_000);
  const pipelineId = randomPipelineId();
  let config: Config;
  let adapters: Adapters;
  let outDir: string;
  let running: ChildProcess | undefined;
  let started = false;
  let first: DemoSummary | undefined;
  let browser: Browser | undefined;

  before(async () => {
    config = stackConfig();
    adapters = createAdapters(config);
    outDir = await mkdtemp(path.join(tmpdir(), 'pinpipe-demo-'));
  });

  after(async function () {
    this.timeout(5 * 60_000);
    if (running && running.exitCode === null && running.signalCode === null) {
      running.kill('SIGKILL');
    }
    await browser?.close();
    try {
      if (started) {
        // The worker and API started by demo.sh stay up (CI's `stack.sh down` stops them).
        const connection = await Connection.connect(config.temporal.connect.connectionOptions);
        try {
          const client = new Client({ connection, namespace: config.temporal.namespace });
          const down = await client.workflow.execute(teardownPipeline, {
            taskQueue: config.temporal.taskQueue,
            workflowId: `teardown-${pipelineId}`,
            args: [{ pipelineId, deleteData: true }],
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          });
          // A first run that failed early may have provisioned nothing: then only the audit counts.
          if (first) assert.equal(down.inventoryFound, true, 'teardown found the inventory');
          assert.deepEqual(
            await auditPipeline(adapters, new TemporalControl(client), pipelineId),
            nothingLeft(pipelineId),
          );
        } finally {
          await connection.close();
        }
      }
    } finally {
      await adapters?.close();
      if (outDir) await rm(outDir, { recursive: true, force: true });
    }
  });

  /** Runs scripts/demo.sh with `args` from the repo root, collecting its output. */
  function runDemo(args: string[]): Promise<DemoRun> {
    const t0 = Date.now();
    started = true;
    const child = spawn('bash', [path.join(repoRoot, 'scripts/demo.sh'), ...args], {
      cwd: repoRoot,
      env: stackEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = setTimeout(() => {
      stderr += `\n[test] no exit after ${DEMO_DEADLINE_MS / 1000} s: SIGINT\n`;
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, DEMO_DEADLINE_MS);
    return new Promise((resolve, reject) => {
      child.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      // 'close', not 'exit': the output is complete only once the pipes are drained.
      child.on('close', (code, signal) => {
        clearTimeout(deadline);
        running = undefined;
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  }

  /** Exit 0 and a `done` summary with nine queries and a real report.html; the summary. */
  async function assertDemoDone(run: DemoRun, events: number): Promise<DemoSummary> {
    const context = `\n--- stderr (tail) ---\n${run.stderr.slice(-4000)}\n--- stdout (tail) ---\n${run.stdout.slice(-2000)}`;
    assert.equal(run.code, 0, `demo.sh exited ${run.code} (signal ${run.signal})${context}`);
    const summary = lastJsonObject(run.stdout) as DemoSummary | undefined;
    assert.ok(summary, `a JSON summary on stdout${context}`);
    assert.equal(summary.status, 'done', context);
    assert.equal(summary.pipelineId, pipelineId);
    assert.equal(summary.events, events);
    assert.equal(summary.emulated.acknowledged + summary.emulated.rejected, events * 3);
    assert.equal(summary.ingested.lag, 0, 'ingestion caught up');
    assert.equal(summary.queries.length, 9, `nine queries: ${summary.queries.join(', ')}`);
    assert.deepEqual(
      summary.queries,
      ANALYTICS_QUERIES.map((q) => q.name),
    );
    assert.ok(
      path.resolve(summary.reportPath).startsWith(path.join(outDir, pipelineId) + path.sep),
      `report under --out: ${summary.reportPath}`,
    );
    const report = await stat(summary.reportPath);
    assert.ok(report.isFile() && report.size > 10_000, `report.html of ${report.size} bytes`);
    const html = await readFile(summary.reportPath, 'utf8');
    assert.match(html, /^<!doctype html>/i);
    assert.equal(html.match(/<svg\b/g)?.length, 9, 'nine charts in report.html');
    console.log(
      `      demo --events ${events}: ${(run.ms / 1000).toFixed(1)} s (` +
        Object.entries(summary.timingsMs)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
          .join(', ') +
        ')',
    );
    return summary;
  }

  async function chromium(): Promise<Browser> {
    browser ??= await launchChromium();
    return browser;
  }

  /**
   * Opens the workflow's page in the Web UI and its "User Metadata" tab, where Web UI 2.54
   * renders the current details (markdown, in a sandboxed iframe the UI fills from the
   * `__temporal_workflow_metadata` query once the page has loaded the workflow).
   */
  async function openCurrentDetails(page: Page, workflowId: string): Promise<FrameLocator> {
    // Not 'networkidle': the page of a running workflow long-polls its history.
    await page.goto(webUiLink(config, workflowId), { waitUntil: 'load' });
    await page.getByRole('heading', { name: workflowId }).waitFor({ timeout: 60_000 });
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await page.getByRole('heading', { name: 'Current Details' }).waitFor();
    const details = page.frameLocator('iframe#user-metadata-current-details');
    await details.locator('table tbody tr').first().waitFor({ timeout: 60_000 });
    return details;
  }

  /** Each body row's cell texts. */
  async function tableRows(details: FrameLocator): Promise<string[][]> {
    const rows = details.locator('table tbody tr');
    const out: string[][] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      out.push((await rows.nth(i).locator('td').allInnerTexts()).map((t) => t.trim()));
    }
    return out;
  }

  async function newPage(): Promise<Page> {
    return (await chromium()).newPage({ viewport: { width: 1400, height: 1000 } });
  }

  it('runs the whole demo: exit 0, a done summary with nine queries, report.html under --out', async () => {
    const run = await runDemo([
      '--events',
      '1000',
      '--pipeline',
      pipelineId,
      '--out',
      outDir,
      '--json',
    ]);
    first = await assertDemoDone(run, 1000);
  });

  it('shows the provisioning checklist under Current Details in the Web UI', async () => {
    assert.ok(first, 'the first demo run succeeded');
    const page = await newPage();
    try {
      const details = await openCurrentDetails(page, `provision-${pipelineId}`);
      const heading = (await details.locator('h3').innerText()).trim();
      assert.match(
        heading,
        new RegExp(`^Provisioning of pipeline ${pipelineId} \\(local, [a-z0-9-]+\\): completed$`),
      );
      const headers = (await details.locator('table thead th').allInnerTexts()).map((t) =>
        t.trim(),
      );
      assert.deepEqual(headers, ['', 'step', 'status', 'attempt', 'result']);
      const rows = await tableRows(details);
      assert.deepEqual(
        rows.map((r) => r[1]),
        PROVISION_STEPS.map((s) => STEP_TITLES[s]),
        'one row per step, in order',
      );
      for (const title of ['Ensure bucket', 'Ensure EC2 client host', 'Record the inventory']) {
        assert.ok(
          rows.some((r) => r[1] === title),
          `a row "${title}"`,
        );
      }
      const awsOnly = new Set([...AWS_ONLY_STEPS].map((s) => STEP_TITLES[s]));
      for (const r of rows) {
        if (awsOnly.has(r[1] ?? '')) {
          // The demo's local target skips the aws-only steps, and says so.
          assert.equal(r[2], 'skipped', `${r[1]}: status`);
          continue;
        }
        assert.equal(r[2], 'done', `${r[1]}: status`);
        // The UI's markdown renderer typesets `1/5` with a fraction slash (U+2044).
        assert.match(
          r[3] ?? '',
          /^\d+[/\u2044]\d+$/,
          `${r[1]}: attempt n/max in ${JSON.stringify(r)}`,
        );
      }
      const inventory = rows.find((r) => r[1] === 'Record the inventory');
      assert.match(inventory?.[4] ?? '', /_pinpipe\/inventory\.json/);
      const shot = path.join(screenshotDir(), 'webui-provision.png');
      await page.screenshot({ path: shot, fullPage: true });
      await assertPng(shot);
    } finally {
      await page.close();
    }
  });

  it('shows the per-partition lag table of ingest-<id>-pin under Current Details', async () => {
    assert.ok(first, 'the first demo run succeeded');
    const topic = topicFor(pipelineId, 'pin');
    const partitions = await adapters.kafka.partitionCount(topic);
    assert.ok(partitions && partitions > 0, `topic ${topic} has partitions`);
    const page = await newPage();
    try {
      const details = await openCurrentDetails(page, `ingest-${pipelineId}-pin`);
      const summary = (await details.locator('p').first().innerText()).trim();
      assert.ok(summary.includes(topic), `summary names the topic: ${summary}`);
      const lagTotal = /\blag (\d+)\b/.exec(summary)?.[1];
      assert.ok(lagTotal !== undefined, `summary shows the lag: ${summary}`);
      const headers = (await details.locator('table thead th').allInnerTexts()).map((t) =>
        t.trim(),
      );
      for (const column of ['partition', 'lag', 'records', 'quarantined']) {
        assert.ok(headers.includes(column), `a "${column}" column: ${headers.join(' | ')}`);
      }
      const col = (name: string) => headers.indexOf(name);
      const rows = await tableRows(details);
      assert.deepEqual(
        rows.map((r) => r[col('partition')]),
        Array.from({ length: partitions }, (_, p) => String(p)),
        'one row per partition',
      );
      const lags = rows.map((r) => Number(r[col('lag')]));
      assert.ok(
        lags.every((l) => Number.isInteger(l) && l >= 0),
        `lag per partition: ${lags.join(', ')}`,
      );
      assert.equal(
        lags.reduce((a, b) => a + b, 0),
        Number(lagTotal),
      );
      // The demo waited until ingestion caught up: the details say so too.
      assert.equal(Number(lagTotal), 0, `lag after the demo: ${summary}`);
      const written = rows.reduce(
        (sum, r) => sum + Number(r[col('records')]) + Number(r[col('quarantined')]),
        0,
      );
      assert.ok(written > 0 && written <= 1000, `pin records written or quarantined: ${written}`);
      const shot = path.join(screenshotDir(), 'webui-ingest.png');
      await page.screenshot({ path: shot, fullPage: true });
      await assertPng(shot);
    } finally {
      await page.close();
    }
  });

  it('draws the nine charts of the downloaded report.html in Chromium', async () => {
    assert.ok(first, 'the first demo run succeeded');
    const dir = path.dirname(first.reportPath);
    const expected: ExpectedChart[] = [];
    for (const q of ANALYTICS_QUERIES) {
      const result = JSON.parse(await readFile(path.join(dir, `${q.name}.json`), 'utf8')) as {
        rows: unknown[];
      };
      expected.push({ query: q.name, title: `${q.id}. ${q.title}`, rows: result.rows.length });
    }
    const page = await newPage();
    const { errors, requests } = watchPage(page);
    try {
      const url = pathToFileURL(first.reportPath).href;
      await page.goto(url, { waitUntil: 'load' });
      await assertChartsDrawn(page, expected);
      const shot = path.join(screenshotDir(), 'demo-report.png');
      await page.screenshot({ path: shot, fullPage: true });
      await assertPng(shot);
      assert.deepEqual(errors, [], 'no console or page errors');
      assert.deepEqual(requests, [url], 'the page itself is the only request');
    } finally {
      await page.close();
    }
  });

  it('runs again on the same pipeline (--events 300): exit 0, report refreshed', async () => {
    assert.ok(first, 'the first demo run succeeded');
    const run = await runDemo([
      '--events',
      '300',
      '--pipeline',
      pipelineId,
      '--out',
      outDir,
      '--json',
    ]);
    const second = await assertDemoDone(run, 300);
    assert.ok(
      second.ingested.records >= first.ingested.records + second.emulated.acknowledged,
      `ingested ${second.ingested.records} after ${first.ingested.records}`,
    );
    if (path.dirname(second.reportPath) === path.dirname(first.reportPath)) {
      // Same day: the nightly rerun replaced it, now over both runs' raw records.
      assert.ok(
        (second.nightly.pin?.rawRecords ?? 0) > (first.nightly.pin?.rawRecords ?? 0),
        `pin raw records ${JSON.stringify(second.nightly.pin)} after ${JSON.stringify(first.nightly.pin)}`,
      );
    }
  });
});

/** The last top-level JSON object in `text` (pretty-printed, its `{` at a line start). */
function lastJsonObject(text: string): unknown {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.startsWith('{')) continue;
    try {
      return JSON.parse(lines.slice(i).join('\n'));
    } catch {
      // Not where the summary starts (or not JSON at all): look further up.
    }
  }
  return undefined;
}

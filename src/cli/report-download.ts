import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ANALYTICS_DAYS_PREFIX, analyticsPrefix, analyticsReportDay } from '../domain/clean-zone';
import { bucketFor } from '../domain/tables';
import type { ObjectStore } from '../ports/object-store';
import { formatTextTable } from './text-table';

/**
 * Downloads a day's analytics (report.html, the query results, the manifest) from the pipeline
 * bucket into `<out>/<pipeline>/<date>/`. Shared by `pinpipe report` and `pinpipe demo`.
 */

const REPORT = 'report.html';
const MANIFEST = '_manifest.json';

export interface DownloadedReport {
  reportPath: string;
  date: string;
  dir: string;
  /** Query names in the manifest's order. */
  queries: string[];
  /** Each query's rows as a titled text table, in the same order. */
  tables: string[];
  /** Files downloaded, and from where. */
  files: number;
  source: string;
}

export async function downloadReport(
  store: ObjectStore,
  opts: { pipelineId: string; date?: string; out: string; pipelineArg: string },
): Promise<DownloadedReport> {
  const { pipelineId, pipelineArg } = opts;
  const bucket = bucketFor(pipelineId);
  if (!(await store.bucketExists(bucket))) {
    throw new Error(
      `no analytics for pipeline ${pipelineId}: bucket s3://${bucket} does not exist ` +
        '(wrong --pipeline or PINPIPE_PIPELINE_ID, or not provisioned yet)',
    );
  }
  const days = await reportDays(store, bucket);
  const date = opts.date ?? days[days.length - 1];
  if (date === undefined) {
    throw new Error(
      `no analytics in s3://${bucket}/analytics/; ` +
        `run \`pinpipe nightly run --date YYYY-MM-DD${pipelineArg}\` first`,
    );
  }
  const prefix = analyticsPrefix(date);
  const names = await dayFiles(store, bucket, prefix);
  if (!names.includes(REPORT)) {
    const known = days.length > 0 ? ` (days with a report: ${days.slice(-5).join(', ')})` : '';
    throw new Error(
      `no analytics for ${date} in s3://${bucket}/${prefix}; ` +
        `run \`pinpipe nightly run --date ${date}${pipelineArg}\` first${known}`,
    );
  }
  const dir = path.resolve(opts.out, pipelineId, date);
  await mkdir(dir, { recursive: true });
  const bodies = new Map<string, Buffer>();
  for (const name of names) {
    const body = await store.get({ bucket, key: prefix + name });
    // Listed a moment ago: gone now means a rerun is swapping the day; say so, do not guess.
    if (!body) throw new Error(`s3://${bucket}/${prefix}${name} disappeared while downloading`);
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    await writeFile(path.join(dir, name), bytes);
    bodies.set(name, bytes);
  }
  const queries = queryOrder(names, bodies.get(MANIFEST));
  return {
    reportPath: path.join(dir, REPORT),
    date,
    dir,
    queries,
    tables: queries.map((q) => printQuery(q, bodies.get(`${q}.json`))),
    files: names.length,
    source: `s3://${bucket}/${prefix}`,
  };
}

/** `xdg-open <path>` (or the platform's equivalent), quoted for pasting. */
export function openHint(reportPath: string): string {
  return `${openCommand()} ${shellQuote(reportPath)}`;
}

/** Every day with a report.html, oldest first (ISO dates sort as strings). */
async function reportDays(store: ObjectStore, bucket: string): Promise<string[]> {
  const days: string[] = [];
  for await (const o of store.list({ bucket, prefix: ANALYTICS_DAYS_PREFIX })) {
    const day = analyticsReportDay(o.key);
    if (day !== undefined) days.push(day);
  }
  return days.sort();
}

/** The report, the query results and the manifest directly under the day's prefix. */
async function dayFiles(store: ObjectStore, bucket: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const o of store.list({ bucket, prefix })) {
    const name = o.key.slice(prefix.length);
    if (name.includes('/')) continue;
    if (name === REPORT || name.endsWith('.json')) names.push(name);
  }
  return names;
}

/** Query names in the manifest's order (DESIGN 6's), then any others by name. */
function queryOrder(names: readonly string[], manifest: Buffer | undefined): string[] {
  const present = names
    .filter((n) => n.endsWith('.json') && n !== MANIFEST)
    .map((n) => n.slice(0, -'.json'.length));
  const listed: string[] = [];
  try {
    const parsed = JSON.parse(manifest?.toString('utf8') ?? '{}') as { queries?: unknown };
    if (Array.isArray(parsed.queries)) {
      for (const q of parsed.queries as unknown[]) {
        const name = (q as { query?: unknown } | null)?.query;
        if (typeof name === 'string' && present.includes(name)) listed.push(name);
      }
    }
  } catch {
    // A manifest we cannot read only costs the order; the files themselves were downloaded.
  }
  return [...listed, ...present.filter((n) => !listed.includes(n)).sort()];
}

function printQuery(query: string, body: Buffer | undefined): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body?.toString('utf8') ?? '');
  } catch {
    return `${query}: not JSON`;
  }
  const { columns, rows } = (parsed ?? {}) as { columns?: unknown; rows?: unknown };
  if (
    !Array.isArray(columns) ||
    !columns.every((c) => typeof c === 'string') ||
    !Array.isArray(rows) ||
    !rows.every((r) => typeof r === 'object' && r !== null)
  ) {
    return `${query}: not a query result ({query, columns, rows})`;
  }
  const count = rows.length === 1 ? '1 row' : `${rows.length} rows`;
  return `${query} (${count})\n${formatTextTable(columns, rows as Record<string, unknown>[])}`;
}

function openCommand(): string {
  if (process.platform === 'darwin') return 'open';
  if (process.platform === 'win32') return 'start ""';
  return 'xdg-open';
}

/** Quotes only when needed, so the common hint stays copy-pasteable and readable. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

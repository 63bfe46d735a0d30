import type { Client } from '@temporalio/client';
import { TABLES, type Table } from '../src/domain/tables';
import type { CleaningOptions } from '../src/workflows/clean-table';
import { nightlyBatch, type NightlyBatchResult } from '../src/workflows/nightly-batch';
import { uniqueName } from '../test/helpers/stack';
import { readNightlyHistories, type NightlyHistories, type RunHistory } from './nightly-history';
import type { RawDay } from './raw-day';
import { startWorkerPool } from './worker-pool';

/**
 * One measured nightly over a seeded raw day: a fresh task queue served by N fresh worker
 * processes, a fresh nightly workflow id (the day is committed again, which a rerun may do), then
 * the figures taken from the workflow histories.
 */

export interface TableFigures {
  rawRecords: number;
  rowsOut: number;
  shards: number;
  /** From the nightly's start to this table's commitPartition completion. */
  seconds: number;
  rowsPerSec: number;
  planSeconds: number;
  /** Sum of the cleanShard activities' durations (start to completion). */
  shardActivitySeconds: number;
  commitSeconds: number;
}

export interface NightlyFigures {
  workers: number;
  workflowId: string;
  /** The whole nightly (cleaning, commit, analytics), from its history's first to last event. */
  wallSeconds: number;
  /** The nightly's start to the last commitPartition completion. */
  cleaningSeconds: number;
  cleaningRowsPerSec: number;
  analyticsSeconds: number;
  perTable: Record<Table, TableFigures>;
  largestHistory: { workflowId: string; bytes: number; events: number };
  histories: { workflowId: string; bytes: number; events: number }[];
  peakRssMb: number[];
  idleRssMb: number[];
  /** CPU seconds each worker process used during the nightly (all its threads). */
  workerCpuSeconds: number[];
}

export type NightlyOutcome =
  | ({ ok: true } & NightlyFigures)
  | { ok: false; workers: number; workflowId: string; error: string; seen: string[] };

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const spanOf = (r: RunHistory[], type: string) =>
  sum(r.flatMap((h) => h.activities.filter((a) => a.type === type).map((a) => a.end - a.start)));

export async function runNightly(
  client: Client,
  raw: RawDay,
  workers: number,
  o: { cleaning?: CleaningOptions; timeoutMinutes: number },
): Promise<NightlyOutcome> {
  const taskQueue = uniqueName('bench-nightly');
  const pool = await startWorkerPool(taskQueue, workers);
  const workflowId = uniqueName(`nightly-${raw.pipelineId}-${raw.day}-w${workers}`);
  const input = {
    pipelineId: raw.pipelineId,
    date: raw.day,
    ...(o.cleaning && { cleaning: o.cleaning }),
  };
  let result: NightlyBatchResult;
  pool.startSampling();
  try {
    result = await client.workflow.execute(nightlyBatch, {
      taskQueue,
      workflowId,
      // A stalled nightly ends the measurement with a reason instead of hanging the bench.
      workflowExecutionTimeout: `${o.timeoutMinutes} minutes`,
      args: [input],
    });
  } catch (err) {
    pool.stopSampling();
    const seen = await failureEvidence(client, workflowId);
    const output = tail(pool.output(), 40);
    await pool.stop();
    return { ok: false, workers, workflowId, error: causeChain(err), seen: [...seen, output] };
  }
  const sampled = pool.stopSampling();
  await pool.stop();
  const h = await readNightlyHistories(client, workflowId);
  return {
    ok: true,
    ...figures(h, result, raw, workers, workflowId),
    peakRssMb: sampled.peakRssMb,
    idleRssMb: pool.idleRssMb,
    workerCpuSeconds: sampled.cpuSeconds,
  };
}

function figures(
  h: NightlyHistories,
  result: NightlyBatchResult,
  raw: RawDay,
  workers: number,
  workflowId: string,
): Omit<NightlyFigures, 'peakRssMb' | 'idleRssMb' | 'workerCpuSeconds'> {
  const start = h.parent.start;
  const perTable = {} as Record<Table, TableFigures>;
  for (const t of TABLES) {
    const runs = h.children[t];
    const commits = runs.flatMap((r) => r.activities.filter((a) => a.type === 'commitPartition'));
    const committedAt = Math.max(...commits.map((a) => a.end));
    const rawRecords = result.tables[t]?.counts.rawRecords ?? raw.events;
    const seconds = (committedAt - start) / 1000;
    perTable[t] = {
      rawRecords,
      rowsOut: result.tables[t]?.counts.rowsOut ?? 0,
      shards: result.tables[t]?.shards ?? 0,
      seconds,
      rowsPerSec: rawRecords / seconds,
      planSeconds: spanOf(runs, 'planCleaning') / 1000,
      shardActivitySeconds: spanOf(runs, 'cleanShard') / 1000,
      commitSeconds: spanOf(runs, 'commitPartition') / 1000,
    };
  }
  const cleaningSeconds = Math.max(...TABLES.map((t) => perTable[t].seconds));
  const all = [h.parent, ...TABLES.flatMap((t) => h.children[t])];
  const histories = all.map((r) => ({
    workflowId: r.workflowId,
    bytes: r.bytes,
    events: r.events,
  }));
  const largestHistory = histories.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    workers,
    workflowId,
    wallSeconds: (h.parent.end - start) / 1000,
    cleaningSeconds,
    cleaningRowsPerSec: sum(TABLES.map((t) => perTable[t].rawRecords)) / cleaningSeconds,
    analyticsSeconds: spanOf([h.parent], 'runAnalytics') / 1000,
    perTable,
    largestHistory,
    histories,
  };
}

/** What the histories say about a failed nightly: activity counts per workflow and failures. */
async function failureEvidence(client: Client, workflowId: string): Promise<string[]> {
  try {
    const h = await readNightlyHistories(client, workflowId);
    return [h.parent, ...TABLES.flatMap((t) => h.children[t])].map((r) => {
      const counts = new Map<string, number>();
      for (const a of r.activities) counts.set(a.type, (counts.get(a.type) ?? 0) + 1);
      const done = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'no activity';
      const span = ((r.end - r.start) / 1000).toFixed(1);
      return `${r.workflowId}: ${span} s, completed ${done}; ${r.failures.join(' | ') || 'no failure event'}`;
    });
  } catch (err) {
    return [`(histories unreadable: ${causeChain(err)})`];
  }
}

/** Every message down the cause chain: Temporal wraps the activity's own reason several deep. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join(' ← ') || String(err);
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

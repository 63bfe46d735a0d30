import type { Client } from '@temporalio/client';
import type { Adapters } from '../src/adapters/create-adapters';
import { drawEvents } from '../src/domain/generator';
import { rawObjectKey } from '../src/domain/raw-zone';
import { bucketFor, TABLES, topicFor } from '../src/domain/tables';
import { nightlyBatch } from '../src/workflows/nightly-batch';
import { randomPipelineId } from '../test/helpers/ingest-fixtures';
import { startWorkerProcess } from '../test/helpers/processes';
import { uniqueName } from '../test/helpers/stack';
import { openBenchContext, rssMb, writeBenchResult } from './bench-context';

/**
 * The nightly bench (issue 5): events generated straight into the raw zone for one day, then one
 * nightly run in a worker process of its own. Reports rows/s per table for cleaning, the
 * analytics time, the wall time, the orchestration overhead (wall time minus the time when at
 * least one activity was running) and the worker's peak RSS, for each size.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = '2026-11-20';
const PER_OBJECT = 10_000;

async function seedRawDay(adapters: Adapters, pipelineId: string, events: number): Promise<void> {
  const bucket = bucketFor(pipelineId);
  await adapters.store.ensureBucket(bucket);
  let object = 0;
  let batch: ReturnType<typeof drawEvents> extends Generator<infer E> ? E[] : never = [];
  const flush = async () => {
    for (const table of TABLES) {
      await adapters.store.put({
        bucket,
        key: rawObjectKey({
          topic: topicFor(pipelineId, table),
          partition: 0,
          startOffset: object * PER_OBJECT,
          day: DAY,
        }),
        body: `${batch.map((e) => JSON.stringify(e[table])).join('\n')}\n`,
        metadata: {
          'first-offset': String(object * PER_OBJECT),
          'last-offset': String(object * PER_OBJECT + batch.length - 1),
          'record-count': String(batch.length),
        },
      });
    }
    object++;
    batch = [];
  };
  for (const e of drawEvents({ seed: `bench-${events}`, count: events })) {
    batch.push(e);
    if (batch.length === PER_OBJECT) await flush();
  }
  if (batch.length > 0) await flush();
}

interface Interval {
  type: string;
  table?: string;
  start: number;
  end: number;
}

async function activityIntervals(client: Client, workflowIds: string[]): Promise<Interval[]> {
  const out: Interval[] = [];
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<string, string>();
    const started = new Map<string, number>();
    const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
    for (const e of history.events ?? []) {
      const id2 = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) {
        scheduled.set(id2, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      } else if (e.activityTaskStartedEventAttributes) {
        started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e.eventTime));
      } else if (e.activityTaskCompletedEventAttributes) {
        const sid = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
        out.push({
          type: scheduled.get(sid) ?? '?',
          table: /-(pin|geo|user)$/.exec(id)?.[1],
          start: started.get(sid) ?? ms(e.eventTime),
          end: ms(e.eventTime),
        });
      }
    }
  }
  return out;
}

/** Milliseconds covered by at least one interval. */
function covered(intervals: Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let cur: { start: number; end: number } | undefined;
  for (const i of sorted) {
    if (!cur || i.start > cur.end) {
      if (cur) total += cur.end - cur.start;
      cur = { start: i.start, end: i.end };
    } else cur.end = Math.max(cur.end, i.end);
  }
  if (cur) total += cur.end - cur.start;
  return total;
}

async function runOnce(client: Client, adapters: Adapters, events: number) {
  const pipelineId = randomPipelineId();
  const seedStart = performance.now();
  await seedRawDay(adapters, pipelineId, events);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const taskQueue = uniqueName('bench-nightly');
  const worker = await startWorkerProcess(taskQueue);
  const pid = worker.child.pid!;
  const rss = () => rssMb(pid);
  let peak = rss();
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
  const workflowId = `nightly-${pipelineId}-${DAY}`;
  const started = Date.now();
  try {
    const result = await client.workflow.execute(nightlyBatch, {
      taskQueue,
      workflowId,
      args: [{ pipelineId, date: DAY }],
    });
    const wallMs = Date.now() - started;
    clearInterval(sampler);
    const intervals = await activityIntervals(client, [
      workflowId,
      ...TABLES.map((t) => `${workflowId}-${t}`),
    ]);
    const perTable = Object.fromEntries(
      TABLES.map((t) => {
        const ms = intervals
          .filter(
            (i) => i.table === t && (i.type === 'cleanPartition' || i.type === 'commitPartition'),
          )
          .reduce((a, i) => a + i.end - i.start, 0);
        const rows = result.tables[t]?.counts.rawRecords ?? 0;
        return [t, { rows, seconds: ms / 1000, rowsPerSec: rows / (ms / 1000) }];
      }),
    );
    const analytics = intervals.find((i) => i.type === 'runAnalytics');
    const inside = covered(intervals);
    return {
      events,
      seedSeconds,
      wallSeconds: wallMs / 1000,
      perTable,
      analyticsSeconds: analytics ? (analytics.end - analytics.start) / 1000 : 0,
      orchestrationOverheadSeconds: (wallMs - inside) / 1000,
      orchestrationOverheadShare: (wallMs - inside) / wallMs,
      peakRssMb: peak,
    };
  } finally {
    clearInterval(sampler);
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}

export async function runNightlyBench(args: string[]): Promise<void> {
  const i = args.indexOf('--sizes');
  const sizes = (i >= 0 ? args[i + 1]! : '100000,1000000').split(',').map(Number);
  const ctx = await openBenchContext();
  const { adapters, client } = ctx;
  try {
    const runs = [];
    for (const size of sizes) {
      console.log(`nightly bench: ${size} events (seeding the raw zone...)`);
      const r = await runOnce(client, adapters, size);
      runs.push(r);
      console.log(
        `  wall ${r.wallSeconds.toFixed(1)} s · ` +
          TABLES.map((t) => `${t} ${r.perTable[t]!.rowsPerSec.toFixed(0)} rows/s`).join(' · ') +
          ` · analytics ${r.analyticsSeconds.toFixed(1)} s · overhead ${(r.orchestrationOverheadShare * 100).toFixed(1)}% · peak RSS ${r.peakRssMb.toFixed(0)} MB`,
      );
    }
    const first = runs[0]!;
    const last = runs[runs.length - 1]!;
    const scale = last.wallSeconds / first.wallSeconds;
    const growth = last.events / first.events;
    console.log(
      `\n  ${growth}× the events took ${scale.toFixed(2)}× the wall time (target <= ${(growth * 1.2).toFixed(0)}×)`,
    );
    console.log(`  peak RSS at ${last.events}: ${last.peakRssMb.toFixed(0)} MB (target < 1024 MB)`);
    console.log(
      `  orchestration overhead at ${last.events}: ${(last.orchestrationOverheadShare * 100).toFixed(1)}% (target < 10%)`,
    );
    const file = writeBenchResult('nightly', { when: new Date().toISOString(), runs, scale });
    console.log(`  full results: ${file}`);
  } finally {
    await ctx.close();
  }
  await sleep(0);
}

import type { Client } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { TABLES, type Table } from '../src/domain/tables';

/**
 * What the nightly bench reads back from the workflow histories: the server's own timestamps
 * (worker and bench clocks play no part), the activities' intervals and the histories' sizes.
 * A child that continued as new is followed run by run.
 */

type HistoryEvent = NonNullable<History['events']>[number];
type Timestamp = HistoryEvent['eventTime'];

export interface ActivityInterval {
  type: string;
  start: number;
  end: number;
}

export interface RunHistory {
  workflowId: string;
  runId: string;
  bytes: number;
  events: number;
  start: number;
  end: number;
  activities: ActivityInterval[];
  /** Activities that failed for good or timed out, and the run's own failure, as messages. */
  failures: string[];
}

export interface NightlyHistories {
  parent: RunHistory;
  /** Every run of each table's child, in order. */
  children: Record<Table, RunHistory[]>;
}

const seconds = (s: unknown): number =>
  typeof s === 'object' && s !== null && 'toNumber' in s
    ? (s as { toNumber(): number }).toNumber()
    : Number(s ?? 0);
const ms = (t: Timestamp): number => seconds(t?.seconds) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

async function readRun(client: Client, workflowId: string, runId?: string) {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  const first = events[0];
  const last = events[events.length - 1];
  const scheduled = new Map<string, string>();
  const started = new Map<string, number>();
  const activities: ActivityInterval[] = [];
  const failures: string[] = [];
  const failed = (sid: unknown, what: string, message: string | null | undefined) =>
    failures.push(`${scheduled.get(String(sid)) ?? 'workflow'} ${what}: ${message ?? '?'}`);
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) {
      const type = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      scheduled.set(String(e.eventId), type);
    } else if (e.activityTaskStartedEventAttributes) {
      const sid = String(e.activityTaskStartedEventAttributes.scheduledEventId);
      started.set(sid, ms(e.eventTime));
    } else if (e.activityTaskCompletedEventAttributes) {
      const sid = String(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const end = ms(e.eventTime);
      activities.push({ type: scheduled.get(sid) ?? '?', start: started.get(sid) ?? end, end });
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      failed(a.scheduledEventId, 'failed', a.failure?.cause?.message ?? a.failure?.message);
    } else if (e.activityTaskTimedOutEventAttributes) {
      const a = e.activityTaskTimedOutEventAttributes;
      failed(a.scheduledEventId, 'timed out', a.failure?.cause?.message ?? a.failure?.message);
    } else if (e.workflowExecutionFailedEventAttributes) {
      failed(undefined, 'failed', e.workflowExecutionFailedEventAttributes.failure?.message);
    } else if (e.workflowExecutionTimedOutEventAttributes) {
      failed(undefined, 'timed out', 'the workflow execution timeout passed');
    } else if (e.workflowExecutionTerminatedEventAttributes) {
      failed(undefined, 'terminated', e.workflowExecutionTerminatedEventAttributes.reason);
    }
  }
  const run: RunHistory = {
    workflowId,
    runId: runId ?? 'latest',
    bytes: Buffer.byteLength(historyToJSON(history)),
    events: events.length,
    start: ms(first?.eventTime),
    end: ms(last?.eventTime),
    activities,
    failures,
  };
  const next = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  return { run, events, next: next ?? undefined };
}

export async function readNightlyHistories(
  client: Client,
  workflowId: string,
): Promise<NightlyHistories> {
  const { run: parent, events } = await readRun(client, workflowId);
  const children = { pin: [], geo: [], user: [] } as Record<Table, RunHistory[]>;
  for (const e of events) {
    const execution = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    const table = /-(pin|geo|user)$/.exec(execution?.workflowId ?? '')?.[1] as Table | undefined;
    if (!execution?.workflowId || !table) continue;
    let runId: string | undefined = execution.runId ?? undefined;
    do {
      const r = await readRun(client, execution.workflowId, runId);
      children[table].push(r.run);
      runId = r.next;
    } while (runId !== undefined);
  }
  for (const t of TABLES) {
    if (children[t].length === 0) throw new Error(`nightly ${workflowId}: no ${t} child found`);
  }
  return { parent, children };
}

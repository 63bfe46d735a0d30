import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type {
  NightlySchedule,
  PipelineControl,
  StartIngestionInput,
  WorkflowPresence,
} from '../ports/pipeline-control';
import { scheduleDifferences } from '../ports/pipeline-control';
// Types only: workflow code never runs here, but starts type-check against its input.
import type * as workflows from '../workflows';

type Workflows = typeof workflows;
/** Workflow type names as registered by src/workflows/index.ts (checked against its exports). */
const INGEST_WORKFLOW = 'ingestTopic' satisfies keyof Workflows;
const NIGHTLY_WORKFLOW = 'nightlyBatch' satisfies keyof Workflows;
/** The ingestTopic workflow's graceful stop signal (src/workflows/ingest-topic.ts). */
const STOP_SIGNAL = 'stop';

/** PipelineControl over a Temporal client (the worker's, the CLI's or a test's). */
export class TemporalControl implements PipelineControl {
  constructor(private readonly client: Client) {}

  async workflowPresence(workflowId: string): Promise<WorkflowPresence> {
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      return d.status.name === 'RUNNING' ? 'running' : 'closed';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'absent';
      throw err;
    }
  }

  async startIngestion(input: StartIngestionInput): Promise<{ started: boolean }> {
    const before = await this.workflowPresence(input.workflowId);
    await this.client.workflow.start<Workflows[typeof INGEST_WORKFLOW]>(INGEST_WORKFLOW, {
      taskQueue: input.taskQueue,
      workflowId: input.workflowId,
      args: [input.input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    return { started: before !== 'running' };
  }

  async stopIngestion(
    workflowId: string,
    graceMs: number,
  ): Promise<'stopped' | 'terminated' | 'absent'> {
    if ((await this.workflowPresence(workflowId)) !== 'running') return 'absent';
    const handle = this.client.workflow.getHandle(workflowId);
    await handle.signal(STOP_SIGNAL);
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if ((await this.workflowPresence(workflowId)) !== 'running') return 'stopped';
      await new Promise((r) => setTimeout(r, 250));
    }
    try {
      await handle.terminate('teardown: did not stop within the grace period');
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    return 'terminated';
  }

  async describeSchedule(scheduleId: string): Promise<NightlySchedule | undefined> {
    let d: ScheduleDescription;
    try {
      d = await this.client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
    const args = d.action.type === 'startWorkflow' ? (d.action.args as unknown[]) : [];
    const first = args[0] as { pipelineId?: string } | undefined;
    return {
      scheduleId,
      pipelineId: first?.pipelineId ?? '',
      taskQueue: d.action.type === 'startWorkflow' ? d.action.taskQueue : '',
      cron: cronOf(d),
      timezone: d.spec.timezone ?? 'UTC',
      paused: d.state.paused,
    };
  }

  async upsertSchedule(wanted: NightlySchedule): Promise<'created' | 'updated' | 'exists'> {
    const spec = { cronExpressions: [withCronComment(wanted.cron)], timezone: wanted.timezone };
    const action: ScheduleOptionsStartWorkflowAction<Workflows[typeof NIGHTLY_WORKFLOW]> = {
      type: 'startWorkflow',
      workflowType: NIGHTLY_WORKFLOW,
      // No date: a scheduled run processes the UTC day before its nominal time.
      args: [{ pipelineId: wanted.pipelineId }],
      taskQueue: wanted.taskQueue,
      workflowId: wanted.scheduleId,
    };
    // A run that overruns delays the next one instead of overlapping it; after an outage the
    // runs missed in the last day are caught up, older ones are not.
    const policies = { overlap: ScheduleOverlapPolicy.BUFFER_ONE, catchupWindow: '1 day' };
    const have = await this.describeSchedule(wanted.scheduleId);
    if (!have) {
      try {
        await this.client.schedule.create({
          scheduleId: wanted.scheduleId,
          spec,
          action,
          policies,
          state: { paused: wanted.paused },
        });
        return 'created';
      } catch (err) {
        // Lost a race with another creator: fall through and reconcile like an update.
        if ((err as { name?: string }).name !== 'ScheduleAlreadyRunning') throw err;
      }
    }
    const current = have ?? (await this.describeSchedule(wanted.scheduleId));
    if (current && scheduleDifferences(current, wanted).length === 0) return 'exists';
    const handle = this.client.schedule.getHandle(wanted.scheduleId);
    await handle.update((previous) => ({
      ...previous,
      spec,
      action,
      policies,
      state: { ...previous.state, paused: wanted.paused },
    }));
    return 'updated';
  }

  async deleteSchedule(scheduleId: string): Promise<boolean> {
    try {
      await this.client.schedule.getHandle(scheduleId).delete();
      return true;
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return false;
      throw err;
    }
  }
}

const CRON_COMMENT = 'cron ';

/**
 * The server keeps cron strings only as structured calendars, so the string we asked for rides
 * along as the calendar's comment (cron syntax: `<fields> #<comment>`) for plan and no-op checks.
 */
function withCronComment(cron: string): string {
  return `${cron} #${CRON_COMMENT}${cron}`;
}

function cronOf(d: ScheduleDescription): string {
  const comment = (d.spec.calendars ?? []).find((c) => c.comment)?.comment ?? '';
  return comment.startsWith(CRON_COMMENT) ? comment.slice(CRON_COMMENT.length) : '';
}

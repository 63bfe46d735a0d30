/**
 * The pipeline's own Temporal objects as provisioning sees them: the ingestion workflows and the
 * nightly schedule. The adapter talks to Temporal; activities only see this port.
 */
import type { IngestTopicInput } from '../domain/ingest-input';

export type WorkflowPresence = 'running' | 'closed' | 'absent';

export interface StartIngestionInput {
  workflowId: string;
  taskQueue: string;
  input: IngestTopicInput;
}

export interface NightlySchedule {
  scheduleId: string;
  pipelineId: string;
  taskQueue: string;
  cron: string;
  timezone: string;
  paused: boolean;
}

export interface PipelineControl {
  workflowPresence(workflowId: string): Promise<WorkflowPresence>;
  /** Starts the workflow unless one with this id is running; `started` says which happened. */
  startIngestion(input: StartIngestionInput): Promise<{ started: boolean }>;
  /**
   * Asks a running ingestion workflow to stop (it finishes its batches and commits offsets) and
   * waits up to `graceMs`, then terminates it. `absent` when nothing was running.
   */
  stopIngestion(workflowId: string, graceMs: number): Promise<'stopped' | 'terminated' | 'absent'>;
  describeSchedule(scheduleId: string): Promise<NightlySchedule | undefined>;
  /** Creates the schedule or brings it in line with `wanted`. */
  upsertSchedule(wanted: NightlySchedule): Promise<'created' | 'updated' | 'exists'>;
  /** False when there was no such schedule. */
  deleteSchedule(scheduleId: string): Promise<boolean>;
}

/** The fields that make two schedules the same, for plan's `differs` and apply's no-op. */
export function scheduleDifferences(have: NightlySchedule, want: NightlySchedule): string[] {
  const fields = ['cron', 'timezone', 'paused', 'taskQueue', 'pipelineId'] as const;
  return fields
    .filter((f) => have[f] !== want[f])
    .map((f) => `${f} ${JSON.stringify(have[f])} → ${JSON.stringify(want[f])}`);
}

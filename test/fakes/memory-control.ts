import type {
  NightlySchedule,
  PipelineControl,
  StartIngestionInput,
  WorkflowPresence,
} from '../../src/ports/pipeline-control';
import { scheduleDifferences } from '../../src/ports/pipeline-control';
import { Faults } from './faults';

export interface MemoryWorkflow {
  presence: WorkflowPresence;
  taskQueue?: string;
  input?: StartIngestionInput['input'];
  /** How many times it was started (a second start of a running one is a no-op). */
  starts: number;
}

/**
 * PipelineControl in memory: workflows by id (running or closed) and schedules. `stubborn`
 * workflows ignore the stop signal and are terminated after the grace period (not waited for).
 */
export class MemoryControl implements PipelineControl {
  readonly workflows = new Map<string, MemoryWorkflow>();
  readonly schedules = new Map<string, NightlySchedule>();
  readonly stubborn = new Set<string>();
  readonly faults = new Faults<keyof PipelineControl>();

  workflowPresence(workflowId: string): Promise<WorkflowPresence> {
    return this.faults.run(
      'workflowPresence',
      () => this.workflows.get(workflowId)?.presence ?? 'absent',
    );
  }

  startIngestion(input: StartIngestionInput): Promise<{ started: boolean }> {
    return this.faults.run('startIngestion', () => {
      const have = this.workflows.get(input.workflowId);
      if (have?.presence === 'running') return { started: false };
      this.workflows.set(input.workflowId, {
        presence: 'running',
        taskQueue: input.taskQueue,
        input: input.input,
        starts: (have?.starts ?? 0) + 1,
      });
      return { started: true };
    });
  }

  stopIngestion(workflowId: string): Promise<'stopped' | 'terminated' | 'absent'> {
    return this.faults.run('stopIngestion', () => {
      const w = this.workflows.get(workflowId);
      if (w?.presence !== 'running') return 'absent';
      w.presence = 'closed';
      return this.stubborn.has(workflowId) ? 'terminated' : 'stopped';
    });
  }

  describeSchedule(scheduleId: string): Promise<NightlySchedule | undefined> {
    return this.faults.run('describeSchedule', () => {
      const s = this.schedules.get(scheduleId);
      return s ? { ...s } : undefined;
    });
  }

  upsertSchedule(wanted: NightlySchedule): Promise<'created' | 'updated' | 'exists'> {
    return this.faults.run('upsertSchedule', () => {
      const have = this.schedules.get(wanted.scheduleId);
      this.schedules.set(wanted.scheduleId, { ...wanted });
      if (!have) return 'created';
      return scheduleDifferences(have, wanted).length ? 'updated' : 'exists';
    });
  }

  deleteSchedule(scheduleId: string): Promise<boolean> {
    return this.faults.run('deleteSchedule', () => this.schedules.delete(scheduleId));
  }
}

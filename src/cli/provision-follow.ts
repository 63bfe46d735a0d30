import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Config } from '../config';
import { rootMessage } from '../workflows/failure-message';
import {
  progressQuery,
  type provisionPipeline,
  type ProvisionProgress,
  type ProvisionResult,
} from '../workflows/provision-pipeline';
import { ChecklistRenderer, checklistLines } from './provision-render';

/** Following a provisioning run from the CLI: `provision`, `provision retry|abort`, `demo`. */

const POLL_MS = 300;
/** A query needs a worker; without one it would wait for the RPC's own (long) deadline. */
export const QUERY_TIMEOUT_MS = 10_000;

export type ProvisionHandle = WorkflowHandle<typeof provisionPipeline>;

export type Followed =
  | { kind: 'closed'; result: ProvisionResult }
  | { kind: 'parked'; progress: ProvisionProgress }
  | { kind: 'failed'; workflowId: string; message: string };

/**
 * Polls the progress query and redraws the checklist until the run closes or parks. The result
 * is awaited alongside, so a run that fails (or is terminated) ends the wait too.
 */
export async function follow(
  client: Client,
  handle: ProvisionHandle,
  config: Config,
): Promise<Followed> {
  const renderer = new ChecklistRenderer(process.stderr);
  const outcome: { value?: Followed } = {};
  // The result's long poll is cancelled on leaving: left open, it keeps the process alive
  // (and close() waiting) for up to its ~20 s server timeout after the run has parked.
  const stop = new AbortController();
  client
    .withAbortSignal(stop.signal, () => handle.result())
    .then(
      (result) => (outcome.value = { kind: 'closed', result }),
      (err: unknown) =>
        (outcome.value = {
          kind: 'failed',
          workflowId: handle.workflowId,
          message: rootMessage(err),
        }),
    );
  const since = Date.now();
  let hinted = false;
  try {
    for (;;) {
      const settled = outcome.value;
      if (settled) {
        if (settled.kind === 'closed') renderer.update(checklistLines(settled.result));
        return settled;
      }
      const progress = await client
        .withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(progressQuery))
        .catch(() => undefined);
      if (progress) {
        renderer.update(checklistLines(progress));
        if (progress.status === 'awaiting-correction') return { kind: 'parked', progress };
      } else if (!hinted && Date.now() - since > 5_000) {
        hinted = true;
        console.error(
          `no answer from ${handle.workflowId} yet: is a worker polling task queue ${config.temporal.taskQueue}? (pinpipe worker)`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    stop.abort();
  }
}

import {
  ApplicationFailure,
  defineQuery,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RemoveResourceResult, TeardownActivities } from '../activities/teardown-activities';
import { teardownOrder, type InventoryEntry } from '../domain/provision-steps';
import { PIPELINE_ID_PATTERN, bucketFor } from '../domain/tables';
import { STEP_PROFILES } from './provision-profiles';
import { PipelineId, PipelineStatus, PipelineStep } from './search-attributes';

export interface TeardownInput {
  pipelineId: string;
  /** Also delete the topics and the bucket (with everything in it). Off by default: data stays. */
  deleteData?: boolean;
  /** Where the inventory lives; defaults to the pipeline's bucket. */
  bucket?: string;
}

export interface TeardownResult {
  pipelineId: string;
  inventoryFound: boolean;
  removed: RemoveResourceResult[];
  /** Kept because they hold data and `deleteData` was not set. */
  kept: InventoryEntry[];
  /** Client hosts still tagged for the pipeline that were not in the inventory. */
  sweptInstances: string[];
}

export const teardownProgressQuery = defineQuery<TeardownResult>('progress');

const acts = proxyActivities<TeardownActivities>(STEP_PROFILES.teardown.activity);

/**
 * Undoes provisioning from the recorded inventory: ingestion stopped, schedule deleted, client
 * host terminated and, only with `deleteData`, topics and bucket deleted. Idempotent: what is
 * already gone counts as removed, so a second run succeeds too.
 */
export async function teardownPipeline(input: TeardownInput): Promise<TeardownResult> {
  if (!PIPELINE_ID_PATTERN.test(input?.pipelineId ?? '')) {
    throw ApplicationFailure.nonRetryable(
      `invalid teardownPipeline input: pipelineId: expected 12 lowercase hex characters, got ${JSON.stringify(input?.pipelineId)}`,
      'InvalidInput',
    );
  }
  const bucket = input.bucket ?? bucketFor(input.pipelineId);
  const result: TeardownResult = {
    pipelineId: input.pipelineId,
    inventoryFound: false,
    removed: [],
    kept: [],
    sweptInstances: [],
  };
  const publish = (status: string, step?: string) => {
    const lines = result.removed.map((r) => `- [x] ${r.kind} \`${r.id}\`: ${r.result}`);
    const kept = result.kept.map(
      (r) => `- [ ] ${r.kind} \`${r.id}\`: kept (holds data; use deleteData)`,
    );
    setCurrentDetails(
      [`### Teardown of pipeline ${input.pipelineId}: ${status}`, '', ...lines, ...kept].join('\n'),
    );
    upsertSearchAttributes([
      { key: PipelineId, value: input.pipelineId },
      { key: PipelineStatus, value: status },
      ...(step ? [{ key: PipelineStep, value: step }] : []),
    ]);
  };
  setHandler(teardownProgressQuery, () => result);
  publish('tearing-down');

  const inventory = await acts.loadInventory({ bucket });
  result.inventoryFound = inventory !== null;
  const entries = teardownOrder(inventory?.resources ?? []);
  for (const entry of entries) {
    if (entry.holdsData && !input.deleteData) result.kept.push(entry);
  }
  const doomed = entries.filter((e) => !result.kept.includes(e));
  // One kind at a time, in order; within a kind at once: three ingestion workflows each finish
  // their batch in flight (up to a rotate interval), so stopping them in turn would triple it.
  for (const kind of [...new Set(doomed.map((e) => e.kind))]) {
    const removed = await Promise.all(
      doomed
        .filter((e) => e.kind === kind)
        .map((entry) =>
          acts.removeResource.executeWithOptions(
            { ...STEP_PROFILES.teardown.activity, summary: `remove ${entry.kind} ${entry.id}` },
            [{ kind: entry.kind, id: entry.id }],
          ),
        ),
    );
    result.removed.push(...removed);
    publish('tearing-down', `remove-${kind}`);
  }
  result.sweptInstances = await acts.sweepClientHosts({ pipelineId: input.pipelineId });

  // What stays (data, unless deleted) stays on record for a later `deleteData` teardown.
  if (inventory && result.kept.length > 0) {
    await acts.recordInventory({ bucket, inventory: { ...inventory, resources: result.kept } });
  }
  publish('torn-down');
  return result;
}

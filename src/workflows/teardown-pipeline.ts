import {
  ApplicationFailure,
  defineQuery,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RemoveResourceResult, TeardownActivities } from '../activities/teardown-activities';
import {
  holdsData,
  isLegacy,
  ownershipOf,
  planTeardown,
  remainingInventory,
  type InventoryEntry,
  type StoredInventory,
} from '../domain/inventory';
import { teardownOrder, type ResourceKind } from '../domain/provision-steps';
import { PIPELINE_ID_PATTERN, bucketFor } from '../domain/tables';
import { STEP_PROFILES } from './provision-profiles';
import { PipelineId, PipelineStatus, PipelineStep } from './search-attributes';

export interface TeardownInput {
  pipelineId: string;
  /** Also delete the topics and the bucket (with everything in it). Off by default: data stays. */
  deleteData?: boolean;
  /** Where the inventory lives; defaults to the pipeline's bucket. */
  bucket?: string;
  /**
   * Adopted resources (there before provisioning) to remove too, by id (or `<kind>:<id>`).
   * Unnamed, they are left alone; named, they must still prove they are the pipeline's, and a
   * topic or bucket still needs `deleteData`.
   */
  includeAdopted?: string[];
}

export interface RefusedResource {
  kind: ResourceKind;
  id: string;
  /** What the resource itself says (its tag, its name) against the inventory's claim. */
  reason: string;
}

export interface TeardownResult {
  pipelineId: string;
  inventoryFound: boolean;
  removed: RemoveResourceResult[];
  /** Kept because they hold data and `deleteData` was not set. */
  kept: InventoryEntry[];
  /** Adopted (there before provisioning) and not named in `includeAdopted`: left alone. */
  adopted: InventoryEntry[];
  /** Named in the inventory but not provably the pipeline's: left alone. */
  refused: RefusedResource[];
  /** Names in `includeAdopted` the inventory does not hold. */
  unmatched: string[];
  /** Client hosts still tagged for the pipeline that were not in the inventory. */
  sweptInstances: string[];
}

export const teardownProgressQuery = defineQuery<TeardownResult>('progress');

const acts = proxyActivities<TeardownActivities>(STEP_PROFILES.teardown.activity);

/**
 * Marks runs that plan from owned/adopted with proofs; runs begun before it replay the first
 * plan (data kept by the file's `holdsData`), and their removals are still proven by the
 * activity, which refuses a topic or bucket without `deleteData` whatever the file said.
 */
export const OWNED_ONLY_PATCH = 'teardown-owned-only';

/**
 * Undoes provisioning from the recorded inventory, removing only what is provably the
 * pipeline's own: ingestion stopped, schedule deleted, client host terminated and, only with
 * `deleteData`, topics and bucket deleted. Adopted resources stay unless named; a resource whose
 * tag or name does not prove it is refused with the reason. Idempotent: what is already gone
 * counts as removed, so a second run succeeds too.
 */
export async function teardownPipeline(input: TeardownInput): Promise<TeardownResult> {
  if (!PIPELINE_ID_PATTERN.test(input?.pipelineId ?? '')) {
    throw ApplicationFailure.nonRetryable(
      `invalid teardownPipeline input: pipelineId: expected 12 lowercase hex characters, got ${JSON.stringify(input?.pipelineId)}`,
      'InvalidInput',
    );
  }
  const named = input.includeAdopted ?? [];
  if (
    !Array.isArray(named) ||
    named.length > 100 ||
    !named.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 1100)
  ) {
    throw ApplicationFailure.nonRetryable(
      'invalid teardownPipeline input: includeAdopted: expected up to 100 resource names',
      'InvalidInput',
    );
  }
  const pipelineId = input.pipelineId;
  const deleteData = input.deleteData === true;
  const bucket = input.bucket ?? bucketFor(pipelineId);
  const result: TeardownResult = {
    pipelineId,
    inventoryFound: false,
    removed: [],
    kept: [],
    adopted: [],
    refused: [],
    unmatched: [],
    sweptInstances: [],
  };
  const publish = (status: string, step?: string) => {
    const lines = result.removed.map((r) => `- [x] ${r.kind} \`${r.id}\`: ${r.result}`);
    const kept = result.kept.map(
      (r) => `- [ ] ${r.kind} \`${r.id}\`: kept (holds data; use deleteData)`,
    );
    const adopted = result.adopted.map(
      (r) => `- [ ] ${r.kind} \`${r.id}\`: adopted, left alone (name it in includeAdopted)`,
    );
    const refused = result.refused.map((r) => `- [!] ${r.kind} \`${r.id}\`: refused: ${r.reason}`);
    const unmatched = result.unmatched.map(
      (n) => `- [!] \`${n}\`: named, but not in the inventory`,
    );
    setCurrentDetails(
      [
        `### Teardown of pipeline ${pipelineId}: ${status}`,
        '',
        ...lines,
        ...kept,
        ...adopted,
        ...refused,
        ...unmatched,
      ].join('\n'),
    );
    upsertSearchAttributes([
      { key: PipelineId, value: pipelineId },
      { key: PipelineStatus, value: status },
      ...(step ? [{ key: PipelineStep, value: step }] : []),
    ]);
  };
  setHandler(teardownProgressQuery, () => result);
  publish('tearing-down');

  const inventory = await acts.loadInventory({ bucket, pipelineId });
  result.inventoryFound = inventory !== null;
  const brokers = inventory && !isLegacy(inventory) ? inventory.kafkaBrokers : undefined;

  /** Removes kind by kind in teardown order; within a kind at once. */
  const removeAll = async (doomed: readonly InventoryEntry[]) => {
    // Three ingestion workflows each finish their batch in flight (up to a rotate interval),
    // so stopping them in turn would triple the wait.
    for (const kind of [...new Set(doomed.map((e) => e.kind))]) {
      const results = await Promise.all(
        doomed
          .filter((e) => e.kind === kind)
          .map((entry) =>
            acts.removeResource.executeWithOptions(
              { ...STEP_PROFILES.teardown.activity, summary: `remove ${entry.kind} ${entry.id}` },
              [
                {
                  kind: entry.kind,
                  id: entry.id,
                  pipelineId,
                  deleteData,
                  // The aws target's topics live on its MSK cluster, not on the worker's Kafka.
                  ...(entry.kind === 'topic' && brokers ? { brokers } : {}),
                },
              ],
            ),
          ),
      );
      for (const r of results) {
        if (r.result === 'refused') {
          result.refused.push({ kind: r.kind, id: r.id, reason: r.reason ?? 'refused' });
        } else {
          result.removed.push(r);
        }
      }
      publish('tearing-down', `remove-${kind}`);
    }
  };

  if (patched(OWNED_ONLY_PATCH)) {
    const plan = planTeardown(ownershipOf(inventory), { deleteData, includeAdopted: named });
    result.kept = plan.kept;
    result.adopted = plan.adopted;
    result.unmatched = plan.unmatched;
    publish('tearing-down');
    await removeAll(teardownOrder(plan.remove));
    result.sweptInstances = await acts.sweepClientHosts({ pipelineId });
    // What stays (kept data, adopted resources) stays on record for a later run that names
    // it or sets deleteData; refused entries are dropped from the record: not the pipeline's.
    const bucketGone = result.removed.some(
      (r) =>
        r.kind === 'bucket' && r.id === bucket && (r.result === 'deleted' || r.result === 'absent'),
    );
    if (inventory && plan.kept.length + plan.adopted.length > 0 && !bucketGone) {
      await acts.recordInventory({ bucket, inventory: remainingInventory(inventory, plan) });
    }
  } else {
    await legacyTeardown(inventory, deleteData, result, removeAll, bucket);
  }
  publish('torn-down');
  return result;
}

/** The first plan, for replaying runs begun before OWNED_ONLY_PATCH: the same commands. */
async function legacyTeardown(
  inventory: StoredInventory | null,
  deleteData: boolean,
  result: TeardownResult,
  removeAll: (doomed: readonly InventoryEntry[]) => Promise<void>,
  bucket: string,
): Promise<void> {
  const entries = teardownOrder(
    inventory === null ? [] : isLegacy(inventory) ? inventory.resources : inventory.owned,
  );
  const kept = entries.filter(
    (e) => ('holdsData' in e ? e.holdsData === true : holdsData(e.kind)) && !deleteData,
  );
  result.kept = kept;
  await removeAll(entries.filter((e) => !kept.includes(e)));
  result.sweptInstances = await acts.sweepClientHosts({ pipelineId: result.pipelineId });
  if (inventory && kept.length > 0) {
    await acts.recordInventory({
      bucket,
      inventory: isLegacy(inventory)
        ? { ...inventory, resources: kept }
        : remainingInventory(inventory, { kept, adopted: inventory.adopted }),
    });
  }
}

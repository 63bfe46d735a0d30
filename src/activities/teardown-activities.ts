import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  INVENTORY_KEY,
  INVENTORY_MAX_BYTES,
  bucketNamedFor,
  holdsData,
  isLegacy,
  mergeWithPrior,
  ownershipOf,
  parseInventory,
  refusalByName,
  refusalByTags,
  type Inventory,
  type StoredInventory,
} from '../domain/inventory';
import { isAwsResourceKind, type ResourceKind, type StepResult } from '../domain/provision-steps';
import type { BucketTags } from '../ports/bucket-tags';
import type { Ec2Port } from '../ports/ec2';
import type { KafkaAdmin } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import type { PipelineControl } from '../ports/pipeline-control';
import { removeAwsResource, type AwsRemovalPorts } from './aws-removal';
import { findClientHosts } from './client-host-activity';

/**
 * The inventory (what provisioning made, in the pipeline's bucket) and the removal of one
 * resource at a time. Every removal is idempotent: a resource that is already gone is `absent`.
 * The inventory is a file a person can edit, so a removal never takes it on trust: the resource
 * itself must prove it is the pipeline's (its tag or its name), or it is `refused`.
 */

export interface RecordInventoryInput {
  bucket: string;
  inventory: StoredInventory;
  /**
   * Provisioning: keep as owned what the inventory on file already owns (a rerun finds the
   * first run's resources and calls them `exists`). Teardown replaces the file instead.
   */
  merge?: boolean;
}

export interface LoadInventoryInput {
  bucket: string;
  /** The pipeline the inventory must be for (an inventory naming another one is refused). */
  pipelineId?: string;
}

export interface RemoveResourceInput {
  kind: ResourceKind;
  id: string;
  /**
   * Whose tag or name must prove the resource: without it nothing is removed (a call
   * scheduled by an older workflow, before proofs existed, is refused rather than trusted).
   */
  pipelineId?: string;
  /** Topics and buckets (by kind) are removed only with this set. */
  deleteData?: boolean;
  /** A topic's MSK bootstrap servers (the aws target); absent: the worker's own Kafka. */
  brokers?: string;
}

export type RemovalResult =
  'deleted' | 'stopped' | 'terminated' | 'absent' | 'nothing-to-do' | 'refused';

export interface RemoveResourceResult {
  kind: ResourceKind;
  id: string;
  result: RemovalResult;
  /** Why it was refused. */
  reason?: string;
}

/** An ingestion workflow gets this long to finish its batches before it is terminated. */
const INGEST_STOP_GRACE_MS = 60_000;

export function createTeardownActivities(ports: {
  store: ObjectStore;
  kafka: KafkaAdmin;
  ec2: Ec2Port;
  control: PipelineControl;
  bucketTags: BucketTags;
  /** The aws target's control-plane clients (security groups, IAM, secrets, MSK, API Gateway). */
  aws?: AwsRemovalPorts;
  kafkaAt?: (brokers: string[]) => KafkaAdmin & { disconnect(): Promise<void> };
}) {
  const { store, kafka, ec2, control, bucketTags } = ports;

  async function recordInventory(input: RecordInventoryInput): Promise<StepResult> {
    const where = `s3://${input.bucket}/${INVENTORY_KEY}`;
    if (!(await store.bucketExists(input.bucket))) {
      return { resources: [], summary: `${where}: the bucket is gone, nothing recorded` };
    }
    const before = await loadInventory({
      bucket: input.bucket,
      pipelineId: input.inventory.pipelineId,
    });
    let inventory = input.inventory;
    if (input.merge && !isLegacy(inventory)) {
      inventory = mergeWithPrior(inventory, before, await taggedBuckets(inventory));
    }
    const same =
      before !== null && JSON.stringify(lists(before)) === JSON.stringify(lists(inventory));
    if (!same) {
      await store.put({
        bucket: input.bucket,
        key: INVENTORY_KEY,
        body: JSON.stringify(inventory, null, 2),
        contentType: 'application/json',
      });
    }
    const outcome = before === null ? 'created' : same ? 'unchanged' : 'updated';
    const { owned, adopted } = ownershipOf(inventory);
    const adoptedNote = adopted.length
      ? `; adopted, left by teardown unless named: ${adopted.map((e) => e.id).join(', ')}`
      : '';
    return {
      resources: [],
      summary: `${owned.length} owned, ${adopted.length} adopted at ${where} (${outcome})${adoptedNote}`,
      ...(isLegacy(inventory) ? {} : { inventory }),
    };
  }

  /** Adopted buckets that carry the pipeline tag, which pinpipe sets only on buckets it made. */
  async function taggedBuckets(inventory: Inventory): Promise<Set<string>> {
    const tagged = new Set<string>();
    for (const e of inventory.adopted) {
      if (e.kind !== 'bucket' || !(await store.bucketExists(e.id))) continue;
      if (
        refusalByTags('bucket', e.id, inventory.pipelineId, await bucketTags.get(e.id)) ===
        undefined
      )
        tagged.add(e.id);
    }
    return tagged;
  }

  /** The file as validated, or null when there is none (no bucket, no object). */
  async function loadInventory(input: LoadInventoryInput): Promise<StoredInventory | null> {
    const where = `s3://${input.bucket}/${INVENTORY_KEY}`;
    if (!(await store.bucketExists(input.bucket))) return null;
    const head = await store.head({ bucket: input.bucket, key: INVENTORY_KEY });
    if (!head) return null;
    const invalid = (why: string) =>
      ApplicationFailure.nonRetryable(
        `${where} is not a valid inventory (${why}); fix or delete it`,
        'InvalidInventory',
      );
    if (head.size > INVENTORY_MAX_BYTES) {
      throw invalid(`${head.size} bytes, more than ${INVENTORY_MAX_BYTES}`);
    }
    const bytes = await store.get({ bucket: input.bucket, key: INVENTORY_KEY });
    if (!bytes) return null;
    if (bytes.byteLength > INVENTORY_MAX_BYTES) {
      throw invalid(`${bytes.byteLength} bytes, more than ${INVENTORY_MAX_BYTES}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (err) {
      throw invalid(`not JSON: ${(err as Error).message}`);
    }
    const parsed = parseInventory(raw);
    if (!parsed.ok) throw invalid(parsed.reason);
    if (input.pipelineId !== undefined && parsed.inventory.pipelineId !== input.pipelineId) {
      throw ApplicationFailure.nonRetryable(
        `${where} is the inventory of pipeline ${parsed.inventory.pipelineId}, not ${input.pipelineId}: nothing of it is removed`,
        'InvalidInventory',
      );
    }
    return parsed.inventory;
  }

  async function removeResource(input: RemoveResourceInput): Promise<RemoveResourceResult> {
    const ctx = Context.current();
    ctx.heartbeat();
    const done = (result: RemovalResult): RemoveResourceResult => ({
      kind: input.kind,
      id: input.id,
      result,
    });
    const refused = (reason: string): RemoveResourceResult => ({
      kind: input.kind,
      id: input.id,
      result: 'refused',
      reason,
    });
    const pipelineId = input.pipelineId;
    if (pipelineId === undefined) {
      return refused(`${input.kind} ${input.id}: no pipeline id to prove it by, left alone`);
    }
    if (holdsData(input.kind) && input.deleteData !== true) {
      return refused(`${input.kind} ${input.id} holds data: removed only with deleteData`);
    }
    const byName = refusalByName(input.kind, input.id, pipelineId);
    if (byName !== undefined) return refused(byName);

    if (isAwsResourceKind(input.kind)) {
      const r = await removeAwsResource(ports.aws, input.kind, input.id, pipelineId);
      return r.result === 'refused' ? refused(r.reason) : done(r.result);
    }
    switch (input.kind) {
      case 'workflow': {
        const r = await control.stopIngestion(input.id, INGEST_STOP_GRACE_MS);
        return done(r === 'absent' ? 'absent' : r);
      }
      case 'schedule':
        return done((await control.deleteSchedule(input.id)) ? 'deleted' : 'absent');
      case 'instance': {
        const info = await ec2.describeInstance(input.id);
        if (!info || info.state === 'terminated' || info.state === 'shutting-down')
          return done('absent');
        const notOurs = refusalByTags('instance', input.id, pipelineId, info.tags);
        if (notOurs !== undefined) return refused(notOurs);
        await ec2.terminateInstances([input.id]);
        return done('terminated');
      }
      case 'topic': {
        if (input.brokers === undefined) return done(await deleteTopic(kafka, input.id));
        if (!ports.kafkaAt) throw new Error('this worker cannot reach other Kafka clusters');
        const cluster = ports.kafkaAt(input.brokers.split(','));
        try {
          return done(await deleteTopic(cluster, input.id));
        } finally {
          await cluster.disconnect();
        }
      }
      case 'bucket': {
        if (!(await store.bucketExists(input.id))) return done('absent');
        if (!bucketNamedFor(pipelineId, input.id)) {
          const notOurs = refusalByTags(
            'bucket',
            input.id,
            pipelineId,
            await bucketTags.get(input.id),
          );
          if (notOurs !== undefined) return refused(notOurs);
        }
        let batch: string[] = [];
        let removed = 0;
        for await (const o of store.list({ bucket: input.id, prefix: '' })) {
          batch.push(o.key);
          if (batch.length === 1000) {
            await store.deleteMany(input.id, batch);
            removed += batch.length;
            ctx.heartbeat({ removed });
            batch = [];
          }
        }
        await store.deleteMany(input.id, batch);
        await store.deleteBucket(input.id);
        return done('deleted');
      }
      case 'endpoint':
        // The endpoint is the client host's (or the local) API: nothing of its own to delete.
        return done('nothing-to-do');
    }
  }

  /** Terminates any client host still tagged for the pipeline (teardown's safety net). */
  async function sweepClientHosts(input: { pipelineId: string }): Promise<string[]> {
    const hosts = await findClientHosts(ec2, input.pipelineId);
    await ec2.terminateInstances(hosts.map((h) => h.instanceId));
    return hosts.map((h) => h.instanceId);
  }

  return { recordInventory, loadInventory, removeResource, sweepClientHosts };
}

export type TeardownActivities = ReturnType<typeof createTeardownActivities>;

async function deleteTopic(kafka: KafkaAdmin, topic: string): Promise<'deleted' | 'absent'> {
  if ((await kafka.partitionCount(topic)) === undefined) return 'absent';
  await kafka.deleteTopics([topic]);
  return 'deleted';
}

/** The lists of an inventory, for telling whether a rewrite would change anything. */
function lists(inventory: StoredInventory): unknown {
  return isLegacy(inventory)
    ? inventory.resources
    : { owned: inventory.owned, adopted: inventory.adopted };
}

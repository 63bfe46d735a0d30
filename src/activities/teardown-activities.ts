import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  INVENTORY_KEY,
  type Inventory,
  type ResourceKind,
  type StepResult,
} from '../domain/provision-steps';
import type { Ec2Port } from '../ports/ec2';
import type { KafkaPort } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import type { PipelineControl } from '../ports/pipeline-control';
import { findClientHosts } from './client-host-activity';

/**
 * The inventory (what provisioning made, in the pipeline's bucket) and the removal of one
 * resource at a time. Every removal is idempotent: a resource that is already gone is `absent`.
 */

export interface RecordInventoryInput {
  bucket: string;
  inventory: Inventory;
}

export interface RemoveResourceInput {
  kind: ResourceKind;
  id: string;
}

export type RemovalResult = 'deleted' | 'stopped' | 'terminated' | 'absent' | 'nothing-to-do';

export interface RemoveResourceResult {
  kind: ResourceKind;
  id: string;
  result: RemovalResult;
}

/** An ingestion workflow gets this long to finish its batches before it is terminated. */
const INGEST_STOP_GRACE_MS = 60_000;

export function createTeardownActivities(ports: {
  store: ObjectStore;
  kafka: KafkaPort;
  ec2: Ec2Port;
  control: PipelineControl;
}) {
  const { store, kafka, ec2, control } = ports;

  async function recordInventory(input: RecordInventoryInput): Promise<StepResult> {
    const where = `s3://${input.bucket}/${INVENTORY_KEY}`;
    const before = await loadInventory({ bucket: input.bucket });
    const same =
      before !== null &&
      JSON.stringify(before.resources) === JSON.stringify(input.inventory.resources);
    if (!same) {
      await store.put({
        bucket: input.bucket,
        key: INVENTORY_KEY,
        body: JSON.stringify(input.inventory, null, 2),
        contentType: 'application/json',
      });
    }
    const outcome = before === null ? 'created' : same ? 'unchanged' : 'updated';
    return {
      resources: [],
      summary: `${input.inventory.resources.length} resources at ${where} (${outcome})`,
    };
  }

  async function loadInventory(input: { bucket: string }): Promise<Inventory | null> {
    if (!(await store.bucketExists(input.bucket))) return null;
    const bytes = await store.get({ bucket: input.bucket, key: INVENTORY_KEY });
    if (!bytes) return null;
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as Inventory;
    } catch (err) {
      throw ApplicationFailure.nonRetryable(
        `s3://${input.bucket}/${INVENTORY_KEY} is not valid JSON (${(err as Error).message}); fix or delete it`,
        'InvalidInventory',
      );
    }
  }

  async function removeResource(input: RemoveResourceInput): Promise<RemoveResourceResult> {
    const ctx = Context.current();
    ctx.heartbeat();
    const done = (result: RemovalResult): RemoveResourceResult => ({ ...input, result });
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
        await ec2.terminateInstances([input.id]);
        return done('terminated');
      }
      case 'topic': {
        if ((await kafka.partitionCount(input.id)) === undefined) return done('absent');
        await kafka.deleteTopics([input.id]);
        return done('deleted');
      }
      case 'bucket': {
        if (!(await store.bucketExists(input.id))) return done('absent');
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

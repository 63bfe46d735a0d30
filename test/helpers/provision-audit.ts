import { findClientHosts } from '../../src/activities/client-host-activity';
import type { Adapters } from '../../src/adapters/create-adapters';
import { INVENTORY_KEY } from '../../src/domain/inventory';
import { TABLES, bucketFor, topicFor } from '../../src/domain/tables';
import type { PipelineControl } from '../../src/ports/pipeline-control';
import { ingestWorkflowId, nightlyScheduleId } from '../../src/domain/workflow-ids';

/** What exists of a pipeline's resources, counted from the services themselves. */
export interface PipelineAudit {
  instances: string[];
  bucket: boolean;
  inventory: boolean;
  /** Partition count per topic; undefined when the topic does not exist. */
  topics: Record<string, number | undefined>;
  schedule: boolean;
  ingestRunning: number;
}

export async function auditPipeline(
  adapters: Pick<Adapters, 'store' | 'kafka' | 'ec2'>,
  control: PipelineControl,
  pipelineId: string,
): Promise<PipelineAudit> {
  const bucket = bucketFor(pipelineId);
  const hasBucket = await adapters.store.bucketExists(bucket);
  const topics: Record<string, number | undefined> = {};
  for (const t of TABLES) {
    const name = topicFor(pipelineId, t);
    topics[name] = await adapters.kafka.partitionCount(name);
  }
  let ingestRunning = 0;
  for (const t of TABLES) {
    if ((await control.workflowPresence(ingestWorkflowId(pipelineId, t))) === 'running') {
      ingestRunning++;
    }
  }
  return {
    instances: (await findClientHosts(adapters.ec2, pipelineId)).map((i) => i.instanceId),
    bucket: hasBucket,
    inventory:
      hasBucket && (await adapters.store.head({ bucket, key: INVENTORY_KEY })) !== undefined,
    topics,
    schedule: (await control.describeSchedule(nightlyScheduleId(pipelineId))) !== undefined,
    ingestRunning,
  };
}

/** Exactly one of every resource a completed provisioning makes. */
export function fullyProvisioned(
  pipelineId: string,
  partitions = 3,
): Omit<PipelineAudit, 'instances'> {
  return {
    bucket: true,
    inventory: true,
    topics: Object.fromEntries(TABLES.map((t) => [topicFor(pipelineId, t), partitions])),
    schedule: true,
    ingestRunning: 3,
  };
}

/** Nothing left: what teardown with deleteData must leave. */
export function nothingLeft(pipelineId: string): PipelineAudit {
  return {
    instances: [],
    bucket: false,
    inventory: false,
    topics: Object.fromEntries(TABLES.map((t) => [topicFor(pipelineId, t), undefined])),
    schedule: false,
    ingestRunning: 0,
  };
}

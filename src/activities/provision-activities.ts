import { ApplicationFailure, Context } from '@temporalio/activity';
import { PIPELINE_TAG } from '../domain/inventory';
import type { Preexisting, ResourceRecord, StepResult } from '../domain/provision-steps';
import { TABLES, topicFor } from '../domain/tables';
import type { BucketTags } from '../ports/bucket-tags';
import type { KafkaAdmin } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import type { Ec2Port } from '../ports/ec2';
import type { PipelineControl } from '../ports/pipeline-control';
import { scheduleDifferences } from '../ports/pipeline-control';
import { createClientHostActivity } from './client-host-activity';
import { CONDITIONAL_WRITES_UNSUPPORTED } from './conditional-write-guard';
import { ingestWorkflowId, nightlyScheduleId } from '../domain/workflow-ids';

/**
 * The provisioning steps' side effects. Each activity is idempotent: it looks before it acts,
 * adopts what exists, and in plan mode only looks. Results name every resource and how to
 * delete it, which is what the inventory (and teardown) are built from.
 */

export type Mode = 'apply' | 'plan';

export interface ValidateTargetInput {
  target: 'local' | 'aws';
  region: string;
  bucket: string;
  /** With it, the result says which of the pipeline's topics and bucket exist already. */
  pipelineId?: string;
  /** Look at the worker's own Kafka (false: the aws target's cluster does not exist yet). */
  checkKafka?: boolean;
}

export interface EnsureBucketInput {
  bucket: string;
  encryption: boolean;
  blockPublicAccess: boolean;
  mode: Mode;
  /** The bucket a run creates is tagged `pinpipe:pipeline=<id>` (its proof under another name). */
  pipelineId?: string;
  /**
   * Whether the validate step found the bucket. `false` means a bucket found now was made by
   * an earlier attempt of this run: it is reported `created` (and tagged), not adopted.
   */
  existedBeforeRun?: boolean;
}

export interface EnsureTopicsInput {
  pipelineId: string;
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
  mode: Mode;
  /** The pipeline's topics the validate step found; any other found now this run made. */
  existingBeforeRun?: string[];
  /** The cluster's bootstrap servers (the aws target's MSK); absent: the worker's own Kafka. */
  brokers?: string;
}

export interface CheckEndpointInput {
  url: string;
  /** Asked instead when `url` cannot be reached at all (an API Gateway stage URL from a private network). */
  fallbackUrl?: string;
  readyTimeoutSeconds: number;
  mode: Mode;
}

export interface EnsureIngestionInput {
  pipelineId: string;
  taskQueue: string;
  maxRecords?: number;
  maxBytes?: number;
  rotateIntervalMs?: number;
  mode: Mode;
}

export interface EnsureScheduleInput {
  pipelineId: string;
  taskQueue: string;
  cron: string;
  timezone: string;
  paused: boolean;
  mode: Mode;
}

export interface ProvisionPorts {
  store: ObjectStore;
  bucketTags: BucketTags;
  kafka: KafkaAdmin;
  ec2: Ec2Port;
  control: PipelineControl;
  /** GET a URL; the status code, or an error when nothing answers. Defaults to fetch. */
  httpStatus?: (url: string) => Promise<number>;
  /** The region this worker's AWS clients call (AWS_REGION); the aws target must match it. */
  awsRegion?: string;
  /** A Kafka client for the aws target's MSK bootstrap servers (TLS + IAM). */
  kafkaAt?: (brokers: string[]) => KafkaAdmin & { disconnect(): Promise<void> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fetchStatus(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await res.body?.cancel();
  return res.status;
}

export function createProvisionActivities(ports: ProvisionPorts) {
  const { store, kafka, ec2, control, bucketTags } = ports;
  const httpStatus = ports.httpStatus ?? fetchStatus;

  async function validateTarget(input: ValidateTargetInput): Promise<StepResult> {
    Context.current().heartbeat();
    if (input.target === 'aws' && ports.awsRegion && ports.awsRegion !== input.region) {
      throw ApplicationFailure.nonRetryable(
        `this worker's AWS clients call ${ports.awsRegion} (AWS_REGION) but the run asks for ${input.region}: set region to ${ports.awsRegion}, or run a worker with AWS_REGION=${input.region}`,
        'InvalidConfig',
      );
    }
    const regions = await ec2.describeRegions();
    if (!regions.includes(input.region)) {
      throw ApplicationFailure.nonRetryable(
        `region ${input.region} is not offered by this EC2 endpoint (it offers ${regions.slice(0, 6).join(', ')}…): set region`,
        'InvalidConfig',
      );
    }
    // Reachability of the data services: a listing each, so bad endpoints fail here, early.
    const topics = input.checkKafka === false ? [] : await kafka.listTopics();
    const bucketFound = await store.bucketExists(input.bucket);
    // What is there before the run changes anything: the line between created and adopted.
    const pipelineId = input.pipelineId;
    const preexisting: Preexisting[] | undefined =
      pipelineId === undefined
        ? undefined
        : [
            { kind: 'bucket', id: input.bucket, exists: bucketFound },
            ...TABLES.map((t) => {
              const id = topicFor(pipelineId, t);
              return { kind: 'topic' as const, id, exists: topics.includes(id) };
            }),
          ];
    return {
      resources: [],
      summary: `${input.target} target, region ${input.region}: EC2, ${input.checkKafka === false ? '' : `Kafka (${topics.length} topics) `}and S3 answer; bucket ${bucketFound ? 'exists' : 'to create'}`,
      ...(preexisting ? { preexisting } : {}),
    };
  }

  async function ensureBucket(input: EnsureBucketInput): Promise<StepResult> {
    Context.current().heartbeat();
    const deleteHow = `pinpipe teardown --delete-data (empties and deletes s3://${input.bucket})`;
    const exists = await store.bucketExists(input.bucket);
    if (input.mode === 'plan') {
      if (!exists) return one({ kind: 'bucket', id: input.bucket, outcome: 'create', deleteHow });
      const sec = await store.bucketSecurity(input.bucket);
      const missing = [
        input.encryption && sec.encryption === 'off' ? 'default encryption is off' : '',
        input.blockPublicAccess && sec.publicAccessBlock === 'off'
          ? 'public access not blocked'
          : '',
      ].filter(Boolean);
      return one({
        kind: 'bucket',
        id: input.bucket,
        outcome: missing.length ? 'differs' : 'exists',
        detail: missing.length ? missing.join('; ') : securityText(sec),
        deleteHow,
      });
    }
    const { created } = await store.ensureBucket(input.bucket);
    // The sink's exactly-once needs If-None-Match: * honoured: proven here, where a person is
    // watching the checklist, rather than discovered when ingestion starts (plan mode writes
    // nothing, so it does not probe; the worker probes again at start and the sink per bucket).
    const conditional = await store.probeConditionalWrites(input.bucket);
    if (conditional.support === 'error') throw new Error(conditional.message);
    if (conditional.support !== 'supported') {
      // The bucket was made only to be probed, and the failed step records nothing: leave
      // nothing behind for abort to miss (it is empty; the probe deleted its object).
      if (created) await store.deleteBucket(input.bucket).catch(() => undefined);
      throw ApplicationFailure.nonRetryable(conditional.message, CONDITIONAL_WRITES_UNSUPPORTED);
    }
    // Made by this run, now or by an attempt that died before reporting it.
    const ours = created || input.existedBeforeRun === false;
    let tagNote = '';
    if (ours && input.pipelineId !== undefined) {
      const tagged = await bucketTags.add(input.bucket, { [PIPELINE_TAG]: input.pipelineId });
      tagNote = tagged
        ? `, tagged ${PIPELINE_TAG}=${input.pipelineId}`
        : ', bucket tagging unsupported (teardown proves it by its name only)';
    }
    const before = created ? undefined : await store.bucketSecurity(input.bucket);
    const after = await store.secureBucket(input.bucket, {
      encryption: input.encryption,
      blockPublicAccess: input.blockPublicAccess,
    });
    const changed =
      before !== undefined &&
      (before.encryption !== after.encryption ||
        before.publicAccessBlock !== after.publicAccessBlock);
    return one({
      kind: 'bucket',
      id: input.bucket,
      outcome: ours ? 'created' : changed ? 'updated' : 'exists',
      detail: `${securityText(after)}, conditional writes proven` + tagNote,
      deleteHow,
    });
  }

  async function ensureTopics(input: EnsureTopicsInput): Promise<StepResult> {
    if (input.brokers === undefined) return ensureTopicsOn(kafka, input);
    if (!ports.kafkaAt)
      throw new Error('this worker cannot reach other Kafka clusters (no kafkaAt)');
    const cluster = ports.kafkaAt(input.brokers.split(','));
    try {
      return await ensureTopicsOn(cluster, input);
    } finally {
      await cluster.disconnect();
    }
  }

  async function ensureTopicsOn(kafka: KafkaAdmin, input: EnsureTopicsInput): Promise<StepResult> {
    Context.current().heartbeat();
    const resources: ResourceRecord[] = [];
    for (const table of TABLES) {
      const topic = topicFor(input.pipelineId, table);
      const deleteHow = `pinpipe teardown --delete-data (deletes topic ${topic})`;
      const have = await kafka.partitionCount(topic);
      const want = input.partitions;
      // Missing when the run began: an earlier attempt of this run made it (and died).
      const madeByRun =
        input.mode === 'apply' &&
        input.existingBeforeRun !== undefined &&
        !input.existingBeforeRun.includes(topic);
      if (have === undefined) {
        if (input.mode === 'apply') {
          await kafka.ensureTopics([
            {
              name: topic,
              partitions: want,
              replicationFactor: input.replicationFactor,
              configs: { 'retention.ms': String(input.retentionMs) },
            },
          ]);
        }
        const outcome = input.mode === 'apply' ? 'created' : 'create';
        resources.push({
          kind: 'topic',
          id: topic,
          outcome,
          detail: `${want} partitions`,
          deleteHow,
        });
      } else if (have < want) {
        if (input.mode === 'apply') await kafka.increasePartitions(topic, want);
        resources.push({
          kind: 'topic',
          id: topic,
          outcome: input.mode === 'apply' ? (madeByRun ? 'created' : 'updated') : 'differs',
          detail: `${have} partitions, ${want} asked`,
          deleteHow,
        });
      } else {
        const detail =
          have > want
            ? `${have} partitions (${want} asked; Kafka cannot shrink)`
            : `${have} partitions`;
        const outcome = madeByRun ? 'created' : 'exists';
        resources.push({ kind: 'topic', id: topic, outcome, detail, deleteHow });
      }
      Context.current().heartbeat();
    }
    return { resources, summary: resources.map((r) => `${r.id} ${r.outcome}`).join(', ') };
  }

  async function checkEndpoint(input: CheckEndpointInput): Promise<StepResult> {
    // Relative to the URL's path: an API Gateway stage URL ends in /<stage>.
    const healthzOf = (url: string) =>
      new URL('healthz', url.endsWith('/') ? url : `${url}/`).toString();
    const deadline = Date.now() + (input.mode === 'plan' ? 0 : input.readyTimeoutSeconds * 1000);
    let last: string;
    let unreachable: string | undefined;
    do {
      Context.current().heartbeat();
      // The stage URL first; the direct one only while the stage URL cannot be reached at all.
      const url = unreachable !== undefined && input.fallbackUrl ? input.fallbackUrl : input.url;
      const healthz = healthzOf(url);
      try {
        const status = await httpStatus(healthz);
        if (status === 200) {
          return one({
            kind: 'endpoint',
            id: input.url,
            outcome: 'exists',
            detail: `${healthz} answers 200${url !== input.url ? ` (${unreachable})` : ''}`,
          });
        }
        last = `${healthz} answered ${status}`;
      } catch (err) {
        last = `${healthz} did not answer: ${(err as Error).message}`;
        if (url === input.url && input.fallbackUrl) {
          unreachable = `${input.url} cannot be reached from this worker, checked directly`;
          continue;
        }
      }
      if (Date.now() < deadline) await sleep(1_000);
    } while (Date.now() < deadline);
    if (input.mode === 'plan') {
      return one({ kind: 'endpoint', id: input.url, outcome: 'create', detail: last });
    }
    throw new Error(`${last} (waited ${input.readyTimeoutSeconds} s; is the ingest API running?)`);
  }

  async function ensureIngestion(input: EnsureIngestionInput): Promise<StepResult> {
    const resources: ResourceRecord[] = [];
    for (const table of TABLES) {
      Context.current().heartbeat();
      const workflowId = ingestWorkflowId(input.pipelineId, table);
      const deleteHow = `pinpipe ingest stop --pipeline ${input.pipelineId} --table ${table}`;
      if (input.mode === 'plan') {
        const running = (await control.workflowPresence(workflowId)) === 'running';
        resources.push({
          kind: 'workflow',
          id: workflowId,
          outcome: running ? 'exists' : 'create',
          deleteHow,
        });
        continue;
      }
      const { started } = await control.startIngestion({
        workflowId,
        taskQueue: input.taskQueue,
        input: {
          pipelineId: input.pipelineId,
          table,
          ...(input.maxRecords ? { maxRecords: input.maxRecords } : {}),
          ...(input.maxBytes ? { maxBytes: input.maxBytes } : {}),
          ...(input.rotateIntervalMs ? { rotateIntervalMs: input.rotateIntervalMs } : {}),
        },
      });
      resources.push({
        kind: 'workflow',
        id: workflowId,
        outcome: started ? 'created' : 'exists',
        deleteHow,
      });
    }
    return { resources, summary: resources.map((r) => `${r.id} ${r.outcome}`).join(', ') };
  }

  async function ensureSchedule(input: EnsureScheduleInput): Promise<StepResult> {
    Context.current().heartbeat();
    const scheduleId = nightlyScheduleId(input.pipelineId);
    const wanted = {
      scheduleId,
      pipelineId: input.pipelineId,
      taskQueue: input.taskQueue,
      cron: input.cron,
      timezone: input.timezone,
      paused: input.paused,
    };
    const deleteHow = `temporal schedule delete --schedule-id ${scheduleId}`;
    const detail = `${input.cron} ${input.timezone}${input.paused ? ' (paused)' : ''}`;
    if (input.mode === 'plan') {
      const have = await control.describeSchedule(scheduleId);
      const diffs = have ? scheduleDifferences(have, wanted) : [];
      const outcome = !have ? 'create' : diffs.length ? 'differs' : 'exists';
      return one({
        kind: 'schedule',
        id: scheduleId,
        outcome,
        detail: diffs.join('; ') || detail,
        deleteHow,
      });
    }
    const outcome = await control.upsertSchedule(wanted);
    return one({ kind: 'schedule', id: scheduleId, outcome, detail, deleteHow });
  }

  return {
    validateTarget,
    ensureBucket,
    ensureTopics,
    ensureClientHost: createClientHostActivity(ec2),
    checkEndpoint,
    ensureIngestion,
    ensureSchedule,
  };
}

export type ProvisionActivities = ReturnType<typeof createProvisionActivities>;

function one(resource: ResourceRecord): StepResult {
  const detail = resource.detail ? ` (${resource.detail})` : '';
  return { resources: [resource], summary: `${resource.id} ${resource.outcome}${detail}` };
}

function securityText(sec: { encryption: string; publicAccessBlock: string }): string {
  return `encryption ${sec.encryption}, public access block ${sec.publicAccessBlock}`;
}

import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AwsProvisionActivities } from '../activities/aws-provision-activities';
import type { ProvisionActivities } from '../activities/provision-activities';
import type { TeardownActivities } from '../activities/teardown-activities';
import { appObjectUrl, awsNames } from '../domain/aws-resources';
import { clientUserData } from '../domain/client-user-data';
import {
  mergeCorrection,
  parseProvisionInput,
  type ProvisionInput,
  type ProvisionSettings,
} from '../domain/provision-input';
import { inventoryFromSteps, type Inventory } from '../domain/inventory';
import {
  AWS_ONLY_STEPS,
  PROVISION_STEPS,
  checklistMarkdown,
  createdByRun,
  initialSteps,
  type Preexisting,
  type ProvisionStep,
  type ResourceRecord,
  type StepResult,
  type StepState,
} from '../domain/provision-steps';
import { TABLES, topicFor } from '../domain/tables';
import { rootMessage } from './failure-message';
import { STEP_PROFILES, backoffMs } from './provision-profiles';
import { PipelineId, PipelineStatus, PipelineStep } from './search-attributes';

export type { ProvisionInput } from '../domain/provision-input';

export type ProvisionStatus =
  'running' | 'awaiting-correction' | 'aborting' | 'completed' | 'planned' | 'aborted';

export interface ProvisionProgress {
  pipelineId: string;
  mode: 'apply' | 'plan';
  status: ProvisionStatus;
  /** The step running or parked; undefined before the first and after the last. */
  currentStep?: ProvisionStep;
  steps: StepState[];
}

export interface ProvisionResult extends ProvisionProgress {
  /** Every resource the steps looked at, with create / exists / differs in plan mode. */
  resources: ResourceRecord[];
  /** As recorded: owned (made by pinpipe) and adopted (found there) apart. */
  inventory?: Inventory;
}

export interface RetryStepRequest {
  /** The parked step (checked, when given, so a stale retry does not hit another step). */
  step?: ProvisionStep;
  /** Corrections merged into the run's input, e.g. `{ "clientHost": { "imageId": "ami-…" } }`. */
  settings?: Record<string, unknown>;
}

export const progressQuery = defineQuery<ProvisionProgress>('progress');
/** Retry the parked step, optionally with corrected settings. */
export const retryStepUpdate = defineUpdate<{ step: ProvisionStep }, [RetryStepRequest]>(
  'retryStep',
);
/** Give up on a parked run: remove what this run created, newest first, and complete. */
export const abortUpdate = defineUpdate<{ removing: number }>('abort');

type Activities = ProvisionActivities & AwsProvisionActivities & TeardownActivities;
const acts = proxyActivities<Activities>(STEP_PROFILES.validate.activity);

/** The local target's endpoint: the ingest API on its default port (DESIGN 8). */
const LOCAL_API_URL = 'http://127.0.0.1:8082';

/**
 * The whole setup of a pipeline as one visible, resumable run: each step is an idempotent
 * activity that looks before it acts; a step that runs out of attempts parks the run in
 * `awaiting-correction` until a person sends `retryStep` (maybe with corrected settings) or
 * `abort`. `mode: 'plan'` runs the same steps read-only and reports create / exists / differs.
 */
export async function provisionPipeline(rawInput: ProvisionInput): Promise<ProvisionResult> {
  const parsed = parseProvisionInput(rawInput);
  if (!parsed.ok) {
    throw ApplicationFailure.nonRetryable(
      `invalid provisionPipeline input: ${parsed.reason}`,
      'InvalidInput',
    );
  }
  let input: ProvisionInput = rawInput;
  let s: ProvisionSettings = parsed.settings;
  const info = workflowInfo();
  const steps = initialSteps(s.maxAttemptsPerStep);
  const stateOf = (step: ProvisionStep) => steps.find((x) => x.step === step)!;
  const outputs: Record<string, string> = {};
  let status: ProvisionStatus = 'running';
  let currentStep: ProvisionStep | undefined;
  let decision: 'retry' | 'abort' | undefined;
  let shownStatus = '';
  let shownStep = '';
  let inventory: Inventory | undefined;
  /** The validate step's look at the topics and bucket before this run changed anything. */
  let preexisting: Preexisting[] | undefined;
  const existedBefore = (kind: Preexisting['kind'], id: string) =>
    preexisting?.find((p) => p.kind === kind && p.id === id)?.exists;

  const progress = (): ProvisionProgress => ({
    pipelineId: s.pipelineId,
    mode: s.mode,
    status,
    ...(currentStep ? { currentStep } : {}),
    steps,
  });

  const publish = () => {
    const heading = `${s.mode === 'plan' ? 'Plan' : 'Provisioning'} of pipeline ${s.pipelineId} (${s.target}, ${s.region}): ${status}`;
    const parked = stateOf(currentStep ?? 'validate');
    const footer =
      status === 'awaiting-correction'
        ? `Parked at **${parked.title}**. Send update \`retryStep\` (optionally \`{"settings":{…}}\`) or \`abort\`; or \`pinpipe provision retry|abort --pipeline ${s.pipelineId}\`.`
        : undefined;
    setCurrentDetails(checklistMarkdown(heading, steps, footer));
    // Search attributes change only when the step or status does: no history churn per attempt.
    if (shownStatus !== status || shownStep !== (currentStep ?? '')) {
      upsertSearchAttributes([
        { key: PipelineId, value: s.pipelineId },
        { key: PipelineStatus, value: status },
        ...(currentStep ? [{ key: PipelineStep, value: currentStep }] : []),
      ]);
      shownStatus = status;
      shownStep = currentStep ?? '';
    }
  };

  setHandler(progressQuery, progress);
  setHandler(
    retryStepUpdate,
    (req) => {
      if (req.settings !== undefined) {
        input = mergeCorrection(input, req.settings) as ProvisionInput;
        const again = parseProvisionInput(input);
        if (again.ok) s = again.settings;
      }
      decision = 'retry';
      return { step: currentStep! };
    },
    {
      validator: (req: RetryStepRequest) => {
        if (status !== 'awaiting-correction') {
          throw new Error(`nothing to retry: the run is ${status}`);
        }
        if (req.step !== undefined && req.step !== currentStep) {
          throw new Error(`the run is parked at ${currentStep}, not ${req.step}`);
        }
        if (req.settings !== undefined) {
          const merged = mergeCorrection(input, req.settings) as { pipelineId?: unknown };
          if (merged.pipelineId !== s.pipelineId) throw new Error('pipelineId cannot be corrected');
          const again = parseProvisionInput(merged);
          if (!again.ok) throw new Error(`invalid correction: ${again.reason}`);
        }
      },
    },
  );
  setHandler(
    abortUpdate,
    () => {
      decision = 'abort';
      return { removing: createdByRun(steps).length };
    },
    {
      validator: () => {
        if (status !== 'awaiting-correction') {
          throw new Error(
            `abort is for a run parked in awaiting-correction; this one is ${status} (cancel it instead)`,
          );
        }
      },
    },
  );

  const mode = () => s.mode;
  /** The client host's API, straight (no proxy in between). */
  const directUrl = () => (outputs.publicIp ? `http://${outputs.publicIp}:8082` : undefined);
  /** Where ingestion is checked: the stage URL on aws, else as set, else direct. */
  const endpointUrl = () =>
    s.target === 'local'
      ? (s.endpoint.url ?? LOCAL_API_URL)
      : (outputs.invokeUrl ?? s.endpoint.url ?? directUrl());
  /** The aws target's brokers: MSK's (read by the kafka-cluster step) or as given. */
  const awsBrokers = () =>
    s.target === 'aws' ? (outputs.kafkaBrokers ?? s.clientHost.kafkaBrokers) : undefined;
  const usesMsk = () => s.target === 'aws' && s.aws.kafka.mode !== 'brokers';

  /** Creates or adopts the cluster, then waits for ACTIVE between durable timers. */
  async function kafkaClusterStep(): Promise<StepResult> {
    const k = s.aws.kafka;
    const r = await call('kafka-cluster', 'ensureKafkaCluster', [
      {
        pipelineId: s.pipelineId,
        mode: mode(),
        kafka:
          k.mode === 'adopt'
            ? { mode: 'adopt', clusterArn: k.clusterArn! }
            : {
                mode: 'create',
                kafkaVersion: k.kafkaVersion,
                brokerCount: k.brokerCount,
                instanceType: k.instanceType,
                volumeGiB: k.volumeGiB,
                ...(k.subnetIds ? { subnetIds: k.subnetIds } : {}),
              },
        ...(outputs.kafkaSecurityGroupId ? { securityGroupId: outputs.kafkaSecurityGroupId } : {}),
        ...(outputs.vpcId ? { vpcId: outputs.vpcId } : {}),
      },
    ]);
    const arn = r.outputs?.clusterArn;
    if (arn === undefined) return r;
    if (mode() === 'plan') {
      // A cluster already ACTIVE tells its servers (a read), so the topics plan can look there.
      if (r.outputs?.clusterState !== 'ACTIVE') return r;
      const { brokers } = await acts.kafkaBootstrapBrokers.executeWithOptions(
        { ...STEP_PROFILES['kafka-cluster'].activity, summary: 'read the bootstrap servers' },
        [{ arn }],
      );
      return { ...r, outputs: { ...r.outputs, kafkaBrokers: brokers } };
    }
    const st = stateOf('kafka-cluster');
    const since = Date.now();
    let state = r.outputs?.clusterState ?? 'CREATING';
    // A worker restart here resumes the timer: the cluster was made (or found) once, above.
    while (state !== 'ACTIVE') {
      const minutes = Math.floor((Date.now() - since) / 60_000);
      if (state === 'FAILED' || state === 'DELETING') {
        throw ApplicationFailure.nonRetryable(
          `MSK cluster ${arn} is ${state}: remove it (pinpipe provision abort) or adopt another`,
          'ClusterUnusable',
        );
      }
      if (minutes >= k.readyTimeoutMinutes) {
        throw ApplicationFailure.nonRetryable(
          `MSK cluster ${arn} is still ${state} after ${minutes} min (aws.kafka.readyTimeoutMinutes ${k.readyTimeoutMinutes})`,
          'ClusterNotReady',
        );
      }
      st.summary = `${arn.split('/')[1] ?? arn} ${state} for ${minutes} min (looked every ${k.pollSeconds} s)`;
      publish();
      await sleep(k.pollSeconds * 1000);
      state = (
        await acts.describeKafkaCluster.executeWithOptions(
          { ...STEP_PROFILES['kafka-cluster'].activity, summary: 'look at the MSK cluster' },
          [{ arn }],
        )
      ).state;
    }
    const { brokers } = await acts.kafkaBootstrapBrokers.executeWithOptions(
      {
        ...STEP_PROFILES['kafka-cluster'].activity,
        summary: 'read the TLS + IAM bootstrap servers',
      },
      [{ arn }],
    );
    const waited = Math.round((Date.now() - since) / 60_000);
    return {
      ...r,
      summary: `${r.summary}; ACTIVE${waited ? ` after ${waited} min` : ''}; brokers ${brokers}`,
      outputs: { ...r.outputs, clusterState: 'ACTIVE', kafkaBrokers: brokers },
    };
  }

  /** The client host's cloud-init: the aws target's config, token secret and services. */
  const userData = () =>
    s.clientHost.userData ??
    clientUserData({
      pipelineId: s.pipelineId,
      region: s.region,
      kafkaBrokers: awsBrokers() ?? s.clientHost.kafkaBrokers,
      kafkaAuth: usesMsk() ? 'aws-msk-iam' : 'none',
      ...(s.target === 'aws'
        ? {
            apiTokenSecret: awsNames(s.pipelineId).apiTokenSecret,
            signingKeySecret: awsNames(s.pipelineId).signingKeySecret,
          }
        : {}),
      ...(s.aws.appSource
        ? { appSource: s.aws.appSource }
        : s.target === 'aws'
          ? { appSource: appObjectUrl(s.bucketName) }
          : {}),
      ...(s.aws.temporalAddress
        ? {
            temporalAddress: s.aws.temporalAddress,
            taskQueue: awsNames(s.pipelineId).hostTaskQueue,
          }
        : {}),
    });
  /** Ingestion runs on the client host's worker when it has one (it reaches the cluster). */
  const ingestionQueue = () =>
    s.target === 'aws' && s.aws.temporalAddress
      ? awsNames(s.pipelineId).hostTaskQueue
      : info.taskQueue;

  const work: Record<ProvisionStep, () => Promise<StepResult> | StepResult> = {
    validate: () =>
      call('validate', 'validateTarget', [
        {
          target: s.target,
          region: s.region,
          bucket: s.bucketName,
          pipelineId: s.pipelineId,
          // The aws target's cluster may not exist yet: its topics are looked at later, there.
          ...(usesMsk() ? { checkKafka: false } : {}),
        },
      ]),
    bucket: () =>
      call('bucket', 'ensureBucket', [
        {
          bucket: s.bucketName,
          encryption: s.bucket.encryption,
          blockPublicAccess: s.bucket.blockPublicAccess,
          mode: mode(),
          pipelineId: s.pipelineId,
          // Unknown (a corrected bucket name the validate step did not look at): left out.
          ...(existedBefore('bucket', s.bucketName) === undefined
            ? {}
            : { existedBeforeRun: existedBefore('bucket', s.bucketName) }),
        },
      ]),
    'security-group': () =>
      call('security-group', 'ensureSecurityGroups', [
        {
          pipelineId: s.pipelineId,
          mode: mode(),
          ...(s.clientHost.subnetId ? { subnetId: s.clientHost.subnetId } : {}),
          apiCidr: s.aws.apiCidr,
          ...(s.aws.sshCidr ? { sshCidr: s.aws.sshCidr } : {}),
          kafkaGroup: s.aws.kafka.mode === 'create',
        },
      ]),
    'kafka-cluster': kafkaClusterStep,
    'api-token': () =>
      call('api-token', 'ensureApiToken', [{ pipelineId: s.pipelineId, mode: mode() }]),
    'key-pair': () =>
      call('key-pair', 'ensureKeyPair', [{ pipelineId: s.pipelineId, mode: mode() }]),
    'iam-role': () =>
      call('iam-role', 'ensureIamRole', [
        {
          pipelineId: s.pipelineId,
          mode: mode(),
          bucket: s.bucketName,
          ...(outputs.clusterArn ? { clusterArn: outputs.clusterArn } : {}),
          secretArns: [outputs.apiTokenSecretArn, outputs.signingKeySecretArn].filter(
            (arn): arn is string => arn !== undefined,
          ),
        },
      ]),
    'api-gateway': () =>
      call('api-gateway', 'ensureRestApi', [
        {
          pipelineId: s.pipelineId,
          mode: mode(),
          region: s.region,
          stage: s.aws.apiGateway.stage,
          ...(directUrl() ? { targetBaseUrl: directUrl()! } : {}),
        },
      ]),
    topics: () =>
      usesMsk() && !outputs.kafkaBrokers
        ? // Plan mode before the cluster is ACTIVE: nothing to look at yet.
          {
            resources: TABLES.map((t) => ({
              kind: 'topic' as const,
              id: topicFor(s.pipelineId, t),
              outcome: 'create' as const,
              detail: `${s.topics.partitions} partitions, on the cluster once it is ACTIVE`,
            })),
            summary: 'on the MSK cluster once it is ACTIVE',
          }
        : call('topics', 'ensureTopics', [
            {
              pipelineId: s.pipelineId,
              ...s.topics,
              mode: mode(),
              ...(usesMsk() && outputs.kafkaBrokers ? { brokers: outputs.kafkaBrokers } : {}),
              // Only where the validate step could look at this Kafka (not the aws target's MSK).
              ...(preexisting && !usesMsk()
                ? {
                    existingBeforeRun: preexisting
                      .filter((p) => p.kind === 'topic' && p.exists)
                      .map((p) => p.id),
                  }
                : {}),
            },
          ]),
    'client-host': () =>
      call('client-host', 'ensureClientHost', [
        {
          pipelineId: s.pipelineId,
          mode: mode(),
          ...(s.clientHost.imageId ? { imageId: s.clientHost.imageId } : {}),
          instanceType: s.clientHost.instanceType,
          ...(s.clientHost.subnetId ? { subnetId: s.clientHost.subnetId } : {}),
          ...(s.clientHost.securityGroupIds || outputs.clientSecurityGroupId
            ? {
                securityGroupIds: [
                  ...(outputs.clientSecurityGroupId ? [outputs.clientSecurityGroupId] : []),
                  ...(s.clientHost.securityGroupIds ?? []),
                ],
              }
            : {}),
          ...((outputs.keyName ?? s.clientHost.keyName)
            ? { keyName: outputs.keyName ?? s.clientHost.keyName }
            : {}),
          ...(outputs.instanceProfile ? { instanceProfile: outputs.instanceProfile } : {}),
          userData: userData(),
          readyTimeoutSeconds: s.clientHost.readyTimeoutSeconds,
          clientToken: `provision-${s.pipelineId}-${info.runId}`,
        },
      ]),
    endpoint: () => {
      const url = endpointUrl();
      if (url === undefined) {
        if (mode() === 'plan') {
          return { resources: [], summary: 'on the client host once it has a public IP' };
        }
        throw ApplicationFailure.nonRetryable(
          'the client host has no public IP: set endpoint.url (e.g. an API Gateway or load balancer URL)',
          'InvalidConfig',
        );
      }
      const fallback = s.target === 'aws' ? (s.endpoint.url ?? directUrl()) : undefined;
      return call('endpoint', 'checkEndpoint', [
        {
          url,
          ...(fallback && fallback !== url ? { fallbackUrl: fallback } : {}),
          // A fresh EC2 host installs Node and the app first: minutes, not seconds.
          readyTimeoutSeconds: s.endpoint.readyTimeoutSeconds ?? (s.target === 'aws' ? 900 : 30),
          mode: mode(),
        },
      ]);
    },
    ingestion: () =>
      call('ingestion', 'ensureIngestion', [
        {
          pipelineId: s.pipelineId,
          taskQueue: ingestionQueue(),
          ...(s.ingestion.maxRecords ? { maxRecords: s.ingestion.maxRecords } : {}),
          ...(s.ingestion.maxBytes ? { maxBytes: s.ingestion.maxBytes } : {}),
          ...(s.ingestion.rotateIntervalMs
            ? { rotateIntervalMs: s.ingestion.rotateIntervalMs }
            : {}),
          mode: mode(),
        },
      ]),
    schedule: () =>
      call('schedule', 'ensureSchedule', [
        {
          pipelineId: s.pipelineId,
          taskQueue: info.taskQueue,
          cron: s.schedule.cron,
          timezone: s.schedule.timezone,
          paused: s.schedule.paused,
          mode: mode(),
        },
      ]),
    inventory: async () => {
      inventory = inventoryFromSteps(steps, {
        pipelineId: s.pipelineId,
        target: s.target,
        region: s.region,
        bucket: s.bucketName,
        recordedBy: `${info.workflowId}/${info.runId}`,
        ...(usesMsk() && outputs.kafkaBrokers ? { kafkaBrokers: outputs.kafkaBrokers } : {}),
      });
      // Merged with the inventory on file: what an earlier run made stays owned on a rerun.
      const r = await call('inventory', 'recordInventory', [
        { bucket: s.bucketName, inventory, merge: true },
      ]);
      if (r.inventory) inventory = r.inventory;
      return r;
    },
  };

  /** One attempt of a step: its activity with the step's own profile and a Web UI summary. */
  function call<
    K extends keyof ProvisionActivities | keyof AwsProvisionActivities | 'recordInventory',
  >(step: ProvisionStep, name: K, args: Parameters<Activities[K]>): Promise<StepResult> {
    const st = stateOf(step);
    const fn = acts[name] as unknown as {
      executeWithOptions(o: object, a: unknown[]): Promise<StepResult>;
    };
    return fn.executeWithOptions(
      {
        ...STEP_PROFILES[step].activity,
        summary: `${st.title} (attempt ${st.attempt}/${st.maxAttempts})`,
      },
      args,
    );
  }

  const skipped = (step: ProvisionStep): string | undefined => {
    if (AWS_ONLY_STEPS.has(step) && s.target !== 'aws') return 'aws target only';
    if (step === 'kafka-cluster' && s.aws.kafka.mode === 'brokers')
      return `aws.kafka.mode brokers: ${s.clientHost.kafkaBrokers}`;
    if (step === 'api-gateway' && !s.aws.apiGateway.enabled)
      return 'aws.apiGateway.enabled is false';
    if (step === 'ingestion' && !s.ingestion.start) return 'ingestion.start is false';
    if (step === 'schedule' && !s.schedule.enabled) return 'schedule.enabled is false';
    if (step === 'inventory' && s.mode === 'plan') return 'plan mode records nothing';
    return undefined;
  };

  /** Attempts a step until it succeeds or runs out; then parks until retryStep or abort. */
  async function runStep(step: ProvisionStep): Promise<'done' | 'abort'> {
    const st = stateOf(step);
    currentStep = step;
    for (;;) {
      st.maxAttempts = s.maxAttemptsPerStep;
      for (let attempt = 1; attempt <= st.maxAttempts; attempt++) {
        st.status = 'running';
        st.attempt = attempt;
        publish();
        try {
          const r = await work[step]();
          Object.assign(outputs, r.outputs ?? {});
          if (r.preexisting) preexisting = r.preexisting;
          st.status = 'done';
          st.summary = r.summary;
          st.resources = r.resources;
          delete st.error;
          publish();
          return 'done';
        } catch (err) {
          if (isCancellation(err)) throw err;
          st.error = rootMessage(err);
          if (isNonRetryable(err) || attempt === st.maxAttempts) break;
          publish();
          await sleep(backoffMs(STEP_PROFILES[step], attempt));
        }
      }
      st.status = 'awaiting-correction';
      status = 'awaiting-correction';
      decision = undefined;
      publish();
      await condition(() => decision !== undefined);
      if (decision === 'abort') return 'abort';
      status = 'running';
    }
  }

  async function abortRun(): Promise<void> {
    status = 'aborting';
    stateOf(currentStep!).status = 'failed';
    publish();
    for (const r of createdByRun(steps)) {
      // What the run created, data included; still proven by its tag or name like teardown's.
      const removal = await acts.removeResource.executeWithOptions(
        { ...STEP_PROFILES.teardown.activity, summary: `abort: remove ${r.kind} ${r.id}` },
        [{ kind: r.kind, id: r.id, pipelineId: s.pipelineId, deleteData: true }],
      );
      const owner = steps.find((x) => x.resources.includes(r));
      if (owner && removal.result !== 'refused') owner.status = 'undone';
      if (owner && removal.result === 'refused') owner.error = removal.reason;
      publish();
    }
    status = 'aborted';
    currentStep = undefined;
    publish();
  }

  publish();
  for (const step of PROVISION_STEPS) {
    const why = skipped(step);
    if (why !== undefined) {
      stateOf(step).status = 'skipped';
      stateOf(step).summary = why;
      continue;
    }
    if ((await runStep(step)) === 'abort') {
      await abortRun();
      return { ...progress(), resources: steps.flatMap((x) => x.resources) };
    }
  }
  status = s.mode === 'plan' ? 'planned' : 'completed';
  currentStep = undefined;
  publish();
  return {
    ...progress(),
    resources: steps.flatMap((x) => x.resources),
    ...(inventory ? { inventory } : {}),
  };
}

function isNonRetryable(err: unknown): boolean {
  let e = err as { nonRetryable?: boolean; cause?: unknown } | undefined;
  while (e) {
    if (e.nonRetryable === true) return true;
    e = e.cause as typeof e;
  }
  return false;
}

import type { Inventory } from './inventory';
import { markdownTable } from './markdown-table';

/**
 * The provisioning steps, their visible state and the resources they record (the inventory
 * teardown works from is built from these: ./inventory.ts). Pure: the workflow keeps this
 * state, the query and the Web UI show it.
 */

export const PROVISION_STEPS = [
  'validate',
  'bucket',
  'security-group',
  'kafka-cluster',
  'topics',
  'api-token',
  'key-pair',
  'iam-role',
  'client-host',
  'api-gateway',
  'endpoint',
  'ingestion',
  'schedule',
  'inventory',
] as const;
export type ProvisionStep = (typeof PROVISION_STEPS)[number];

/** The steps only the aws target runs (the local target shows them as skipped). */
export const AWS_ONLY_STEPS: ReadonlySet<ProvisionStep> = new Set([
  'security-group',
  'kafka-cluster',
  'api-token',
  'key-pair',
  'iam-role',
  'api-gateway',
]);

export function isProvisionStep(value: unknown): value is ProvisionStep {
  return typeof value === 'string' && (PROVISION_STEPS as readonly string[]).includes(value);
}

export const STEP_TITLES: Record<ProvisionStep, string> = {
  validate: 'Validate config and credentials',
  bucket: 'Ensure bucket',
  'security-group': 'Ensure security groups',
  'kafka-cluster': 'Ensure Kafka cluster (MSK)',
  topics: 'Ensure topics',
  'api-token': 'Ensure API token (Secrets Manager)',
  'key-pair': 'Ensure SSH key pair (key in Secrets Manager)',
  'iam-role': 'Ensure IAM role and instance profile',
  'client-host': 'Ensure EC2 client host',
  'api-gateway': 'Ensure API Gateway proxy',
  endpoint: 'Ensure ingest endpoint answers /healthz',
  ingestion: 'Start the ingestion workflows',
  schedule: 'Apply the nightly schedule',
  inventory: 'Record the inventory',
};

/** The aws target's control-plane resources: teardown removes them through the AWS APIs. */
export const AWS_RESOURCE_KINDS = [
  'security-group',
  /** The MSK cluster's own group: kept while the cluster is (teardown treats it as data). */
  'kafka-security-group',
  'kafka-cluster',
  'secret',
  'key-pair',
  'iam-role',
  'instance-profile',
  'rest-api',
] as const;
export type AwsResourceKind = (typeof AWS_RESOURCE_KINDS)[number];

export type ResourceKind =
  'bucket' | 'topic' | 'instance' | 'endpoint' | 'workflow' | 'schedule' | AwsResourceKind;

const awsResourceKinds: ReadonlySet<ResourceKind> = new Set(AWS_RESOURCE_KINDS);

export function isAwsResourceKind(kind: ResourceKind): kind is AwsResourceKind {
  return awsResourceKinds.has(kind);
}

/**
 * What a step found or did to one resource. Apply mode: created / exists / updated.
 * Plan mode: create / exists / differs (nothing is changed).
 */
export type ResourceOutcome = 'created' | 'exists' | 'updated' | 'create' | 'differs';

export interface ResourceRecord {
  kind: ResourceKind;
  /** The resource's own id: bucket name, topic name, instance id, URL, workflow id, schedule id. */
  id: string;
  outcome: ResourceOutcome;
  /** Why it differs, what was updated, or a fact worth showing (partitions, state). */
  detail?: string;
  /** How a person (or teardown) deletes it. Absent for things there is nothing to delete. */
  deleteHow?: string;
  /**
   * Found carrying the pipeline's tag, which pinpipe sets only on what it creates: owned even
   * when found (a rerun after a worker died between creating it and recording it).
   */
  ownedByTag?: boolean;
}

export interface StepResult {
  resources: ResourceRecord[];
  /** One line for the checklist and the activity summary. */
  summary: string;
  /** Facts later steps need (the client host's public IP for the endpoint URL). */
  outputs?: Record<string, string>;
  /**
   * The validate step's look at the pipeline's data resources before the run changes anything:
   * a topic or bucket missing then and there later was made by this run, even when the attempt
   * that made it died before saying so (the next one finds it and would call it adopted).
   */
  preexisting?: Preexisting[];
  /** The inventory step: the inventory as written (merged with the one already on file). */
  inventory?: Inventory;
}

export interface Preexisting {
  kind: 'bucket' | 'topic';
  id: string;
  exists: boolean;
}

export type StepStatus =
  'pending' | 'running' | 'done' | 'failed' | 'awaiting-correction' | 'skipped' | 'undone';

export interface StepState {
  step: ProvisionStep;
  title: string;
  status: StepStatus;
  /** Attempts made so far (1 while the first runs). */
  attempt: number;
  maxAttempts: number;
  summary?: string;
  /** The last error, kept while retrying and when parked. */
  error?: string;
  resources: ResourceRecord[];
}

export function initialSteps(maxAttempts: number): StepState[] {
  return PROVISION_STEPS.map((step) => ({
    step,
    title: STEP_TITLES[step],
    status: 'pending',
    attempt: 0,
    maxAttempts,
    resources: [],
  }));
}

/** Resources this run created (not adopted), newest first: what `abort` removes. */
export function createdByRun(steps: readonly StepState[]): ResourceRecord[] {
  return steps
    .flatMap((s) => s.resources)
    .filter((r) => r.outcome === 'created')
    .reverse();
}

/**
 * Teardown order, the reverse of the dependencies: ingestion first (it writes to the bucket),
 * the proxy before the host it points at, the host before its profile, role and groups, the
 * cluster before its security group, the bucket last.
 */
const TEARDOWN_ORDER: readonly ResourceKind[] = [
  'workflow',
  'schedule',
  'rest-api',
  'instance',
  'endpoint',
  'instance-profile',
  'iam-role',
  'key-pair',
  'secret',
  'topic',
  'kafka-cluster',
  'kafka-security-group',
  'security-group',
  'bucket',
];

export function teardownOrder<T extends { kind: ResourceKind }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => TEARDOWN_ORDER.indexOf(a.kind) - TEARDOWN_ORDER.indexOf(b.kind));
}

/** The checklist mark of each status, shared by the Web UI details and the CLI. */
export const STATUS_MARK: Record<StepStatus, string> = {
  pending: '[ ]',
  running: '[~]',
  done: '[x]',
  failed: '[!]',
  'awaiting-correction': '[?]',
  skipped: '[-]',
  undone: '[u]',
};

/** The Web UI's current details: a markdown checklist, one row per step. */
export function checklistMarkdown(
  heading: string,
  steps: readonly StepState[],
  footer?: string,
): string {
  const rows = steps.map((s) => {
    const attempt = s.attempt === 0 ? '' : `${s.attempt}/${s.maxAttempts}`;
    const result =
      s.status === 'awaiting-correction' || s.status === 'failed'
        ? `**${s.error ?? 'failed'}**`
        : (s.summary ?? (s.status === 'running' && s.error ? `retrying: ${s.error}` : ''));
    return [STATUS_MARK[s.status], s.title, s.status, attempt, result];
  });
  return [
    `### ${heading}`,
    '',
    markdownTable(['', 'step', 'status', 'attempt', 'result'], rows),
    ...(footer ? ['', footer] : []),
  ].join('\n');
}

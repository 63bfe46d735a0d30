/**
 * The inventory: what provisioning recorded of a pipeline, kept in the pipeline's bucket, and
 * what teardown works from. It is a file anyone with write access to the bucket can edit, so
 * teardown treats it as a list of candidates, never as proof: the schema below rejects a file
 * that is not an inventory, whether a resource holds data follows from its kind (not from the
 * file), and each removal first checks the resource's own tag or name (ownership proofs below).
 * Pure: the activities read and write the file, the workflows plan with these functions.
 */

import { z } from 'zod';
import type { ResourceKind, StepState } from './provision-steps';
import { PIPELINE_ID_PATTERN, TABLES, bucketFor, topicFor } from './tables';
import { ingestWorkflowId, nightlyScheduleId } from './workflow-ids';
import { awsNames } from './aws-resources';
import { formatZodIssues } from './zod-messages';

/** Where the inventory lives: in the pipeline's own bucket, next to the data it describes. */
export const INVENTORY_KEY = '_pinpipe/inventory.json';

/** Larger than any inventory pinpipe writes by orders of magnitude; a bigger file is refused. */
export const INVENTORY_MAX_BYTES = 1024 * 1024;

/** The tag pinpipe puts on what it creates (client hosts, buckets) and teardown requires. */
export const PIPELINE_TAG = 'pinpipe:pipeline';

export interface InventoryEntry {
  kind: ResourceKind;
  /** The resource's own id: bucket name, topic name, instance id, workflow id, schedule id. */
  id: string;
  /** How a person deletes it (informative: teardown never reads it). */
  deleteHow?: string;
}

/** The inventory as provisioning writes it. */
export interface Inventory {
  version: 2;
  pipelineId: string;
  target: 'local' | 'aws';
  region: string;
  bucket: string;
  /** The workflow run that last recorded it. */
  recordedBy: string;
  /** The aws target's MSK bootstrap servers (TLS + IAM): where its topics live. */
  kafkaBrokers?: string;
  /** Created by pinpipe for this pipeline (by this run or an earlier one): teardown removes these. */
  owned: InventoryEntry[];
  /** There before provisioning and used as found: teardown leaves these unless named. */
  adopted: InventoryEntry[];
}

/**
 * The first form (no `version`): one `resources` list that did not tell created from adopted.
 * `holdsData` is read only to replay teardowns that started before the second form.
 */
export interface LegacyInventory {
  pipelineId: string;
  target: 'local' | 'aws';
  region: string;
  bucket: string;
  recordedBy: string;
  resources: Array<InventoryEntry & { holdsData?: boolean }>;
}

export type StoredInventory = Inventory | LegacyInventory;

// The cluster's security group goes with the cluster: removing it alone would fail (in use).
const DATA_KINDS: ReadonlySet<ResourceKind> = new Set([
  'bucket',
  'topic',
  'kafka-cluster',
  'kafka-security-group',
]);

/** Topics, buckets and Kafka clusters hold data: teardown removes them only with `deleteData`. By kind, always. */
export function holdsData(kind: ResourceKind): boolean {
  return DATA_KINDS.has(kind);
}

// ---------------------------------------------------------------------------------------------
// The schema. Ids are checked per kind so a typo or a stray value fails with the field named.

const S3_BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Temporal ids: any text, but a line of it; no control characters. */
const TEMPORAL_ID = /^[^\p{Cc}]{1,1000}$/u;

const deleteHow = z.string().max(2000).optional();

/** One entry per kind, each with the id form of its kind, plus `extra` fields. */
function entrySchemaWith<T extends z.ZodRawShape>(extra: T) {
  return z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('bucket'),
      id: z.string().regex(S3_BUCKET_NAME, 'expected an S3 bucket name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('topic'),
      id: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'expected a Kafka topic name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('instance'),
      id: z.string().regex(/^i-[0-9a-f]{8,17}$/, 'expected an EC2 instance id (i-…)'),
      deleteHow,
      ...extra,
    }),
    z.object({ kind: z.literal('endpoint'), id: z.string().min(1).max(2048), deleteHow, ...extra }),
    z.object({
      kind: z.literal('security-group'),
      id: z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group id (sg-…)'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('kafka-security-group'),
      id: z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group id (sg-…)'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('kafka-cluster'),
      id: z
        .string()
        .regex(
          /^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/\S+$/,
          'expected an MSK cluster ARN',
        ),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('secret'),
      id: z.string().regex(/^[\w/+=.@-]{1,512}$/, 'expected a secret name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('key-pair'),
      id: z.string().regex(/^[\w.-]{1,255}$/, 'expected a key pair name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('iam-role'),
      id: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'expected an IAM role name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('instance-profile'),
      id: z.string().regex(/^[\w+=,.@-]{1,128}$/, 'expected an instance profile name'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('rest-api'),
      id: z.string().regex(/^[a-z0-9]{1,32}$/, 'expected a REST API id'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('workflow'),
      id: z.string().regex(TEMPORAL_ID, 'expected a workflow id'),
      deleteHow,
      ...extra,
    }),
    z.object({
      kind: z.literal('schedule'),
      id: z.string().regex(TEMPORAL_ID, 'expected a schedule id'),
      deleteHow,
      ...extra,
    }),
  ]);
}

// Unknown keys (a holdsData added by hand to the second form, say) are dropped, never trusted.
const entrySchema = entrySchemaWith({});
// The first form's entries carried holdsData (kept only to replay teardowns begun before).
const legacyEntrySchema = entrySchemaWith({ holdsData: z.boolean().optional() });

const header = {
  pipelineId: z.string().regex(PIPELINE_ID_PATTERN, 'expected 12 lowercase hex characters'),
  target: z.enum(['local', 'aws']),
  region: z.string().min(1).max(64),
  bucket: z.string().regex(S3_BUCKET_NAME, 'expected an S3 bucket name'),
  recordedBy: z.string().max(2000),
  kafkaBrokers: z
    .string()
    .regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, 'expected host:port[,host:port…]')
    .optional(),
};

const inventorySchema = z.object({
  version: z.literal(2),
  ...header,
  owned: z.array(entrySchema).max(1000),
  adopted: z.array(entrySchema).max(1000),
});

const legacyInventorySchema = z.object({
  ...header,
  resources: z.array(legacyEntrySchema).max(1000),
});

export type ParsedInventory =
  { ok: true; inventory: StoredInventory } | { ok: false; reason: string };

/** Validates a file's parsed JSON; the reason names every bad field. */
export function parseInventory(raw: unknown): ParsedInventory {
  const legacy = isObject(raw) && !('version' in raw);
  const parsed = legacy ? legacyInventorySchema.safeParse(raw) : inventorySchema.safeParse(raw);
  if (parsed.success) return { ok: true, inventory: parsed.data };
  return {
    ok: false,
    reason: formatZodIssues(parsed.error.issues, { root: 'inventory', limit: 10 }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isLegacy(inventory: StoredInventory): inventory is LegacyInventory {
  return !('version' in inventory);
}

/**
 * Owned and adopted, whatever the form. The first form did not record who created a topic or
 * the bucket, so its data resources count as adopted: removing them takes naming them.
 */
export function ownershipOf(inventory: StoredInventory | null): {
  owned: InventoryEntry[];
  adopted: InventoryEntry[];
} {
  if (inventory === null) return { owned: [], adopted: [] };
  if (!isLegacy(inventory)) {
    return { owned: inventory.owned ?? [], adopted: inventory.adopted ?? [] };
  }
  const strip = ({ kind, id, deleteHow }: InventoryEntry): InventoryEntry => ({
    kind,
    id,
    ...(deleteHow !== undefined ? { deleteHow } : {}),
  });
  const entries = (inventory.resources ?? []).map(strip);
  return {
    owned: entries.filter((e) => !holdsData(e.kind)),
    adopted: entries.filter((e) => holdsData(e.kind)),
  };
}

// ---------------------------------------------------------------------------------------------
// Recording: owned only what pinpipe created, adopted apart.

export type InventoryHeader = Omit<Inventory, 'version' | 'owned' | 'adopted'>;

const key = (e: { kind: string; id: string }) => `${e.kind}:${e.id}`;

/** How a person removes an adopted resource (teardown leaves it unless named). */
export function adoptedDeleteHow(id: string): string {
  return `pinpipe teardown --delete-data --include-adopted ${id}`;
}

/**
 * The inventory of a provisioning run. A topic or bucket the run found already there is
 * adopted (the run reports `created` also for one an earlier attempt of the same run made:
 * the validate step saw it missing). The pipeline's client host, ingestion workflows and
 * schedule carry pinpipe's tags or ids, which nothing else makes, so they are owned.
 */
export function inventoryFromSteps(steps: readonly StepState[], head: InventoryHeader): Inventory {
  const seen = new Set<string>();
  const owned: InventoryEntry[] = [];
  const adopted: InventoryEntry[] = [];
  for (const s of steps) {
    for (const r of s.resources) {
      if (r.deleteHow === undefined || seen.has(key(r))) continue;
      seen.add(key(r));
      if (holdsData(r.kind) && r.outcome !== 'created' && r.ownedByTag !== true) {
        adopted.push({ kind: r.kind, id: r.id, deleteHow: adoptedDeleteHow(r.id) });
      } else {
        owned.push({ kind: r.kind, id: r.id, deleteHow: r.deleteHow });
      }
    }
  }
  return { version: 2, ...head, owned, adopted };
}

/**
 * A rerun finds what the first run created and reports it `exists`: it stays owned when the
 * inventory already on file says so (second form only: the first never said), or, for a bucket,
 * when it carries the pipeline tag pinpipe sets only on buckets it creates.
 */
export function mergeWithPrior(
  next: Inventory,
  prior: StoredInventory | null,
  taggedBuckets: ReadonlySet<string>,
): Inventory {
  const ownedBefore = new Set(
    prior !== null && !isLegacy(prior) ? ownershipOf(prior).owned.map(key) : [],
  );
  const stillOwned = (e: InventoryEntry) =>
    ownedBefore.has(key(e)) || (e.kind === 'bucket' && taggedBuckets.has(e.id));
  const promoted = next.adopted.filter(stillOwned).map((e) => ({
    ...e,
    deleteHow: ownedDeleteHow(e),
  }));
  return {
    ...next,
    owned: [...next.owned, ...promoted],
    adopted: next.adopted.filter((e) => !stillOwned(e)),
  };
}

function ownedDeleteHow(e: InventoryEntry): string {
  return e.kind === 'bucket'
    ? `pinpipe teardown --delete-data (empties and deletes s3://${e.id})`
    : `pinpipe teardown --delete-data (deletes topic ${e.id})`;
}

// ---------------------------------------------------------------------------------------------
// Ownership proofs: what the resource itself says, checked just before removing it.

const notOurs = "not this pipeline's, left alone";

/**
 * Why a resource named in the inventory is not the pipeline's, from its id alone; undefined
 * when the name proves it (or, for an instance and a bucket under another name, when only its
 * tags can tell: see refusalByTags).
 */
export function refusalByName(
  kind: ResourceKind,
  id: string,
  pipelineId: string,
): string | undefined {
  switch (kind) {
    case 'topic': {
      const own = TABLES.map((t) => topicFor(pipelineId, t));
      return own.includes(id)
        ? undefined
        : `topic ${id} is not named ${pipelineId}.<table> (${own.join(', ')}): ${notOurs}`;
    }
    case 'workflow': {
      const own = TABLES.map((t) => ingestWorkflowId(pipelineId, t));
      return own.includes(id)
        ? undefined
        : `workflow ${id} is not one of the pipeline's ingestion workflows (${own.join(', ')}): ${notOurs}`;
    }
    case 'schedule':
      return id === nightlyScheduleId(pipelineId)
        ? undefined
        : `schedule ${id} is not the pipeline's nightly schedule (${nightlyScheduleId(pipelineId)}): ${notOurs}`;
    case 'secret':
    case 'key-pair':
    case 'iam-role':
    case 'instance-profile': {
      // Named by pinpipe (aws-resources.ts): any other name is not the pipeline's.
      const names = awsNames(pipelineId);
      const own = {
        secret: [names.apiTokenSecret, names.signingKeySecret, names.sshKeySecret],
        'key-pair': [names.keyPair],
        'iam-role': [names.role],
        'instance-profile': [names.instanceProfile],
      }[kind];
      return own.includes(id)
        ? undefined
        : `${kind} ${id} is not named ${own.join(' or ')}: ${notOurs}`;
    }
    case 'bucket':
    case 'instance':
    case 'endpoint':
    case 'security-group':
    case 'kafka-security-group':
    case 'kafka-cluster':
    case 'rest-api':
      return undefined;
  }
}

/** True when the bucket's name alone proves it is the pipeline's. */
export function bucketNamedFor(pipelineId: string, bucket: string): boolean {
  return bucket === bucketFor(pipelineId);
}

/** Why an instance or a bucket is not the pipeline's, from its tags; undefined when it is. */
export function refusalByTags(
  kind: ResourceKind,
  id: string,
  pipelineId: string,
  tags: Readonly<Record<string, string>>,
): string | undefined {
  const tag = tags[PIPELINE_TAG];
  if (tag === pipelineId) return undefined;
  const has =
    tag === undefined ? `it has no ${PIPELINE_TAG} tag` : `it is tagged ${PIPELINE_TAG}=${tag}`;
  return kind !== 'bucket'
    ? `${kind} ${id} does not carry the tag ${PIPELINE_TAG}=${pipelineId} (${has}): ${notOurs}`
    : `bucket ${id} is neither named ${bucketFor(pipelineId)} nor tagged ${PIPELINE_TAG}=${pipelineId} (${has}): ${notOurs}`;
}

// ---------------------------------------------------------------------------------------------
// Teardown's plan.

export interface TeardownPlan {
  /** Owned (and named adopted) resources to remove, each still to be proven. Inventory order. */
  remove: InventoryEntry[];
  /** Hold data and `deleteData` was not set: they stay, and stay on record. */
  kept: InventoryEntry[];
  /** Adopted and not removed (not named, or named but holding data without `deleteData`). */
  adopted: InventoryEntry[];
  /** Names given that the inventory does not hold at all. */
  unmatched: string[];
}

/** `name` is a resource's id, or `<kind>:<id>` where two kinds share an id. */
export function planTeardown(
  inventory: { owned: readonly InventoryEntry[]; adopted: readonly InventoryEntry[] },
  options: { deleteData: boolean; includeAdopted: readonly string[] },
): TeardownPlan {
  const named = new Set(options.includeAdopted);
  const isNamed = (e: InventoryEntry) => named.has(e.id) || named.has(key(e));
  const plan: TeardownPlan = { remove: [], kept: [], adopted: [], unmatched: [] };
  for (const e of inventory.owned) {
    if (holdsData(e.kind) && !options.deleteData) plan.kept.push(e);
    else plan.remove.push(e);
  }
  for (const e of inventory.adopted) {
    if (isNamed(e) && (!holdsData(e.kind) || options.deleteData)) plan.remove.push(e);
    else plan.adopted.push(e);
  }
  const all = [...inventory.owned, ...inventory.adopted];
  plan.unmatched = [...named].filter((n) => !all.some((e) => e.id === n || key(e) === n));
  return plan;
}

/** What stays on record after a teardown: kept data as owned, adopted as adopted. */
export function remainingInventory(
  inventory: StoredInventory,
  plan: Pick<TeardownPlan, 'kept' | 'adopted'>,
): Inventory {
  const { pipelineId, target, region, bucket, recordedBy } = inventory;
  return {
    version: 2,
    pipelineId,
    target,
    region,
    bucket,
    recordedBy,
    owned: plan.kept,
    adopted: plan.adopted,
  };
}

import type { Table } from './tables';

/**
 * Workflow and schedule ids, one place: the CLI, the activities that start or stop workflows,
 * and the README's `temporal workflow start` examples all name the same runs.
 */

/** A table's long-running ingestion workflow. */
export const ingestWorkflowId = (pipelineId: string, table: Table) =>
  `ingest-${pipelineId}-${table}`;

/**
 * The Kafka consumer group of a topic's ingestion: the workflow copies its offset ledger there,
 * so standard lag tools see progress (the ledger stays the source of truth). The aws target's
 * IAM policy grants `pinpipe-sink-<pipelineId>.*` (./aws-resources.ts).
 */
export const ingestGroupId = (topic: string) => `pinpipe-sink-${topic}`;

/** The nightly schedule of a pipeline. */
export const nightlyScheduleId = (pipelineId: string) => `nightly-${pipelineId}`;

/** One day's nightly batch started by hand (`pinpipe nightly run`, the demo). */
export const nightlyRunId = (pipelineId: string, date: string) => `nightly-${pipelineId}-${date}`;

export const provisionWorkflowId = (pipelineId: string) => `provision-${pipelineId}`;

/** A plan runs under its own id, so it never collides with (or reuses) an apply run. */
export const planWorkflowId = (pipelineId: string) => `plan-${pipelineId}`;

export const teardownWorkflowId = (pipelineId: string) => `teardown-${pipelineId}`;

/**
 * The companion task queue of the nightly's shards. Every worker process polls it with as many
 * slots as it has cores, so a worker takes only the shards it can run now and leaves the rest to
 * the others (on the main queue, long-running sink activities hold slots of their own).
 */
export const shardTaskQueue = (taskQueue: string) => `${taskQueue}-shards`;

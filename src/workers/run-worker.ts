import { availableParallelism } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { duckDbS3OptionsFrom } from '../activities/analytics-activities';
import { createAdapters, type Adapters } from '../adapters/create-adapters';
import { bucketFor } from '../domain/tables';
import { shardTaskQueue } from '../domain/workflow-ids';
import { TemporalControl } from '../adapters/temporal-control';
import type { Config } from '../config';
import type { ObjectStore } from '../ports/object-store';
import { createActivities } from './create-activities';

export type Activities = ReturnType<typeof createActivities>;

export interface RunWorkerOptions {
  /** Called once the worker polls (the line operators and tests wait for). */
  onReady?: (message: string) => void;
  /** Lets a test wrap activities (e.g. a fault worker); production passes none. */
  wrapActivities?: (activities: Activities) => Activities;
  /** Lets a test adjust the adapters before activities are built (e.g. a double); production passes none. */
  adaptAdapters?: (adapters: Adapters) => Adapters;
  /** Lines worth an operator's eye before the ready line (the conditional-write probe). */
  log?: (message: string) => void;
}

/**
 * The S3 endpoint does not honour `If-None-Match: *` (ignores or refuses it): the sink's
 * exactly-once cannot hold, and no restart will change that. The worker exits 2, like bad config.
 */
export class ConditionalWritesUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConditionalWritesUnsupportedError';
  }
}

/**
 * Proves the S3 endpoint honours conditional writes before the worker takes any task, in the
 * configured pipeline's bucket. Only a verdict stops the start: a bucket that does not exist yet
 * (provisioning creates it) or a server that does not answer now is reported, and the sink
 * proves each bucket again before its first write anyway. There is deliberately no switch to
 * skip this: a server that ignores the header silently stores records twice.
 */
export async function checkConditionalWritesAtStart(
  store: Pick<ObjectStore, 'bucketExists' | 'probeConditionalWrites'>,
  bucket: string,
  log: (message: string) => void = () => undefined,
): Promise<void> {
  const later = 'the sink proves them in each bucket before its first write';
  let exists: boolean;
  try {
    exists = await store.bucketExists(bucket);
  } catch (err) {
    log(`conditional writes not probed at start (S3 did not answer: ${String(err)}); ${later}`);
    return;
  }
  if (!exists) {
    log(`conditional writes not probed at start (bucket ${bucket} does not exist yet); ${later}`);
    return;
  }
  const verdict = await store.probeConditionalWrites(bucket);
  if (verdict.support === 'supported') {
    log(`S3 endpoint ${verdict.endpoint}: conditional writes proven in bucket ${bucket}`);
  } else if (verdict.support === 'error') {
    log(`${verdict.message}; ${later}`);
  } else {
    throw new ConditionalWritesUnsupportedError(verdict.message);
  }
}

/**
 * Config → clients → activities → Worker on the configured queue, until SIGINT/SIGTERM (the
 * SDK drains and returns). The Runtime (logging, metrics) is the caller's to install first.
 */
export async function runWorker(config: Config, options: RunWorkerOptions = {}): Promise<void> {
  const connection = await NativeConnection.connect(config.temporal.connect.connectionOptions);
  // Provisioning starts the ingestion workflows and applies the schedule: a client of its own.
  const clientConnection = await Connection.connect(config.temporal.connect.connectionOptions);
  const control = new TemporalControl(
    new Client({ connection: clientConnection, namespace: config.temporal.namespace }),
  );
  const created = createAdapters(config);
  const adapters = options.adaptAdapters ? options.adaptAdapters(created) : created;
  try {
    await checkConditionalWritesAtStart(adapters.store, bucketFor(config.pipelineId), options.log);
    const activities = createActivities({
      ...adapters,
      control,
      duckdb: duckDbS3OptionsFrom(config),
    });
    const served = options.wrapActivities ? options.wrapActivities(activities) : activities;
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: served,
      shutdownGraceTime: '10 seconds',
    });
    // The nightly's shards, on their companion queue: one slot per core, so this process takes
    // only the shards it can run now and every other worker on the queue gets the rest.
    const shardWorker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: shardTaskQueue(config.temporal.taskQueue),
      activities: {
        cleanShard: (input: Parameters<typeof served.cleanShard>[0]) => served.cleanShard(input),
      },
      maxConcurrentActivityTaskExecutions: Math.max(1, availableParallelism()),
      shutdownGraceTime: '10 seconds',
    });
    options.onReady?.(
      `pinpipe worker: task queue ${config.temporal.taskQueue} on ${config.temporal.connect.connectionOptions.address} ` +
        `(namespace ${config.temporal.namespace}); metrics on http://127.0.0.1:${config.metrics.port}/metrics`,
    );
    // Both run until SIGINT/SIGTERM; if one stops on its own, the other is stopped too.
    const stop = (w: Worker) => () => {
      if (w.getState() === 'RUNNING') w.shutdown();
    };
    await Promise.all([
      worker.run().finally(stop(shardWorker)),
      shardWorker.run().finally(stop(worker)),
    ]);
  } finally {
    await adapters.close();
    await clientConnection.close();
    await connection.close();
  }
}

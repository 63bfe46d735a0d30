import { availableParallelism } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { duckDbS3OptionsFrom } from '../activities/analytics-activities';
import { createAdapters } from '../adapters/create-adapters';
import { shardTaskQueue } from '../domain/workflow-ids';
import { TemporalControl } from '../adapters/temporal-control';
import type { Config } from '../config';
import { createActivities } from './create-activities';

export type Activities = ReturnType<typeof createActivities>;

export interface RunWorkerOptions {
  /** Called once the worker polls (the line operators and tests wait for). */
  onReady?: (message: string) => void;
  /** Lets a test wrap activities (e.g. a fault worker); production passes none. */
  wrapActivities?: (activities: Activities) => Activities;
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
  const adapters = createAdapters(config);
  try {
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

import '../quiet-warnings';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createAdapters } from '../adapters/create-adapters';
import { TemporalControl } from '../adapters/temporal-control';
import { ConfigError, loadConfig } from '../config';
import { createActivities } from './create-activities';

/**
 * The worker composition root: config → clients → activities → Worker on the `pinpipe` queue.
 * Worker.run() drains and exits on SIGINT/SIGTERM; Prometheus metrics are served by the SDK.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${config.metrics.port}` } },
    },
  });
  const connection = await NativeConnection.connect(config.temporal.connect.connectionOptions);
  // Provisioning starts the ingestion workflows and applies the schedule: a client of its own.
  const clientConnection = await Connection.connect(config.temporal.connect.connectionOptions);
  const control = new TemporalControl(
    new Client({ connection: clientConnection, namespace: config.temporal.namespace }),
  );
  const adapters = createAdapters(config);
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: createActivities({ ...adapters, control }),
      shutdownGraceTime: '10 seconds',
    });
    console.log(
      `pinpipe worker: task queue ${config.temporal.taskQueue} on ${config.temporal.connect.connectionOptions.address} ` +
        `(namespace ${config.temporal.namespace}); metrics on http://127.0.0.1:${config.metrics.port}/metrics`,
    );
    await worker.run();
  } finally {
    await adapters.close();
    await clientConnection.close();
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`pinpipe worker: ${err.message}`);
      process.exit(2);
    }
    console.error('pinpipe worker failed:', err);
    process.exit(1);
  },
);

import '../quiet-warnings';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../config';
import { ConditionalWritesUnsupportedError, runWorker } from './run-worker';

/**
 * The worker composition root: config, the SDK runtime (logging, Prometheus metrics), then the
 * worker on the `pinpipe` queue until SIGINT/SIGTERM.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${config.metrics.port}` } },
    },
  });
  await runWorker(config, {
    onReady: (message) => console.log(message),
    log: (message) => console.log(`pinpipe worker: ${message}`),
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    // Both are the environment's to fix: exit 2, which a supervisor should not restart into.
    if (err instanceof ConfigError || err instanceof ConditionalWritesUnsupportedError) {
      console.error(`pinpipe worker: ${err.message}`);
      process.exit(2);
    }
    console.error('pinpipe worker failed:', err);
    process.exit(1);
  },
);

import '../quiet-warnings';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../config';
import { runWorker } from './run-worker';

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
  await runWorker(config, { onReady: (message) => console.log(message) });
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

import '../quiet-warnings';
import { createAdapters } from '../adapters/create-adapters';
import { apiListenProblem, ConfigError, loadConfig } from '../config';
import { createIngestServer } from './server';

/**
 * The ingest API composition root: config → Kafka adapter → HTTP server (127.0.0.1 unless PINPIPE_API_HOST says otherwise).
 * SIGINT/SIGTERM: stop accepting, let in-flight requests finish, disconnect Kafka, exit 0.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const refused = apiListenProblem(config.api);
  if (refused) throw new ConfigError([refused]);
  const adapters = createAdapters(config);
  const api = createIngestServer({
    kafka: adapters.kafka,
    pipelines: config.api.pipelines,
    ...(config.api.token ? { token: config.api.token } : {}),
    log: (line) => console.error(`pinpipe api: ${line}`),
  });
  let address;
  try {
    address = await api.listen(config.api.port, config.api.host);
  } catch (err) {
    await adapters.close();
    throw err;
  }
  console.log(
    `pinpipe api: listening on http://${address.address}:${address.port} ` +
      `(Kafka ${config.kafka.brokers.join(',')}; auth ${config.api.token ? 'bearer token' : 'off'}; ` +
      `pipelines ${config.api.pipelines.join(',')})`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log(`pinpipe api: ${signal}: draining in-flight requests`);
  // A second signal means "now": skip the drain.
  const force = () => process.exit(1);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await api.close();
  await adapters.close();
  console.log('pinpipe api: stopped');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(`pinpipe api: ${err.message}`);
      process.exit(2);
    }
    console.error('pinpipe api failed:', err);
    process.exit(1);
  },
);

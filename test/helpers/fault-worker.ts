import '../../src/quiet-warnings';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createAdapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { loadConfig } from '../../src/config';
import { createActivities } from '../../src/workers/create-activities';

/**
 * A real worker, wired exactly like src/workers/main.ts, that SIGKILLs itself while the activity
 * named by PINPIPE_FAULT_ACTIVITY runs: a random 0–PINPIPE_FAULT_MAX_DELAY_MS after it starts, or
 * at the latest just before its result would be reported. So the kill lands inside that step every
 * time (a poll of the workflow from outside can miss a step that takes 100 ms), its side effects
 * may have happened, and the step must be retried by the next worker.
 */
async function main(): Promise<void> {
  const target = process.env['PINPIPE_FAULT_ACTIVITY'];
  const maxDelayMs = Number(process.env['PINPIPE_FAULT_MAX_DELAY_MS'] ?? '50');
  const config = loadConfig(process.env);
  Runtime.install({
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  const connection = await NativeConnection.connect(config.temporal.connect.connectionOptions);
  const clientConnection = await Connection.connect(config.temporal.connect.connectionOptions);
  const control = new TemporalControl(
    new Client({ connection: clientConnection, namespace: config.temporal.namespace }),
  );
  const activities: Record<string, (...args: never[]) => Promise<unknown>> = createActivities({
    ...createAdapters(config),
    control,
  });
  const real = target ? activities[target] : undefined;
  if (target && !real) throw new Error(`no activity named ${target}`);
  if (target && real) {
    const die = () => process.kill(process.pid, 'SIGKILL');
    activities[target] = async (...args: never[]) => {
      console.log(`fault-worker: ${target} started; SIGKILL follows`);
      setTimeout(die, Math.floor(Math.random() * maxDelayMs));
      await real(...args).catch(() => undefined);
      die();
      return undefined;
    };
  }
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../../src/workflows'),
    activities,
  });
  console.log(
    `pinpipe worker: task queue ${config.temporal.taskQueue} (fault: ${target ?? 'none'})`,
  );
  await worker.run();
}

main().catch((err: unknown) => {
  console.error('fault-worker failed:', err);
  process.exit(1);
});

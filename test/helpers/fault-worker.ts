import '../../src/quiet-warnings';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { runWorker, type Activities } from '../../src/workers/run-worker';

/**
 * The real worker (src/workers/run-worker.ts) with one change: it SIGKILLs itself while the
 * activity named by PINPIPE_FAULT_ACTIVITY runs: a random 0–PINPIPE_FAULT_MAX_DELAY_MS after it
 * starts, or at the latest just before its result would be reported. So the kill lands inside
 * that step every time (a poll of the workflow from outside can miss a step that takes 100 ms),
 * its side effects may have happened, and the step must be retried by the next worker.
 */
function killDuring(target: string, maxDelayMs: number) {
  return (activities: Activities): Activities => {
    const all = activities as unknown as Record<string, (...args: never[]) => Promise<unknown>>;
    const real = all[target];
    if (!real) throw new Error(`no activity named ${target}`);
    const die = () => process.kill(process.pid, 'SIGKILL');
    return {
      ...activities,
      [target]: async (...args: never[]) => {
        console.log(`fault-worker: ${target} started; SIGKILL follows`);
        setTimeout(die, Math.floor(Math.random() * maxDelayMs));
        await real(...args).catch(() => undefined);
        die();
      },
    };
  };
}

async function main(): Promise<void> {
  const target = process.env['PINPIPE_FAULT_ACTIVITY'];
  const maxDelayMs = Number(process.env['PINPIPE_FAULT_MAX_DELAY_MS'] ?? '50');
  const config = loadConfig(process.env);
  Runtime.install({
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  await runWorker(config, {
    onReady: (message) => console.log(`${message} (fault: ${target ?? 'none'})`),
    ...(target ? { wrapActivities: killDuring(target, maxDelayMs) } : {}),
  });
}

main().catch((err: unknown) => {
  console.error('fault-worker failed:', err);
  process.exit(1);
});

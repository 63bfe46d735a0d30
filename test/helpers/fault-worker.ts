import '../../src/quiet-warnings';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Adapters } from '../../src/adapters/create-adapters';
import { loadConfig } from '../../src/config';
import { runWorker, type Activities } from '../../src/workers/run-worker';
import { MotoMskWithActivation, secureBrokers, secureKafkaAt } from './aws-target';

/**
 * The real worker (src/workers/run-worker.ts) with one change: it SIGKILLs itself while the
 * activity named by PINPIPE_FAULT_ACTIVITY runs: a random 0–PINPIPE_FAULT_MAX_DELAY_MS after it
 * starts, or at the latest just before its result would be reported. So the kill lands inside
 * that step every time (a poll of the workflow from outside can miss a step that takes 100 ms),
 * its side effects may have happened, and the step must be retried by the next worker.
 *
 * PINPIPE_FAULT_AFTER_CALL (e.g. `aws.network.createKeyPair`, `ec2.runInstance`) places the kill
 * instead: right after that adapter call returns inside the activity (the thing exists, the
 * activity never learns it did), or at the latest just before its result would be reported.
 *
 * PINPIPE_TEST_MSK_DOUBLE=1 gives the worker the aws target's test doubles (as the in-process
 * tests use them): MotoMskWithActivation (ACTIVE after PINPIPE_TEST_MSK_ACTIVE_AFTER_LOOKS looks,
 * default 3; bootstrap servers = the stack's SASL_SSL listener) and secureKafkaAt.
 */

/** Set when the target activity starts; the process dies before it could end. */
let inTarget = 0;
const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

function killDuring(target: string, maxDelayMs: number | undefined) {
  return (activities: Activities): Activities => {
    const all = activities as unknown as Record<string, (...args: never[]) => Promise<unknown>>;
    const real = all[target];
    if (!real) throw new Error(`no activity named ${target}`);
    return {
      ...activities,
      [target]: async (...args: never[]) => {
        console.log(`fault-worker: ${target} started; SIGKILL follows`);
        inTarget++;
        if (maxDelayMs !== undefined) setTimeout(die, Math.floor(Math.random() * maxDelayMs));
        await real(...args).catch(() => undefined);
        die();
      },
    };
  };
}

/** `aws.network.createKeyPair` → a copy of the adapters whose call SIGKILLs right after it returns. */
function killAfterCall(path: string) {
  // Plain objects are copied, adapter instances shadowed: the real ones stay as they were.
  const shadow = (o: object): Record<string, unknown> =>
    (Object.getPrototypeOf(o) === Object.prototype ? { ...o } : Object.create(o)) as Record<
      string,
      unknown
    >;
  return (adapters: Adapters): Adapters => {
    const parts = path.split('.');
    const method = parts.pop()!;
    const root = shadow(adapters);
    let parent = root;
    for (const p of parts) {
      const child = parent[p];
      if (typeof child !== 'object' || child === null) throw new Error(`no adapter ${path}`);
      parent = parent[p] = shadow(child);
    }
    const real = parent[method];
    if (typeof real !== 'function') throw new Error(`no adapter call ${path}`);
    const self = parent;
    self[method] = async (...args: unknown[]) => {
      const out: unknown = await (real as (...a: unknown[]) => Promise<unknown>).apply(self, args);
      if (inTarget > 0) {
        console.log(`fault-worker: ${path} returned; SIGKILL now`);
        die();
      }
      return out;
    };
    return root as unknown as Adapters;
  };
}

function withMskDouble(activeAfterLooks: number) {
  return (adapters: Adapters): Adapters => ({
    ...adapters,
    aws: {
      ...adapters.aws,
      msk: new MotoMskWithActivation(adapters.aws.msk, secureBrokers(), activeAfterLooks),
    },
    kafkaAt: secureKafkaAt,
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const target = env['PINPIPE_FAULT_ACTIVITY'];
  const afterCall = env['PINPIPE_FAULT_AFTER_CALL'];
  const maxDelayMs = afterCall ? undefined : Number(env['PINPIPE_FAULT_MAX_DELAY_MS'] ?? '50');
  const adapt: Array<(a: Adapters) => Adapters> = [];
  if (env['PINPIPE_TEST_MSK_DOUBLE'] === '1')
    adapt.push(withMskDouble(Number(env['PINPIPE_TEST_MSK_ACTIVE_AFTER_LOOKS'] ?? '3')));
  if (target && afterCall) adapt.push(killAfterCall(afterCall));
  const config = loadConfig(env);
  Runtime.install({
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  await runWorker(config, {
    onReady: (message) =>
      console.log(
        `${message} (fault: ${target ?? 'none'}${afterCall ? ` after ${afterCall}` : ''})`,
      ),
    ...(target ? { wrapActivities: killDuring(target, maxDelayMs) } : {}),
    ...(adapt.length ? { adaptAdapters: (a: Adapters) => adapt.reduce((x, f) => f(x), a) } : {}),
  });
}

main().catch((err: unknown) => {
  console.error('fault-worker failed:', err);
  process.exit(1);
});

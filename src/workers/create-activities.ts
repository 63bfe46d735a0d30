import { createProbeActivities } from '../activities/probe-activities';
import { createNightlyActivities } from '../activities/nightly-activities';
import { createSinkActivities } from '../activities/sink-activities';
import type { Adapters } from '../adapters/create-adapters';

/** Every activity the `pinpipe` task queue serves, wired to the given ports. */
export function createActivities(adapters: Pick<Adapters, 'store' | 'kafka' | 'ec2'>) {
  return {
    ...createProbeActivities(adapters),
    ...createSinkActivities(adapters),
    ...createNightlyActivities(adapters),
  };
}

import type { DuckDbS3Options } from '../analytics/duckdb-session';
import { createAnalyticsActivities } from './analytics-activities';
import { createCleaningActivities, type CleaningDeps } from './cleaning-activities';

export { QUALITY_GATE_FAILED } from './commit-partition';

/**
 * Every activity of the nightly batch: the cleaning (plan, shards, commit; cleaning-activities.ts)
 * and the analytics over the committed clean zone (analytics-activities.ts).
 */
export function createNightlyActivities(deps: CleaningDeps & { duckdb: DuckDbS3Options }) {
  return {
    ...createCleaningActivities(deps),
    ...createAnalyticsActivities(deps),
  };
}

export type NightlyActivities = ReturnType<typeof createNightlyActivities>;

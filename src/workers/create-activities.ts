import type { DuckDbS3Options } from '../analytics/duckdb-session';
import { createProbeActivities } from '../activities/probe-activities';
import { createNightlyActivities } from '../activities/nightly-activities';
import { createSinkActivities } from '../activities/sink-activities';
import { createAwsProvisionActivities } from '../activities/aws-provision-activities';
import { createProvisionActivities } from '../activities/provision-activities';
import { createTeardownActivities } from '../activities/teardown-activities';
import type { Adapters } from '../adapters/create-adapters';
import type { PipelineControl } from '../ports/pipeline-control';

/** Every activity the `pinpipe` task queue serves, wired to the given ports. */
export function createActivities(
  adapters: Pick<Adapters, 'store' | 'kafka' | 'ec2' | 'bucketTags'> &
    Partial<Pick<Adapters, 'aws' | 'kafkaAt' | 'awsRegion' | 'signature'>> & {
      control: PipelineControl;
      /** How DuckDB reaches the bucket for the analytics (duckDbS3OptionsFrom(config)). */
      duckdb: DuckDbS3Options;
    },
) {
  return {
    ...createProbeActivities(adapters),
    ...createSinkActivities(adapters),
    // The raw zone is the S3 bucket DuckDB reaches too: shards read whole objects in place.
    ...createNightlyActivities({ ...adapters, readInPlace: adapters.duckdb }),
    ...createProvisionActivities(adapters),
    ...createTeardownActivities(adapters),
    // Without AWS clients (tests of the local target) the aws steps' activities are absent.
    ...(adapters.aws ? createAwsProvisionActivities(adapters.aws) : {}),
  };
}

import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Named timeout and retry profiles. Every activity call picks one, so retry behaviour is a
 * decision made once and reviewed in one place. Bad input and bad config are thrown as
 * non-retryable ApplicationFailures by the activities themselves and are never retried.
 */
/** Backoff for work that heartbeats and resumes from its checkpoint (each profile adds its bound). */
const RESUMING_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
} as const;

export const activityProfiles = {
  /** A few requests to a data service (S3, Kafka): seconds each, retried through outages. */
  quickIo: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '500 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '20 seconds',
      maximumAttempts: 20,
    },
  },
  /**
   * Streaming work that heartbeats on a clock and resumes from its checkpoint. Bounded: ten
   * attempts (about ten minutes of backoff) and the workflow fails with the last reason.
   */
  longIo: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { ...RESUMING_RETRY, maximumAttempts: 10 },
  },
  /**
   * One shard of a nightly cleaning (bounded bytes: seconds of work). A shard that fails five
   * times fails its table with the object and byte position, rather than retrying in silence.
   */
  shard: {
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { ...RESUMING_RETRY, maximumInterval: '30 seconds', maximumAttempts: 5 },
  },
  /**
   * The ingestion sink: retried without limit on purpose, because a Kafka or S3 outage must not
   * end a long-running ingestion. Not silent: the pending activity's attempt and last failure show
   * on the ingest workflow's page, and the lag it causes in `IngestLag` and `pinpipe ingest status`.
   */
  sink: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 seconds',
    retry: RESUMING_RETRY,
  },
  /** Cloud control-plane calls (EC2 and friends): slower, throttled, retried patiently. */
  controlPlane: {
    startToCloseTimeout: '2 minutes',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
    },
  },
} satisfies Record<string, ActivityOptions>;

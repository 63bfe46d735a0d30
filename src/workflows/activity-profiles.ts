import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Named timeout and retry profiles. Every activity call picks one, so retry behaviour is a
 * decision made once and reviewed in one place. Bad input and bad config are thrown as
 * non-retryable ApplicationFailures by the activities themselves and are never retried.
 */
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
  /** Streaming work that heartbeats and resumes from its heartbeat details. */
  longIo: {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
    },
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

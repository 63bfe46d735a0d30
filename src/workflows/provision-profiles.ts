import type { ActivityOptions } from '@temporalio/workflow';
import type { ProvisionStep } from '../domain/provision-steps';

/**
 * Timeouts and retry policy per provisioning step. The workflow drives the attempts itself
 * (each activity call is one attempt) so that the attempt number is part of the visible state:
 * the query, the Web UI checklist and the `PipelineStep` search attribute all show it. A
 * heartbeat timeout on every step means a killed worker costs seconds, not the whole timeout.
 */
export interface StepProfile {
  activity: ActivityOptions;
  /** Wait before attempt n+1: initial × 2^(n-1), capped. */
  backoff: { initialMs: number; maximumMs: number };
}

const oneAttempt = { maximumAttempts: 1 };

// These heartbeat when they start and finish in a second or two: a short heartbeat timeout.
const dataService: StepProfile = {
  activity: { startToCloseTimeout: '1 minute', heartbeatTimeout: '5 seconds', retry: oneAttempt },
  backoff: { initialMs: 1_000, maximumMs: 15_000 },
};

export const STEP_PROFILES: Record<ProvisionStep | 'teardown', StepProfile> = {
  validate: dataService,
  bucket: dataService,
  'security-group': dataService,
  // Each call is one look (create, describe, bootstrap servers); the wait is the workflow's timer.
  'kafka-cluster': dataService,
  topics: dataService,
  'api-token': dataService,
  'key-pair': dataService,
  // Waits (heartbeating every few seconds) for a new instance profile to show its role.
  'iam-role': {
    activity: {
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: '15 seconds',
      retry: oneAttempt,
    },
    backoff: { initialMs: 2_000, maximumMs: 30_000 },
  },
  'api-gateway': dataService,
  // Waits for a new instance's status checks (minutes on AWS), heartbeating every poll.
  'client-host': {
    activity: { startToCloseTimeout: '1 hour', heartbeatTimeout: '10 seconds', retry: oneAttempt },
    backoff: { initialMs: 2_000, maximumMs: 30_000 },
  },
  // Waits for the API on a fresh host to answer, heartbeating every second.
  endpoint: {
    activity: { startToCloseTimeout: '1 hour', heartbeatTimeout: '10 seconds', retry: oneAttempt },
    backoff: { initialMs: 2_000, maximumMs: 30_000 },
  },
  ingestion: dataService,
  schedule: dataService,
  inventory: dataService,
  // Removing a resource: stopping ingestion waits for batches in flight; emptying a bucket
  // heartbeats per thousand objects. Temporal retries these itself (teardown has no checklist).
  teardown: {
    activity: {
      startToCloseTimeout: '30 minutes',
      heartbeatTimeout: '30 seconds',
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '30 seconds',
        maximumAttempts: 10,
      },
    },
    backoff: { initialMs: 1_000, maximumMs: 30_000 },
  },
};

export function backoffMs(profile: StepProfile, attempt: number): number {
  return Math.min(profile.backoff.maximumMs, profile.backoff.initialMs * 2 ** (attempt - 1));
}

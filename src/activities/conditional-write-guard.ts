import { ApplicationFailure } from '@temporalio/activity';
import type { ConditionalWriteVerdict } from '../domain/conditional-writes';
import type { ObjectStore } from '../ports/object-store';

/** The failure type of a sink attempt refused because the server cannot do conditional writes. */
export const CONDITIONAL_WRITES_UNSUPPORTED = 'ConditionalWritesUnsupported';
/** The failure type of a sink attempt whose probe got no verdict (server down, access denied). */
export const CONDITIONAL_WRITES_UNPROVEN = 'ConditionalWritesUnproven';

/**
 * Before the first conditional write to a bucket, prove the server honours `If-None-Match: *`;
 * remember the verdict for the life of the process (it is the server's, and the configuration
 * does not change under a running process). `error` verdicts are not remembered: the next
 * write asks again. The worker's start probe is the early, loud check; this one makes the sink
 * safe whatever the worker did at start (the bucket may not have existed then, or another
 * process built the activities).
 *
 * A refusal is a retryable failure, not a non-retryable one: the fault is this worker's
 * endpoint, not the workflow's input, so a long-running ingestion must not end over it. The
 * attempt wrote nothing; it shows its reason on the pending activity, and another worker (or
 * this one, restarted with a fixed endpoint) carries on from the same offset.
 */
export function conditionalWriteGuard(store: Pick<ObjectStore, 'probeConditionalWrites'>) {
  const verdicts = new Map<string, Promise<ConditionalWriteVerdict>>();
  return async function requireConditionalWrites(bucket: string): Promise<void> {
    let pending = verdicts.get(bucket);
    if (!pending) {
      pending = store.probeConditionalWrites(bucket);
      verdicts.set(bucket, pending);
    }
    const verdict = await pending;
    if (verdict.support === 'supported') return;
    if (verdict.support === 'error') {
      if (verdicts.get(bucket) === pending) verdicts.delete(bucket);
      throw ApplicationFailure.retryable(verdict.message, CONDITIONAL_WRITES_UNPROVEN);
    }
    throw ApplicationFailure.retryable(verdict.message, CONDITIONAL_WRITES_UNSUPPORTED);
  };
}

/** Exponential backoff between retries of one request. */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  baseMs: number;
  /** No delay exceeds this (a server's Retry-After aside). */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 5_000 };

/** A server asking for more than this is overruled: the run's attempts stay bounded in time. */
const MAX_RETRY_AFTER_MS = 30_000;

/**
 * Delay before retry number `attempt` (1 = first retry): the ceiling doubles each time up to the
 * cap, and the delay is drawn from its upper half ("equal jitter"), so concurrent clients that
 * failed together do not retry together, yet each still waits a growing minimum. A Retry-After
 * from the server is a floor.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

import { Context } from '@temporalio/activity';

/** How often a long activity heartbeats: well inside every profile's heartbeat timeout. */
export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs `work` while heartbeating on a clock, whatever `work` is doing (a large download, a long
 * DuckDB query that runs on its own threads). Heartbeating only between units of work is what let
 * one big unit outlast the heartbeat timeout, attempt after attempt, without ever finishing.
 * `details` is read at each beat, so the server always holds the latest checkpoint.
 */
export async function withHeartbeatClock<T>(
  details: () => unknown,
  work: () => Promise<T>,
  everyMs = HEARTBEAT_EVERY_MS,
): Promise<T> {
  const ctx = Context.current();
  const beat = () => ctx.heartbeat(details());
  beat();
  const timer = setInterval(beat, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Counts of one emulator run. Records are counted once each, however often they were retried. */
export interface EmulatorCounts {
  /** Events whose pin, geo and user posts are all settled. */
  events: number;
  /** Records posted (first attempts only). */
  sent: number;
  /** Records Kafka acknowledged (the API returned their offsets). */
  acknowledged: number;
  /** Records the API refused for good (per-record non-retriable error, e.g. schema). */
  rejected: number;
  /** Record re-sends after retriable failures. */
  retried: number;
  /** Records neither acknowledged nor rejected when the run ended (retries exhausted etc.). */
  failed: number;
  /** HTTP requests made, retries included. */
  requests: number;
  /** Requests that did not get every record acknowledged or rejected (the "errors" of the bar). */
  errors: number;
}

export interface ErrorTally {
  message: string;
  count: number;
}

const MAX_DISTINCT_ERRORS = 20;

export class EmulatorStats {
  readonly counts: EmulatorCounts = {
    events: 0,
    sent: 0,
    acknowledged: 0,
    rejected: 0,
    retried: 0,
    failed: 0,
    requests: 0,
    errors: 0,
  };
  private readonly tally = new Map<string, number>();

  /** Remembers why records or requests failed, so the summary can say (a few distinct reasons). */
  note(message: string, count = 1): void {
    if (this.tally.has(message) || this.tally.size < MAX_DISTINCT_ERRORS) {
      this.tally.set(message, (this.tally.get(message) ?? 0) + count);
    }
  }

  snapshot(): EmulatorCounts {
    return { ...this.counts };
  }

  topErrors(limit = 5): ErrorTally[] {
    return [...this.tally]
      .map(([message, count]) => ({ message, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, limit);
  }
}

import type { Seed } from '../domain/generator';
import { TABLES, topicFor } from '../domain/tables';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff';
import { batches } from './batches';
import { realDeps, type EmulatorDeps } from './emulator-deps';
import { postRecords } from './rest-proxy-client';
import { EmulatorStats, type EmulatorCounts, type ErrorTally } from './stats';

export type { EmulatorDeps } from './emulator-deps';

export interface EmulatorOptions {
  /** Base URL of the ingest API (or any REST Proxy v2), e.g. http://127.0.0.1:8082. */
  url: string;
  pipelineId: string;
  /** Events to post; each is three records (pin, geo, user). */
  count: number;
  /** Events per second over the run; 0 = as fast as the API answers. */
  rate: number;
  /** Batches in flight at once (with batch 1: events in flight). */
  concurrency: number;
  /** Events per request: a batch posts its B pins in one request, then B geos, then B users. */
  batch: number;
  seed: Seed;
  token?: string;
  /** Attempts per request, the first included (default 6). */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  /** Per HTTP request (default 30 s); a timeout is retried. */
  requestTimeoutMs?: number;
  /** Interrupt (SIGINT): no new batches, no more retries; in-flight requests finish. */
  signal?: AbortSignal;
  /** Called after every request with the counts so far. */
  onProgress?: (counts: EmulatorCounts, elapsedMs: number) => void;
}

export type EmulatorOutcome =
  /** Every event was posted (some records may have failed: see `failed`). */
  | 'completed'
  /** Stopped by the signal (SIGINT) before every event was posted. */
  | 'interrupted'
  /** Stopped because every request would fail (bad token, missing topic, wrong URL). */
  | 'aborted';

export interface EmulatorSummary extends EmulatorCounts {
  outcome: EmulatorOutcome;
  /** Why the run was aborted. */
  abortReason?: string;
  url: string;
  pipelineId: string;
  seed: Seed;
  /** Events requested. */
  count: number;
  durationMs: number;
  eventsPerSecond: number;
  recordsPerSecond: number;
  /** The most frequent failure and rejection reasons. */
  topErrors: ErrorTally[];
}

/**
 * The seed's user posting emulator, against a REST Proxy v2 API: each event is one random
 * source index (drawn with replacement) posted as pin, then geo, then user. Retriable failures
 * (5xx, network, per-record error_code 2) are retried with backoff, only for the records that
 * need it; non-retriable per-record errors count as rejected.
 */
export async function runEmulator(
  options: EmulatorOptions,
  deps: EmulatorDeps = realDeps,
): Promise<EmulatorSummary> {
  const maxAttempts = options.maxAttempts ?? 6;
  const stats = new EmulatorStats();
  const c = stats.counts;
  const stop = new AbortController();
  let abortReason: string | undefined;
  const interrupt = () => stop.abort();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  if (options.signal?.aborted) stop.abort();

  const started = deps.now();
  const progress = () => options.onProgress?.({ ...c }, deps.now() - started);

  async function post(topic: string, values: unknown[]): Promise<void> {
    c.sent += values.length;
    let pending = values;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await postRecords(deps.fetch, {
        url: options.url,
        topic,
        values: pending,
        ...(options.token ? { token: options.token } : {}),
        // Longer than the API waits for Kafka (KAFKA_PRODUCE_TIMING): an answer, not a guess.
        timeoutMs: options.requestTimeoutMs ?? 90_000,
      });
      c.requests += 1;
      let retry: unknown[] = [];
      let retryAfterMs: number | undefined;
      if (outcome.kind === 'records') {
        outcome.records.forEach((r, i) => {
          if (r.status === 'acked') c.acknowledged += 1;
          else if (r.status === 'rejected') {
            c.rejected += 1;
            stats.note(`rejected: ${r.reason}`);
          } else {
            retry.push(pending[i]);
            stats.note(`retriable: ${r.reason}`);
          }
        });
        if (retry.length > 0 || outcome.records.some((r) => r.status === 'rejected')) c.errors += 1;
      } else {
        c.errors += 1;
        stats.note(`${outcome.kind === 'retriable' ? 'retriable' : 'failed'}: ${outcome.reason}`);
        if (outcome.kind === 'failed') {
          c.failed += pending.length;
          if (outcome.fatal && !stop.signal.aborted) {
            abortReason = `${topic}: ${outcome.reason}`;
            stop.abort();
          }
          progress();
          return;
        }
        retry = pending;
        retryAfterMs = outcome.retryAfterMs;
      }
      progress();
      if (retry.length === 0) return;
      if (attempt >= maxAttempts || stop.signal.aborted) {
        c.failed += retry.length;
        if (attempt >= maxAttempts)
          stats.note(`failed: gave up after ${maxAttempts} attempts`, retry.length);
        return;
      }
      await deps.sleep(
        backoffDelay(attempt, deps.random, options.backoff ?? DEFAULT_BACKOFF, retryAfterMs),
        stop.signal,
      );
      if (stop.signal.aborted) {
        c.failed += retry.length;
        return;
      }
      c.retried += retry.length;
      pending = retry;
    }
  }

  const source = batches(options.seed, options.count, options.batch);
  async function worker(): Promise<void> {
    while (!stop.signal.aborted) {
      const next = source.next();
      if (next.done) return;
      const { position, events } = next.value;
      if (options.rate > 0) {
        const wait = started + (position * 1000) / options.rate - deps.now();
        if (wait > 0) await deps.sleep(wait, stop.signal);
        if (stop.signal.aborted) return;
      }
      // A started batch is finished (all three tables), so an interrupt leaves whole events.
      for (const table of TABLES) {
        if (abortReason !== undefined) return;
        await post(
          topicFor(options.pipelineId, table),
          events.map((e) => e[table]),
        );
      }
      c.events += events.length;
      progress();
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  } finally {
    options.signal?.removeEventListener('abort', interrupt);
  }
  const durationMs = Math.max(0, deps.now() - started);
  const seconds = durationMs / 1000;
  return {
    outcome:
      abortReason !== undefined
        ? 'aborted'
        : c.events < options.count
          ? 'interrupted'
          : 'completed',
    ...(abortReason !== undefined ? { abortReason } : {}),
    url: options.url,
    pipelineId: options.pipelineId,
    seed: options.seed,
    count: options.count,
    ...c,
    durationMs: Math.round(durationMs),
    eventsPerSecond: seconds > 0 ? c.events / seconds : 0,
    recordsPerSecond: seconds > 0 ? c.acknowledged / seconds : 0,
    topErrors: stats.topErrors(),
  };
}

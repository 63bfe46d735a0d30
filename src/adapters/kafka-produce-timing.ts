/**
 * How long one produce may take, end to end, so that the ingest API waits longer than the
 * producer tries. When the API gives up first, the records may still land after the client was
 * answered: that answer can only say "outcome unknown" (504), and a retry may duplicate them.
 * Waiting out the producer's own retries turns most of those into a real outcome.
 *
 * These are the numbers pinpipe's kafkajs client and producer are meant to use (createKafka in
 * kafkajs-kafka.ts and the producer in kafkajs-producer.ts read them from here), and the
 * numbers the API derives its produce timeout from. Change them here, in one place.
 */
export const KAFKA_PRODUCE_TIMING = {
  /** kafkajs client `connectionTimeout`: one TCP (+TLS, SASL) connect to a broker. */
  connectionTimeoutMs: 3_000,
  /** kafkajs client `requestTimeout` (kafkajs's default is 30 s): one request's answer. */
  requestTimeoutMs: 5_000,
  /**
   * Produce `timeout`: how long the broker waits for the in-sync replicas (acks=all) before it
   * answers REQUEST_TIMED_OUT. Below requestTimeoutMs, so the broker answers before kafkajs gives
   * up on the request.
   */
  ackTimeoutMs: 4_000,
  /**
   * Producer `retry`. Without it kafkajs gives an idempotent producer Number.MAX_SAFE_INTEGER
   * retries, and no timeout can outlast those. Retries of one send reuse its sequence numbers,
   * so the broker drops the duplicates of a batch an earlier attempt did write.
   */
  retry: {
    initialRetryTime: 200,
    retries: 5,
    maxRetryTime: 3_000,
    factor: 0.2,
    multiplier: 2,
  },
  /**
   * How long a produce may wait behind other sends before its records are handed to the
   * producer (src/adapters/produce-coalescer.ts). Past it the call fails without sending
   * anything, so the API can say "not produced, safe to retry" (503) instead of waiting on.
   * Longer than a send to a topic deleted a moment ago takes to fail (about 11 s on the local
   * stack: kafkajs retries its metadata refresh, and the adapter retries once with a new
   * producer), so one such send does not shed the healthy requests queued behind it.
   */
  maxQueueMs: 20_000,
} as const;

export type KafkaProduceTiming = typeof KAFKA_PRODUCE_TIMING;
export type RetrySettings = KafkaProduceTiming['retry'];

/**
 * The longest total back-off kafkajs's retrier (kafkajs/src/retry) can wait between the attempts
 * of one send: it starts at initialRetryTime ± factor, and each next wait is the previous one
 * ± factor, times multiplier, capped at maxRetryTime (rounded up, as kafkajs does).
 */
export function maxRetryBackoffMs(retry: RetrySettings): number {
  const highest = (time: number) => Math.ceil(time + retry.factor * time);
  let wait = highest(retry.initialRetryTime);
  let total = 0;
  for (let attempt = 0; attempt < retry.retries; attempt++) {
    total += wait;
    wait = Math.min(highest(wait) * retry.multiplier, retry.maxRetryTime);
  }
  return total;
}

/**
 * Upper bound of one producer send with these settings: every attempt may have to connect and
 * then wait out a request, plus the back-off between attempts.
 */
export function producerSendBoundMs(timing: KafkaProduceTiming = KAFKA_PRODUCE_TIMING): number {
  const attempts = timing.retry.retries + 1;
  return (
    attempts * (timing.connectionTimeoutMs + timing.requestTimeoutMs) +
    maxRetryBackoffMs(timing.retry)
  );
}

/**
 * The API's default deadline for a produce: the longest wait in the queue, then the longest
 * send, plus a margin for the answer to travel back. Past it the outcome is unknown (504).
 */
export function apiProduceTimeoutMs(timing: KafkaProduceTiming = KAFKA_PRODUCE_TIMING): number {
  return timing.maxQueueMs + producerSendBoundMs(timing) + 2_000;
}

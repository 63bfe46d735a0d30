import type { KafkaAdmin } from '../ports/kafka';

/** Default bound of the topic cache: 341 served pipelines' three topics, about 100 KiB. */
export const DEFAULT_TOPIC_CACHE_ENTRIES = 1_024;

export interface TopicRegistryOptions {
  /** How long a topic's partition count is trusted. */
  ttlMs?: number;
  /** How long "no such topic" is trusted (short: the topic may be created any moment). */
  missingTtlMs?: number;
  /** Most topics remembered; the least recently used is dropped first. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Which topics exist, and with how many partitions, cached briefly: every produce request needs
 * it, and asking the broker each time would double the Kafka round trips. Concurrent lookups of
 * one topic share a single call; failures are not cached.
 *
 * Bounded (LRU, `maxEntries`): the names come from clients, and "no such topic" is cached too,
 * so an unbounded cache grew with every distinct name anyone posted to. The server only looks up
 * topics of the pipelines it serves, which keeps the working set at three per pipeline; the bound
 * holds whatever the callers do. Lookups in flight are bounded by the requests in flight.
 */
export class TopicRegistry {
  /** In least-recently-used order: a Map iterates in insertion order, and a hit re-inserts. */
  private readonly cache = new Map<string, { at: number; partitions: number | undefined }>();
  private readonly pending = new Map<string, Promise<number | undefined>>();
  private readonly ttlMs: number;
  private readonly missingTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly kafka: Pick<KafkaAdmin, 'partitionCount'>,
    options: TopicRegistryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.missingTtlMs = options.missingTtlMs ?? 1_000;
    this.maxEntries = options.maxEntries ?? DEFAULT_TOPIC_CACHE_ENTRIES;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${this.maxEntries}`);
    }
    this.now = options.now ?? Date.now;
  }

  /** How many topics are remembered (at most `maxEntries`). */
  get size(): number {
    return this.cache.size;
  }

  /** Partition count, or undefined when the topic does not exist. */
  partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.cache.get(topic);
    if (cached) {
      const ttl = cached.partitions === undefined ? this.missingTtlMs : this.ttlMs;
      if (this.now() - cached.at < ttl) {
        this.cache.delete(topic);
        this.cache.set(topic, cached);
        return Promise.resolve(cached.partitions);
      }
    }
    let lookup = this.pending.get(topic);
    if (!lookup) {
      lookup = this.kafka
        .partitionCount(topic)
        .then((partitions) => {
          this.remember(topic, { at: this.now(), partitions });
          return partitions;
        })
        .finally(() => this.pending.delete(topic));
      this.pending.set(topic, lookup);
    }
    return lookup;
  }

  /** Drops what is known about a topic (it was just found missing while producing). */
  forget(topic: string): void {
    this.cache.delete(topic);
  }

  private remember(topic: string, entry: { at: number; partitions: number | undefined }): void {
    this.cache.delete(topic);
    this.cache.set(topic, entry);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
  }
}

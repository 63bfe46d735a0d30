import type { KafkaPort } from '../ports/kafka';

export interface TopicRegistryOptions {
  /** How long a topic's partition count is trusted. */
  ttlMs?: number;
  /** How long "no such topic" is trusted (short: the topic may be created any moment). */
  missingTtlMs?: number;
  now?: () => number;
}

/**
 * Which topics exist, and with how many partitions, cached briefly: every produce request needs
 * it, and asking the broker each time would double the Kafka round trips. Concurrent lookups of
 * one topic share a single call; failures are not cached.
 */
export class TopicRegistry {
  private readonly cache = new Map<string, { at: number; partitions: number | undefined }>();
  private readonly pending = new Map<string, Promise<number | undefined>>();
  private readonly ttlMs: number;
  private readonly missingTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly kafka: Pick<KafkaPort, 'partitionCount'>,
    options: TopicRegistryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.missingTtlMs = options.missingTtlMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Partition count, or undefined when the topic does not exist. */
  partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.cache.get(topic);
    if (cached) {
      const ttl = cached.partitions === undefined ? this.missingTtlMs : this.ttlMs;
      if (this.now() - cached.at < ttl) return Promise.resolve(cached.partitions);
    }
    let lookup = this.pending.get(topic);
    if (!lookup) {
      lookup = this.kafka
        .partitionCount(topic)
        .then((partitions) => {
          this.cache.set(topic, { at: this.now(), partitions });
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
}

import type { Admin, Kafka } from 'kafkajs';
import type { KafkaGroups, ProducedOffset } from '../ports/kafka';

/**
 * Consumer group offsets over kafkajs. Pinpipe's ledger lives in the workflow; this copy exists
 * so standard lag tools see progress. Commits go through a throwaway consumer of the group,
 * fetches through the admin client.
 */
export class KafkajsGroups implements KafkaGroups {
  constructor(
    private readonly kafka: Kafka,
    /** A call on the shared admin client (KafkajsAdmin.withClient). */
    private readonly withAdmin: <T>(call: (admin: Admin) => Promise<T>) => Promise<T>,
  ) {}

  /**
   * Records offsets for a group that has no live members. Mirrors kafkajs's admin.setOffsets,
   * with a short fetch wait: that one waits a full default fetch (5 s).
   */
  async commitGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ProducedOffset[],
  ): Promise<void> {
    if (offsets.length === 0) return;
    const consumer = this.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 20,
      allowAutoTopicCreation: false,
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const { state } = await consumer.describeGroup();
      if (!['Empty', 'Dead', 'Unknown'].includes(state)) {
        throw new Error(`consumer group ${groupId} has running members (state ${state})`);
      }
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.FETCH, () => resolve());
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({ eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() })
          .catch(reject);
        consumer.pause([{ topic }]);
        // A seek on a running auto-committing consumer commits the offset it seeks to.
        for (const o of offsets)
          consumer.seek({ topic, partition: o.partition, offset: String(o.offset) });
      });
      await consumer.stop();
    } finally {
      await consumer.disconnect();
    }
  }

  async fetchGroupOffsets(groupId: string, topic: string): Promise<ProducedOffset[]> {
    // The group's coordinator can move (or not be elected yet, on a fresh broker): a retriable
    // answer such as NOT_COORDINATOR is asked again, a few times, before it counts as a failure.
    let entries;
    for (let attempt = 1; ; attempt++) {
      try {
        entries = await this.withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
        break;
      } catch (err) {
        const retriable = (err as { retriable?: boolean } | undefined)?.retriable === true;
        if (!retriable || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
    const [entry] = entries;
    return (entry?.partitions ?? [])
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) }))
      .filter((p) => p.offset >= 0)
      .sort((a, b) => a.partition - b.partition);
  }
}

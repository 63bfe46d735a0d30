import {
  type Kafka,
  Partitioners,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import type { KafkaProducer, OutgoingRecord, ProducedOffset } from '../ports/kafka';
import type { KafkaSettings } from '../kafka-settings';
import { kafkajsCompression } from './kafka-codecs';
import { isUnknownTopic } from './kafkajs-admin';
import { KAFKA_PRODUCE_TIMING } from './kafka-produce-timing';
import { ProduceCoalescer } from './produce-coalescer';
import type { RecordSignature } from '../ports/record-signature';
import { type SignableMessage, signRuns } from './record-signature';

/**
 * Produce over one idempotent kafkajs producer (acks=all), created lazily and reused, behind a
 * group-commit coalescer. Partitions are chosen here from the admin's cached metadata
 * (`partitionsOf`), so each record's offset can be reported back.
 */
export class KafkajsProducer implements KafkaProducer {
  private producer?: Promise<Producer>;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly compression: ReturnType<typeof kafkajsCompression>;
  private readonly coalescer: ProduceCoalescer;

  /** With `signature`, runs of validated records are signed for the sink (signRuns). */
  constructor(
    private readonly kafka: Kafka,
    private readonly partitionsOf: (topic: string) => Promise<PartitionMetadata[] | undefined>,
    compression: KafkaSettings['compression'] = 'none',
    signature?: RecordSignature,
  ) {
    this.compression = kafkajsCompression(compression);
    this.coalescer = new ProduceCoalescer(
      (batch) => this.sendBatch(batch),
      signature ? { seal: (topic, messages) => signRuns(topic, messages, signature) } : {},
    );
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<ProducedOffset[]> {
    if (records.length === 0) return [];
    const partitionMetadata = await this.partitionsOf(topic);
    if (!partitionMetadata) throw new Error(`topic ${topic} does not exist`);
    // Choose partitions here, not inside kafkajs, so each record's offset can be reported back:
    // one send writes one batch per partition, so offsets within a partition are consecutive.
    const messages = records.map((r) => {
      const key = r.key ?? null;
      const partition =
        r.partition ??
        this.partitioner({
          topic,
          partitionMetadata,
          message: { key, value: r.value },
        });
      if (partition < 0 || partition >= partitionMetadata.length) {
        throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
      }
      const message: SignableMessage = {
        key,
        value: r.value,
        partition,
        ...(r.headers ? { headers: r.headers } : {}),
      };
      if (r.validated) message.validated = true;
      return message;
    });
    return this.coalescer.produce(topic, messages);
  }

  /** One request for everything queued; a deleted topic once written to resets the producer. */
  private async sendBatch(topicMessages: TopicMessages[]): Promise<RecordMetadata[]> {
    try {
      return await (
        await this.getProducer()
      ).sendBatch({
        topicMessages,
        acks: -1,
        timeout: KAFKA_PRODUCE_TIMING.ackTimeoutMs,
        compression: this.compression,
      });
    } catch (err) {
      if (!isUnknownTopic(err)) throw err;
      // Another process may have deleted a topic this producer once wrote to (see reset).
      await this.reset();
      return (await this.getProducer()).sendBatch({
        topicMessages,
        acks: -1,
        timeout: KAFKA_PRODUCE_TIMING.ackTimeoutMs,
        compression: this.compression,
      });
    }
  }

  /**
   * Starts over with a fresh producer: kafkajs's producer keeps every topic it ever sent to in
   * its metadata refreshes, and one deleted topic makes all later sends fail.
   */
  async reset(): Promise<void> {
    const old = this.producer;
    this.producer = undefined;
    if (old) await old.then((p) => p.disconnect()).catch(() => undefined);
  }

  async disconnect(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.then((p) => p.disconnect());
  }

  private getProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        // Without it kafkajs retries an idempotent producer's send without end.
        retry: KAFKA_PRODUCE_TIMING.retry,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.producer = undefined;
      throw err;
    });
    return this.producer;
  }
}

import type { Message, RecordMetadata, TopicMessages } from 'kafkajs';
import { KAFKA_PRODUCE_TIMING } from './kafka-produce-timing';
import type { ProducedOffset } from '../ports/kafka';

export type PartitionedMessage = Message & { partition: number };

/**
 * A produce call's records were handed to the producer and the send failed. Part of a send can
 * be written before it fails (the broker appends each partition's batch on its own, and an
 * earlier attempt may have been written before a later one failed), so what is in Kafka is not
 * known from the error alone. `partitionBatches` is how many partition batches the send carried:
 * with one, a refusal by the broker means nothing was written. The send carried one topic only.
 */
export class ProduceAttemptError extends Error {
  override name = 'ProduceAttemptError';
  constructor(
    cause: unknown,
    readonly topic: string,
    readonly partitionBatches: number,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * A produce call that waited longer than `maxQueueMs` behind other sends: it was dropped from the
 * queue before any of its records reached the producer, so none of them is in Kafka.
 */
export class ProduceNotSentError extends Error {
  override name = 'ProduceNotSentError';
  constructor(
    readonly topic: string,
    readonly waitedMs: number,
  ) {
    super(
      `the records waited ${waitedMs} ms behind other sends to Kafka and were not sent ` +
        '(Kafka is slow or unavailable)',
    );
  }
}

interface Pending {
  topic: string;
  messages: PartitionedMessage[];
  bytes: Map<number, number>;
  resolve: (offsets: ProducedOffset[]) => void;
  reject: (err: unknown) => void;
  /** Taken into a send: from here on its records may reach Kafka. */
  taken: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Rough wire size of a record, for packing under the broker's per-batch limit. */
function approxSize(m: Message): number {
  const size = (v: unknown) =>
    typeof v === 'string' ? v.length * 3 : Buffer.isBuffer(v) ? v.length : 0;
  let headers = 0;
  for (const [k, v] of Object.entries(m.headers ?? {})) headers += k.length + size(v);
  return size(m.value) + size(m.key) + headers + 64;
}

export interface ProduceCoalescerOptions {
  /** Packing limit of one partition's batch in one send. */
  maxPartitionBytes?: number;
  /** How long a call may wait in the queue before it fails unsent (ProduceNotSentError). */
  maxQueueMs?: number;
  /**
   * The messages of one send as they go out (same order and partitions): signing runs of
   * validated records (record-signature.ts) happens here, once per send, not once per call.
   */
  seal?: (topic: string, messages: PartitionedMessage[]) => PartitionedMessage[];
}

/**
 * Group commit for an idempotent producer (one request in flight): produce calls that arrive
 * while a send is in flight wait and then go out together in one request, so concurrent API
 * requests share round trips instead of queueing one by one. Each call still learns its own
 * records' offsets: within a partition, records of one request get consecutive offsets in the
 * order the calls were queued. Packing keeps each partition's batch under the broker's limit.
 *
 * One send carries one topic. A send of several topics fails as a whole when one of them fails
 * (a topic deleted a moment ago), although the broker may have written the others' batches: the
 * callers of the healthy topics would hear another topic's error for records that are in Kafka,
 * and retrying them there would duplicate them. Per topic, every caller in a send shares the
 * send's fate. Calls of the oldest queued topic go first, so no topic starves; a single topic
 * (the common case) batches exactly as before.
 */
export class ProduceCoalescer {
  private readonly queue: Pending[] = [];
  private sending = false;
  private readonly maxPartitionBytes: number;
  private readonly maxQueueMs: number;
  private readonly seal: NonNullable<ProduceCoalescerOptions['seal']>;

  constructor(
    private readonly send: (topicMessages: TopicMessages[]) => Promise<RecordMetadata[]>,
    options: ProduceCoalescerOptions | number = {},
  ) {
    // A number is the packing limit (the constructor's former second argument).
    const o = typeof options === 'number' ? { maxPartitionBytes: options } : options;
    this.maxPartitionBytes = o.maxPartitionBytes ?? 900 * 1024;
    this.maxQueueMs = o.maxQueueMs ?? KAFKA_PRODUCE_TIMING.maxQueueMs;
    this.seal = o.seal ?? ((_topic, messages) => messages);
  }

  produce(topic: string, messages: PartitionedMessage[]): Promise<ProducedOffset[]> {
    const bytes = new Map<number, number>();
    for (const m of messages) bytes.set(m.partition, (bytes.get(m.partition) ?? 0) + approxSize(m));
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        topic,
        messages,
        bytes,
        resolve,
        reject,
        taken: false,
        timer: undefined,
      };
      this.queue.push(pending);
      void this.pump();
      // Still queued (a send is in flight): bound the wait, so a stalled Kafka sheds this call
      // with a known outcome (nothing sent) rather than leaving its caller to time out unsure.
      if (!pending.taken) {
        pending.timer = setTimeout(() => this.expire(pending), this.maxQueueMs);
        pending.timer.unref();
      }
    });
  }

  private expire(pending: Pending): void {
    if (pending.taken) return;
    const i = this.queue.indexOf(pending);
    if (i === -1) return;
    this.queue.splice(i, 1);
    pending.reject(new ProduceNotSentError(pending.topic, this.maxQueueMs));
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length > 0) await this.sendGroup(this.takeGroup());
    } finally {
      this.sending = false;
    }
  }

  /**
   * The oldest queued call and the later calls of the same topic whose batches still fit, in
   * queue order (always at least one call). Calls of other topics keep their place.
   */
  private takeGroup(): Pending[] {
    const topic = this.queue[0]!.topic;
    const totals = new Map<number, number>();
    const group: Pending[] = [];
    const rest: Pending[] = [];
    let full = false;
    for (const p of this.queue) {
      if (p.topic !== topic || full) {
        rest.push(p);
        continue;
      }
      const fits = [...p.bytes].every(
        ([partition, b]) => (totals.get(partition) ?? 0) + b <= this.maxPartitionBytes,
      );
      // Stop at the first call that does not fit, so a topic's calls keep their order.
      if (group.length > 0 && !fits) {
        full = true;
        rest.push(p);
        continue;
      }
      for (const [partition, b] of p.bytes) totals.set(partition, (totals.get(partition) ?? 0) + b);
      group.push(p);
    }
    this.queue.splice(0, this.queue.length, ...rest);
    for (const p of group) {
      p.taken = true;
      clearTimeout(p.timer);
    }
    return group;
  }

  private async sendGroup(group: Pending[]): Promise<void> {
    const topic = group[0]!.topic;
    const messages: PartitionedMessage[] = [];
    const partitions = new Set<number>();
    for (const p of group) {
      for (const m of p.messages) {
        messages.push(m);
        partitions.add(m.partition);
      }
    }
    let sent: RecordMetadata[];
    try {
      sent = await this.send([{ topic, messages: this.seal(topic, messages) }]);
    } catch (err) {
      const failure = new ProduceAttemptError(err, topic, partitions.size);
      for (const p of group) p.reject(failure);
      return;
    }
    const base = new Map(
      sent
        .filter((m) => m.topicName === topic)
        .map((m) => [m.partition, Number(m.baseOffset ?? m.offset)]),
    );
    const used = new Map<number, number>();
    for (const p of group) {
      try {
        p.resolve(
          p.messages.map((m) => {
            const b = base.get(m.partition);
            if (b === undefined || Number.isNaN(b)) {
              throw new Error(`no offset returned for ${topic}/${m.partition}`);
            }
            const i = used.get(m.partition) ?? 0;
            used.set(m.partition, i + 1);
            return { partition: m.partition, offset: b + i };
          }),
        );
      } catch (err) {
        // The send succeeded, so the records are in Kafka; only where is unknown.
        p.reject(new ProduceAttemptError(err, topic, partitions.size));
      }
    }
  }
}

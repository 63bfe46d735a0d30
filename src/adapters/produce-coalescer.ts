import type { Message, RecordMetadata, TopicMessages } from 'kafkajs';
import type { ProducedOffset } from '../ports/kafka';

export type PartitionedMessage = Message & { partition: number };

interface Pending {
  topic: string;
  messages: PartitionedMessage[];
  bytes: Map<number, number>;
  resolve: (offsets: ProducedOffset[]) => void;
  reject: (err: unknown) => void;
}

/** Rough wire size of a record, for packing under the broker's per-batch limit. */
function approxSize(m: Message): number {
  const size = (v: unknown) =>
    typeof v === 'string' ? v.length * 3 : Buffer.isBuffer(v) ? v.length : 0;
  let headers = 0;
  for (const [k, v] of Object.entries(m.headers ?? {})) headers += k.length + size(v);
  return size(m.value) + size(m.key) + headers + 64;
}

/**
 * Group commit for an idempotent producer (one request in flight): produce calls that arrive
 * while a send is in flight wait and then go out together in one request, so concurrent API
 * requests share round trips instead of queueing one by one. Each call still learns its own
 * records' offsets: within a partition, records of one request get consecutive offsets in the
 * order the calls were queued. Packing keeps each partition's batch under the broker's limit.
 */
export class ProduceCoalescer {
  private readonly queue: Pending[] = [];
  private sending = false;

  constructor(
    private readonly send: (topicMessages: TopicMessages[]) => Promise<RecordMetadata[]>,
    private readonly maxPartitionBytes = 900 * 1024,
  ) {}

  produce(topic: string, messages: PartitionedMessage[]): Promise<ProducedOffset[]> {
    const bytes = new Map<number, number>();
    for (const m of messages) bytes.set(m.partition, (bytes.get(m.partition) ?? 0) + approxSize(m));
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, messages, bytes, resolve, reject });
      void this.pump();
    });
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

  /** The longest prefix of the queue whose batches fit (always at least one call). */
  private takeGroup(): Pending[] {
    const totals = new Map<string, number>();
    let n = 0;
    for (const p of this.queue) {
      const fits = [...p.bytes].every(
        ([partition, b]) =>
          (totals.get(`${p.topic}/${partition}`) ?? 0) + b <= this.maxPartitionBytes,
      );
      if (n > 0 && !fits) break;
      for (const [partition, b] of p.bytes) {
        const key = `${p.topic}/${partition}`;
        totals.set(key, (totals.get(key) ?? 0) + b);
      }
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async sendGroup(group: Pending[]): Promise<void> {
    const byTopic = new Map<string, PartitionedMessage[]>();
    for (const p of group) {
      const list = byTopic.get(p.topic) ?? [];
      for (const m of p.messages) list.push(m);
      byTopic.set(p.topic, list);
    }
    let sent: RecordMetadata[];
    try {
      sent = await this.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
    } catch (err) {
      for (const p of group) p.reject(err);
      return;
    }
    const base = new Map(
      sent.map((m) => [`${m.topicName}/${m.partition}`, Number(m.baseOffset ?? m.offset)]),
    );
    const used = new Map<string, number>();
    for (const p of group) {
      try {
        p.resolve(
          p.messages.map((m) => {
            const key = `${p.topic}/${m.partition}`;
            const b = base.get(key);
            if (b === undefined || Number.isNaN(b))
              throw new Error(`no offset returned for ${key}`);
            const i = used.get(key) ?? 0;
            used.set(key, i + 1);
            return { partition: m.partition, offset: b + i };
          }),
        );
      } catch (err) {
        p.reject(err);
      }
    }
  }
}

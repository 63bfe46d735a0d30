import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import type { ConsumedRecord } from '../ports/kafka';

export interface PartitionReaderOptions {
  /** Stop fetching while this many bytes wait in the buffer (bounds memory per partition). */
  maxBufferBytes: number;
  /** Fetch size per request for this partition. */
  fetchBytes: number;
}

export interface ReaderRead {
  fromOffset: number;
  maxRecords: number;
  maxBytes: number;
  maxWaitMs: number;
  /** Return once the buffer reaches this offset (the high watermark when the read began). */
  returnAtOffset?: number;
}

function decodeHeaders(headers: IHeaders): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [name, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    (out ??= {})[name] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return out;
}

/**
 * A long-lived reader of one partition. kafkajs has no manual assignment, so each reader is a
 * consumer of its own throwaway group that never commits; keeping it between reads means a
 * sink reading a partition batch after batch streams from Kafka (with prefetch) instead of
 * joining a group per batch. A read at an unexpected offset seeks; batches fetched before a
 * seek are recognised as stale and dropped, so a read never returns records out of place.
 */
export class PartitionReader {
  private consumer?: Consumer;
  private starting?: Promise<void>;
  private buffer: ConsumedRecord[] = [];
  private bufferBytes = 0;
  /** The offset the next buffered record should have. */
  private position = 0;
  private paused = false;
  private wake: () => void = () => undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private failure?: Error;
  /** Records the last read asked for: prefetch stops at two reads' worth (see full()). */
  private wantRecords = Number.POSITIVE_INFINITY;
  lastUsed = Date.now();

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    readonly partition: number,
    private readonly otherPartitions: number[],
    private readonly options: PartitionReaderOptions,
  ) {}

  /** Records fetched and waiting for a read (prefetch). */
  get buffered(): number {
    return this.buffer.length;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Serialised: two reads of one partition never interleave. */
  read(input: ReaderRead): Promise<ConsumedRecord[]> {
    const run = this.lock.then(() => this.readNow(input));
    this.lock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.starting = undefined;
    if (consumer) await consumer.disconnect().catch(() => undefined);
  }

  private async readNow(input: ReaderRead): Promise<ConsumedRecord[]> {
    this.lastUsed = Date.now();
    this.wantRecords = input.maxRecords;
    this.throwIfFailed();
    await this.ensureStarted(input.fromOffset);
    const bufferStart = this.buffer[0]?.offset ?? this.position;
    if (input.fromOffset < bufferStart || input.fromOffset > this.position) {
      this.seek(input.fromOffset);
    } else {
      this.dropBefore(input.fromOffset);
    }
    // A read asking for more than was prefetched for the previous one lifts the pause.
    this.resumeIfRoom();
    const deadline = Date.now() + input.maxWaitMs;
    while (!this.satisfied(input)) {
      this.throwIfFailed();
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    // Take a prefix in one slice: shift() per record is quadratic on a full buffer.
    let taken = 0;
    let bytes = 0;
    while (taken < input.maxRecords && bytes < input.maxBytes && taken < this.buffer.length) {
      bytes += this.buffer[taken]!.size;
      taken++;
    }
    const out = this.buffer.slice(0, taken);
    this.buffer = this.buffer.slice(taken);
    this.bufferBytes -= bytes;
    this.resumeIfRoom();
    this.lastUsed = Date.now();
    return out;
  }

  private throwIfFailed(): void {
    const failure = this.failure;
    if (failure) throw failure;
  }

  private satisfied(input: ReaderRead): boolean {
    if (this.buffer.length >= input.maxRecords || this.bufferBytes >= input.maxBytes) return true;
    return input.returnAtOffset !== undefined && this.position >= input.returnAtOffset;
  }

  private dropBefore(offset: number): void {
    let n = 0;
    while (n < this.buffer.length && this.buffer[n]!.offset < offset) {
      this.bufferBytes -= this.buffer[n]!.size;
      n++;
    }
    if (n > 0) this.buffer = this.buffer.slice(n);
  }

  private seek(offset: number): void {
    this.buffer = [];
    this.bufferBytes = 0;
    this.position = offset;
    this.consumer!.seek({ topic: this.topic, partition: this.partition, offset: String(offset) });
    this.resumeIfRoom();
  }

  /**
   * Prefetch is bounded by bytes and by records: two reads' worth is enough to keep the sink
   * busy, and bounding by records too keeps the worker's memory flat however deep the backlog
   * (small records would otherwise pile up to the byte bound).
   */
  private full(): boolean {
    return (
      this.bufferBytes >= this.options.maxBufferBytes || this.buffer.length >= 2 * this.wantRecords
    );
  }

  private resumeIfRoom(): void {
    if (
      this.paused &&
      this.bufferBytes < this.options.maxBufferBytes / 2 &&
      this.buffer.length <= this.wantRecords
    ) {
      this.paused = false;
      this.consumer?.resume([{ topic: this.topic, partitions: [this.partition] }]);
    }
  }

  private ensureStarted(fromOffset: number): Promise<void> {
    this.starting ??= this.start(fromOffset).catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private async start(fromOffset: number): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `pinpipe-reader-${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: this.options.fetchBytes,
      maxBytes: this.options.fetchBytes,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 5 },
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.failure = payload.error;
      this.wake();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    // Before run(): batches that arrive before the seek below start at the log's beginning and
    // are skipped up to the position.
    this.consumer = consumer;
    this.position = fromOffset;
    await consumer.run({
      autoCommit: false,
      // Resolving is what moves kafkajs's fetch position on; nothing is committed.
      eachBatchAutoResolve: true,
      eachBatch: (payload) => Promise.resolve(this.onBatch(payload)),
    });
    if (this.otherPartitions.length > 0) {
      consumer.pause([{ topic: this.topic, partitions: this.otherPartitions }]);
    }
    consumer.seek({ topic: this.topic, partition: this.partition, offset: String(fromOffset) });
  }

  private onBatch(payload: EachBatchPayload): void {
    const { batch } = payload;
    // Fetched before the latest seek: these records are not where the reader now stands.
    if (batch.partition !== this.partition || payload.isStale()) return;
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < this.position) continue; // the start of a compressed batch, already seen
      const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
      this.buffer.push({
        offset,
        timestamp: Number(m.timestamp),
        key: m.key ? m.key.toString('utf8') : null,
        // A Buffer is a Uint8Array already: no second view per record (GC is a third of the
        // sink's CPU on a backlog).
        value: m.value ?? null,
        size,
        ...(m.headers ? { headers: decodeHeaders(m.headers) } : {}),
      });
      this.bufferBytes += size;
      this.position = offset + 1;
    }
    if (!this.paused && this.full()) {
      this.paused = true;
      this.consumer?.pause([{ topic: this.topic, partitions: [this.partition] }]);
    }
    this.wake();
  }
}

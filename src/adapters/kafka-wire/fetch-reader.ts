import { type ConsumedRecord, UnreadableRecordsError } from '../../ports/kafka';
import { BrokerConnection } from './broker-connection';
import {
  decodeFetchResponse,
  encodeFetchRequest,
  FETCH_ERRORS,
  ISOLATION_READ_COMMITTED,
  ProtocolError,
  UnsupportedBatchError,
} from './fetch-codec';
import { decodeRecordBatches } from './record-batches';

export interface ReaderRead {
  fromOffset: number;
  maxRecords: number;
  maxBytes: number;
  maxWaitMs: number;
  /** Return once the read reaches this offset (the high watermark when the read began). */
  returnAtOffset?: number;
}

export interface FetchReaderDeps {
  clientId: string;
  /** Where the partition's leader listens (asked again after any failure). */
  locateLeader(topic: string, partition: number): Promise<{ host: string; port: number }>;
  /** The partition's first offset still in the log (after an OFFSET_OUT_OF_RANGE). */
  lowWatermark(topic: string, partition: number): Promise<number>;
  connectTimeoutMs?: number;
  /** How long past a fetch's own wait a response may take before the connection is dropped. */
  responseGraceMs?: number;
}

export interface FetchReaderOptions {
  /** Bytes asked of the broker per fetch; a batch larger than this still comes whole. */
  fetchBytes: number;
}

interface Pending {
  records: ConsumedRecord[];
  next: number;
}

interface Fetched {
  records: ConsumedRecord[];
  nextOffset: number;
  highWatermark: number;
}

/** A fetch the broker refused; `retriable` as Kafka defines it for that error code. */
export class KafkaFetchError extends Error {
  override name = 'KafkaFetchError';
  constructor(
    message: string,
    readonly code: number,
    readonly retriable: boolean,
  ) {
    super(message);
  }
}

const LONG_POLL_MS = 500;

/**
 * Reads one partition at exact offsets with Fetch requests to its leader: no consumer group,
 * no join, no commits. It keeps one fetch ahead of the reads (so the broker and the network work
 * while the sink writes to S3) and the records a read left over; both are at most one fetch in
 * size, so memory stays flat however deep the backlog. Reads of one partition are serialised.
 */
export class FetchReader {
  private connection?: Promise<BrokerConnection>;
  /** Records a read left over, and the offset after them (where the next fetch starts). */
  private spare: Pending | undefined;
  private ahead: { offset: number; fetched: Promise<Fetched> } | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private failure?: Error;
  lastUsed = Date.now();
  /** The partition's high watermark as the latest fetch response gave it. */
  highWatermark: number | undefined;

  constructor(
    private readonly deps: FetchReaderDeps,
    readonly topic: string,
    readonly partition: number,
    private readonly options: FetchReaderOptions,
  ) {}

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Records fetched ahead of the reads and not yet returned. */
  get buffered(): number {
    return this.spare?.records.length ?? 0;
  }

  read(input: ReaderRead): Promise<ConsumedRecord[]> {
    const run = this.lock.then(() => this.readNow(input));
    this.lock = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.failure ??= new Error(`reader of ${this.topic}/${this.partition} is closed`);
    this.ahead = undefined;
    this.spare = undefined;
    const connection = this.connection;
    this.connection = undefined;
    (await connection?.catch(() => undefined))?.close();
  }

  private async readNow(input: ReaderRead): Promise<ConsumedRecord[]> {
    if (this.failure) throw this.failure;
    this.lastUsed = Date.now();
    try {
      const out = await this.collect(input);
      this.lastUsed = Date.now();
      return out;
    } catch (err) {
      this.failure = err as Error;
      await this.close();
      throw err;
    }
  }

  private async collect(input: ReaderRead): Promise<ConsumedRecord[]> {
    const out: ConsumedRecord[] = [];
    let bytes = 0;
    let position = input.fromOffset;
    const deadline = Date.now() + input.maxWaitMs;
    let pending = this.takeSpare(position);
    for (let first = true; ; first = false) {
      if (!pending) {
        const caughtUp = input.returnAtOffset !== undefined && position >= input.returnAtOffset;
        const left = deadline - Date.now();
        if (caughtUp || (!first && left <= 0)) break;
        const fetched = await this.fetchAt(position, Math.max(0, Math.min(left, LONG_POLL_MS)));
        if (fetched.records.length === 0 && fetched.nextOffset === position) {
          if (Date.now() >= deadline) break;
          continue;
        }
        pending = { next: fetched.nextOffset, records: fetched.records };
        if (fetched.nextOffset < fetched.highWatermark) this.fetchAhead(fetched.nextOffset);
      }
      // Take from the pending records up to the read's limits; keep the rest for the next read.
      let n = 0;
      while (
        n < pending.records.length &&
        out.length < input.maxRecords &&
        bytes < input.maxBytes
      ) {
        const r = pending.records[n++]!;
        out.push(r);
        bytes += r.size;
      }
      if (n < pending.records.length) {
        this.spare = { next: pending.next, records: pending.records.slice(n) };
        break;
      }
      position = pending.next;
      pending = undefined;
      if (out.length >= input.maxRecords || bytes >= input.maxBytes) break;
    }
    return out;
  }

  /** The records left over by the last read, when this read starts where that one ended. */
  private takeSpare(position: number): Pending | undefined {
    const spare = this.spare;
    this.spare = undefined;
    return spare?.records[0]?.offset === position ? spare : undefined;
  }

  private fetchAhead(offset: number): void {
    const fetched = this.fetch(offset, 0);
    fetched.catch(() => undefined); // surfaces when a read takes it
    this.ahead = { offset, fetched };
  }

  private async fetchAt(offset: number, waitMs: number): Promise<Fetched> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead?.offset === offset) {
      const fetched = await ahead.fetched;
      if (fetched.records.length > 0 || fetched.nextOffset > offset) return fetched;
    }
    return this.fetch(offset, waitMs);
  }

  private async fetch(offset: number, waitMs: number): Promise<Fetched> {
    const connection = await this.connect();
    const correlationId = connection.newCorrelationId();
    const frame = encodeFetchRequest({
      correlationId,
      clientId: this.deps.clientId,
      topic: this.topic,
      partition: this.partition,
      fetchOffset: offset,
      maxWaitMs: waitMs,
      minBytes: 1,
      maxBytes: this.options.fetchBytes,
      partitionMaxBytes: this.options.fetchBytes,
      isolationLevel: ISOLATION_READ_COMMITTED,
    });
    const body = await connection.request(
      frame,
      correlationId,
      waitMs + (this.deps.responseGraceMs ?? 30_000),
    );
    const answer = decodeFetchResponse(body).find((p) => p.partition === this.partition);
    if (!answer) throw new ProtocolError(`Fetch response has no partition ${this.partition}`);
    if (answer.errorCode === 1) {
      // Retention deleted what we asked for: go on from the first offset Kafka still has
      // (the sink counts the gap as skipped), as a consumer reading from the beginning would.
      const low = await this.deps.lowWatermark(this.topic, this.partition);
      if (offset < low) return { records: [], nextOffset: low, highWatermark: low };
    }
    if (answer.errorCode !== 0) {
      const known = FETCH_ERRORS[answer.errorCode];
      throw new KafkaFetchError(
        `Kafka refused a fetch of ${this.topic}/${this.partition} at offset ${offset}: ` +
          `${known?.name ?? 'error'} (code ${answer.errorCode})`,
        answer.errorCode,
        known?.retriable ?? false,
      );
    }
    this.highWatermark = Math.max(this.highWatermark ?? 0, answer.highWatermark);
    try {
      const decoded = decodeRecordBatches(answer.records, offset, answer.abortedTransactions);
      return { ...decoded, highWatermark: answer.highWatermark };
    } catch (err) {
      if (!(err instanceof UnsupportedBatchError)) throw err;
      const at = Math.max(offset, err.baseOffset);
      throw new UnreadableRecordsError(
        `${this.topic}/${this.partition} at offset ${at}: ${err.message}`,
        this.topic,
        this.partition,
        at,
      );
    }
  }

  private connect(): Promise<BrokerConnection> {
    const current = this.connection;
    if (current) {
      return current.then((c) => {
        if (!c.failed) return c;
        if (this.connection === current) this.connection = undefined;
        throw c.failed;
      });
    }
    const opening = (async () => {
      const leader = await this.deps.locateLeader(this.topic, this.partition);
      return BrokerConnection.open(leader.host, leader.port, this.deps.connectTimeoutMs ?? 3_000);
    })();
    opening.catch(() => {
      if (this.connection === opening) this.connection = undefined;
    });
    this.connection = opening;
    return opening;
  }
}

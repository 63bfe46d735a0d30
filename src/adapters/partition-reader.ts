import {
  type ConnectionOptions,
  type ConnectionPool,
  FetchIsolationLevels,
  UnsupportedCompressionError,
} from '@platformatic/kafka';
import { type ConsumedRecord, UnreadableRecordsError } from '../ports/kafka';
import {
  type FetchApi,
  FetchDecodeError,
  type Fetched,
  type FetchResponse,
  type FetchResponsePartition,
  readFetched,
} from './fetch-response';
import { droppedFor, guardedPool } from './guarded-connections';

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

/**
 * A fetch of topic/partition at `offset` answered with bytes this reader will not decode (the
 * FetchDecodeError is its cause). Once may be a connection that broke mid-response, so the reader
 * fetches again; the same failure at the same offset twice in a row is in what Kafka holds, and
 * readPartition throws UnreadableRecordsError instead, which no retry will change.
 */
export class MalformedFetchError extends Error {
  override name = 'MalformedFetchError';
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const LONG_POLL_MS = 500;
const OFFSET_OUT_OF_RANGE = 1;

interface Broker {
  host: string;
  port: number;
}

export interface Target {
  topicId: string;
  broker: Broker;
}

interface Pending {
  records: ConsumedRecord[];
  next: number;
}

interface ReaderRead {
  fromOffset: number;
  maxRecords: number;
  maxBytes: number;
  maxWaitMs: number;
  /** Return once the read reaches this offset (the high watermark when the read began). */
  returnAtOffset?: number;
}

interface PartitionDeps {
  clientId: string;
  connection: ConnectionOptions;
  maxResponseBytes: number;
  fetchApi(): Promise<FetchApi>;
  /** The topic's id and the partition leader's address (fresh after a failure). */
  locate(topic: string, partition: number, fresh: boolean): Promise<Target>;
  lowWatermark(topic: string, partition: number): Promise<number>;
}

/**
 * One partition's reads, serialised, over a connection of its own (a long poll on one partition
 * never holds up another's fetch). It keeps one fetch ahead of the reads and the records a read
 * left over; both are at most one fetch in size, so memory stays flat however deep the backlog.
 */
export class PartitionReader {
  private pool?: ConnectionPool;
  private spare: Pending | undefined;
  private ahead: { offset: number; fetched: Promise<Fetched> } | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private failure?: Error;
  private target?: Target;
  lastUsed = Date.now();
  /** The partition's high watermark as the latest fetch response gave it. */
  highWatermark: number | undefined;

  constructor(
    private readonly deps: PartitionDeps,
    readonly topic: string,
    readonly partition: number,
    private readonly fetchBytes: number,
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
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close().catch(() => undefined);
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
        let fetched: Fetched;
        try {
          fetched = await this.fetchAt(position, Math.max(0, Math.min(left, LONG_POLL_MS)));
        } catch (err) {
          // Records no retry can read come after what this read has: return that (the sink
          // writes it), and let the next read, which starts at the bad batch, fail there.
          if (err instanceof UnreadableRecordsError && out.length > 0) break;
          throw err;
        }
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

  /** One Fetch of this partition at `offset`: its answer, refused or not. */
  private async send(
    offset: number,
    waitMs: number,
    bytes: number,
  ): Promise<{ answer?: FetchResponsePartition; error?: Error }> {
    // A closed reader opens no connection (a fetch ahead may still be retrying).
    if (this.failure) throw this.failure;
    const fresh = this.target === undefined;
    this.target ??= await this.deps.locate(this.topic, this.partition, fresh);
    const { topicId, broker } = this.target;
    this.pool ??= guardedPool(this.deps.clientId, this.deps.connection, this.deps.maxResponseBytes);
    const [api, connection] = await Promise.all([this.deps.fetchApi(), this.pool.get(broker)]);
    let response: FetchResponse | undefined;
    let error: Error | undefined;
    try {
      response = await api.async(
        connection,
        waitMs,
        1,
        bytes,
        FetchIsolationLevels.READ_COMMITTED,
        0, // no fetch session: every fetch is a full one
        -1,
        [
          {
            topicId,
            partitions: [
              {
                partition: this.partition,
                currentLeaderEpoch: -1,
                fetchOffset: BigInt(offset),
                lastFetchedEpoch: -1,
                partitionMaxBytes: bytes,
              },
            ],
          },
        ],
        [],
        '',
      );
    } catch (err) {
      // A partition the broker refused still comes with the parsed response.
      error = err instanceof Error ? err : new Error(String(err));
      response = (err as { response?: FetchResponse }).response;
      // A connection dropped for the bytes it received fails its requests as merely closed.
      error = droppedFor.get(connection) ?? error;
      if (error instanceof FetchDecodeError) {
        // A frame that lied about its size leaves the rest of the stream out of step: no
        // later response on this connection can be trusted to start where it should. A fetch
        // ahead waiting on it fails the same way, and is fetched again.
        if (!droppedFor.has(connection)) droppedFor.set(connection, error);
        connection.socket?.destroy();
        error = this.malformed(offset, error);
      }
    }
    const answer = response?.responses
      .find((t) => t.topicId === topicId)
      ?.partitions.find((p) => p.partitionIndex === this.partition);
    return { ...(answer ? { answer } : {}), ...(error === undefined ? {} : { error }) };
  }

  /**
   * A fetch, once more when its bytes were refused: a second refusal at the same offset is
   * records no retry will read (UnreadableRecordsError, so that the sink stops there).
   */
  private async fetch(offset: number, waitMs: number): Promise<Fetched> {
    try {
      return await this.fetchOnce(offset, waitMs);
    } catch (err) {
      if (!(err instanceof MalformedFetchError)) throw err;
      try {
        return await this.fetchOnce(offset, waitMs);
      } catch (again) {
        if (!(again instanceof MalformedFetchError) || again.offset !== offset) throw again;
        const unreadable = new UnreadableRecordsError(
          `${again.message} (the same in a second fetch)`,
          this.topic,
          this.partition,
          offset,
        );
        unreadable.cause = again;
        throw unreadable;
      }
    }
  }

  private async fetchOnce(offset: number, waitMs: number): Promise<Fetched> {
    let sent: Awaited<ReturnType<PartitionReader['send']>>;
    try {
      sent = await this.send(offset, waitMs, this.fetchBytes);
    } catch (err) {
      this.target = undefined; // a fresh leader and topic id next time
      throw err;
    }
    const { answer, error } = sent;
    if (error instanceof UnsupportedCompressionError) return this.readableBefore(offset);
    if (answer && answer.errorCode === OFFSET_OUT_OF_RANGE) {
      // Retention deleted what we asked for: go on from the first offset Kafka still has
      // (the sink counts the gap as skipped), as a consumer reading from the beginning would.
      const low = await this.deps.lowWatermark(this.topic, this.partition);
      if (offset < low) return { records: [], nextOffset: low, highWatermark: low };
    }
    if (answer && answer.errorCode !== 0) {
      this.target = undefined;
      const known = (error as { errors?: { apiId?: string; canRetry?: boolean }[] } | undefined)
        ?.errors?.[0];
      throw new KafkaFetchError(
        `Kafka refused a fetch of ${this.topic}/${this.partition} at offset ${offset}: ` +
          `${known?.apiId ?? 'error'} (code ${answer.errorCode})`,
        answer.errorCode,
        known?.canRetry ?? false,
      );
    }
    if (error !== undefined || !answer) {
      this.target = undefined;
      if (error !== undefined) throw error;
      throw this.malformed(
        offset,
        new FetchDecodeError('the Fetch response has no such partition'),
      );
    }
    let fetched: Fetched;
    try {
      fetched = readFetched(answer, offset);
    } catch (err) {
      throw this.malformed(offset, err as Error);
    }
    this.highWatermark = Math.max(this.highWatermark ?? 0, fetched.highWatermark);
    return fetched;
  }

  private malformed(offset: number, cause: Error): MalformedFetchError {
    return new MalformedFetchError(
      `${this.topic}/${this.partition} at offset ${offset}: ${cause.message}`,
      this.topic,
      this.partition,
      offset,
      { cause },
    );
  }

  /**
   * A fetch failed on a batch this process cannot decompress (over the cap, corrupt, an unknown
   * codec); the library says so for the whole response. Fetch one batch at a time from `offset`:
   * the records of the batches before the bad one are returned (so the sink writes them), and a
   * read that starts at the bad batch is an UnreadableRecordsError naming its offset.
   */
  private async readableBefore(offset: number): Promise<Fetched> {
    let at = offset;
    const records: ConsumedRecord[] = [];
    let highWatermark = offset;
    for (let step = 0; step < 100_000; step++) {
      const { answer, error } = await this.send(at, 0, 1);
      if (error instanceof UnsupportedCompressionError) {
        if (at > offset) return { records, nextOffset: at, highWatermark };
        throw new UnreadableRecordsError(
          `${this.topic}/${this.partition} at offset ${at}: ${error.message}`,
          this.topic,
          this.partition,
          at,
        );
      }
      if (error !== undefined) throw error;
      let next = at;
      try {
        if (answer?.errorCode === 0) {
          const one = readFetched(answer, at);
          records.push(...one.records);
          highWatermark = Math.max(highWatermark, one.highWatermark);
          next = one.nextOffset;
        }
      } catch (err) {
        throw this.malformed(at, err as Error);
      }
      if (next <= at) break;
      at = next;
    }
    throw this.malformed(
      offset,
      new FetchDecodeError(
        'the fetch failed on its compression, and no batch from there on fails alone',
      ),
    );
  }
}

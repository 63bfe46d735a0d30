import {
  type API,
  compressionsAlgorithmsByBitmask,
  type Connection,
  type ConnectionOptions,
  ConnectionPool,
  Consumer,
  crc32c,
  createAPI,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  FetchIsolationLevels,
  IS_COMPRESSED,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  type KafkaRecord,
  ListOffsetTimestamps,
  protocolErrorsCodesById,
  Reader,
  type RecordsBatch,
  ResponseError,
  type ResponseParser,
  UnexpectedCorrelationIdError,
  UnsupportedCompressionError,
} from '@platformatic/kafka';
import {
  type ConsumedRecord,
  type ReadPartitionInput,
  type ReadPartitionResult,
  UnreadableRecordsError,
} from '../ports/kafka';
import { installKafkaCodecs } from './kafka-codecs';

/**
 * KafkaReader.readPartition on @platformatic/kafka: Fetch requests at exact offsets straight to a
 * partition's leader, no consumer group, no join, no commits. The library does the wire
 * protocol (framing, TLS, SASL PLAIN/SCRAM/OAUTHBEARER, Fetch v13-v17 requests; codecs, bounded
 * in kafka-codecs.ts); Fetch responses and their record batches are decoded here, trusting no
 * length, count, checksum or offset in them (see "Hostile bytes" below). This file also keeps
 * what the sink needs on top: a read budget in records and bytes, a stop at the high watermark
 * seen when the read began, READ_COMMITTED with aborted transactions left out and control records
 * skipped, retention gaps skipped, and one fetch kept ahead of the reads.
 *
 * The library's Consumer is used only as a client for metadata, ApiVersions and ListOffsets; its
 * `fetch()` is not, because it filters aborted transactions itself, with one range per producer
 * (a second aborted transaction of one producer in a fetch is delivered) and not at all when
 * the abort marker falls past the end of the fetch. Fetches go through the library's Fetch API
 * with a parser of our own choosing, and the records are filtered here.
 */

export interface PlatformaticReaderOptions {
  brokers: string[];
  clientId: string;
  /** TLS and SASL, as @platformatic/kafka takes them. */
  tls?: ConnectionOptions['tls'];
  sasl?: ConnectionOptions['sasl'];
  connectTimeoutMs?: number;
  /** How long a request may take before its connection is dropped (a fetch waits ≤ 500 ms). */
  requestTimeoutMs?: number;
  /** Bytes asked of the broker per fetch; a batch larger than this still comes whole. */
  fetchBytes?: number;
  /**
   * Largest Fetch response frame taken (default 2 × fetchBytes + 1 MiB: room for a first batch
   * larger than fetchBytes). A frame that says it is larger fails the fetch when its size arrives,
   * before any of it is buffered: a broker cannot make the reader hold more than this.
   */
  maxResponseBytes?: number;
  /** Partition readers unused this long are closed (their connection with them). */
  readerIdleMs?: number;
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

/** Fetch response bytes this reader will not decode (framing, lengths, counts, CRC, offsets). */
export class FetchDecodeError extends Error {
  override name = 'FetchDecodeError';
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

type FetchResponse = fetchV17.FetchResponse;
type FetchResponsePartition = fetchV17.FetchResponsePartition;
type FetchResponsePartitionAbortedTransaction = fetchV17.FetchResponsePartitionAbortedTransaction;
type FetchArgs = Parameters<typeof fetchV17.createRequest>;
type FetchApi = API<FetchArgs, FetchResponse>;

/** Fetch versions that address topics by id, newest first (Kafka 3.1 and later speak v13). */
const FETCH_VERSIONS = [fetchV17, fetchV16, fetchV15, fetchV14, fetchV13] as const;
const FETCH_API_KEY = 1;
const LONG_POLL_MS = 500;
const LOG_APPEND_TIME = 0x08;
const OFFSET_OUT_OF_RANGE = 1;
const MiB = 1024 * 1024;
/** No answer to a request of this reader is shorter (a correlation id and a few fields). */
const MIN_FRAME_BYTES = 8;

interface Broker {
  host: string;
  port: number;
}

interface Target {
  topicId: string;
  broker: Broker;
}

export interface Fetched {
  records: ConsumedRecord[];
  nextOffset: number;
  highWatermark: number;
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

const readerKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class PlatformaticReader {
  /** Metadata, ApiVersions and ListOffsets only: it never joins its group, never fetches. */
  private readonly client: Consumer;
  private readonly readers = new Map<string, PartitionReader>();
  private fetchApi?: Promise<FetchApi>;
  private sweeper?: NodeJS.Timeout;
  private readonly connection: ConnectionOptions;

  constructor(private readonly options: PlatformaticReaderOptions) {
    installKafkaCodecs();
    this.connection = {
      connectTimeout: options.connectTimeoutMs ?? 3_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.sasl ? { sasl: options.sasl } : {}),
    };
    this.client = new Consumer({
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      groupId: `${options.clientId}-reader`,
      retries: 3,
      retryDelay: 200,
      ...this.connection,
    });
  }

  async readPartition(input: ReadPartitionInput): Promise<ReadPartitionResult> {
    const { topic, partition, fromOffset, maxRecords, maxWaitMs } = input;
    const maxBytes = input.maxBytes ?? Number.POSITIVE_INFINITY;
    const high = await this.highWatermarkBelow(topic, partition, fromOffset);
    if (fromOffset > high) {
      throw new RangeError(
        `offset ${fromOffset} is past the end of ${topic}/${partition} (high watermark ${high})`,
      );
    }
    const empty = { records: [] as ConsumedRecord[], nextOffset: fromOffset, highWatermark: high };
    if (maxRecords <= 0) return empty;
    if (input.untilCaughtUp && fromOffset >= high) return empty;

    const reader = this.readerFor(topic, partition);
    let records: ConsumedRecord[];
    try {
      records = await reader.read({
        fromOffset,
        maxRecords,
        maxBytes,
        maxWaitMs,
        ...(input.untilCaughtUp ? { returnAtOffset: high } : {}),
      });
    } catch (err) {
      await this.dropReader(reader);
      throw err;
    }
    const last = records[records.length - 1];
    const nextOffset = last ? last.offset + 1 : fromOffset;
    return {
      records,
      nextOffset,
      highWatermark: Math.max(high, nextOffset, reader.highWatermark ?? 0),
    };
  }

  /** Records fetched ahead of the reads of a partition and not yet returned. */
  buffered(topic: string, partition: number): number {
    return this.readers.get(readerKey(topic, partition))?.buffered ?? 0;
  }

  /** Drops the readers of topics that were deleted (a topic made again has a new id). */
  async forgetTopics(topics: readonly string[]): Promise<void> {
    const gone = [...this.readers.values()].filter((r) => topics.includes(r.topic));
    await Promise.all(gone.map((r) => this.dropReader(r)));
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.allSettled([...this.readers.values()].map((r) => this.dropReader(r)));
    await this.client.close();
  }

  /**
   * A high watermark to read against. While a reader's last fetch saw records past the offset,
   * that is recent enough (a backlog drains with no extra round trip per read); otherwise, and
   * before saying a partition is caught up or an offset is past its end, ask Kafka (READ_COMMITTED:
   * the end a committed reader can reach).
   */
  private async highWatermarkBelow(
    topic: string,
    partition: number,
    fromOffset: number,
  ): Promise<number> {
    const known = this.readers.get(readerKey(topic, partition))?.highWatermark;
    if (known !== undefined && fromOffset < known) return known;
    return this.listOffset(topic, partition, ListOffsetTimestamps.LATEST);
  }

  private async listOffset(topic: string, partition: number, timestamp: bigint): Promise<number> {
    const countOf = async (forceUpdate: boolean) =>
      (await this.client.metadata({ topics: [topic], forceUpdate })).topics.get(topic)
        ?.partitionsCount ?? 0;
    // Cached metadata may predate an increase of the partition count: ask again before refusing.
    let count = await countOf(false);
    if (partition >= count) count = await countOf(true);
    if (partition < 0 || partition >= count) {
      throw new RangeError(`partition ${partition} does not exist in topic ${topic}`);
    }
    const offsets = await this.client.listOffsets({
      topics: [topic],
      partitions: { [topic]: [partition] },
      timestamp,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    const offset = offsets.get(topic)?.[partition];
    if (offset === undefined) throw new Error(`Kafka listed no offset for ${topic}/${partition}`);
    return Number(offset);
  }

  private readerFor(topic: string, partition: number): PartitionReader {
    const key = readerKey(topic, partition);
    let reader = this.readers.get(key);
    if (reader?.failed) {
      void this.dropReader(reader);
      reader = undefined;
    }
    if (!reader) {
      const fetchBytes = this.options.fetchBytes ?? 4 * 1024 * 1024;
      reader = new PartitionReader(
        {
          clientId: this.options.clientId,
          connection: this.connection,
          maxResponseBytes: this.options.maxResponseBytes ?? 2 * fetchBytes + MiB,
          fetchApi: () => this.getFetchApi(),
          locate: (t, p, fresh) => this.locate(t, p, fresh),
          lowWatermark: (t, p) => this.listOffset(t, p, ListOffsetTimestamps.EARLIEST),
        },
        topic,
        partition,
        fetchBytes,
      );
      this.readers.set(key, reader);
      this.sweeper ??= setInterval(() => void this.sweepIdleReaders(), 15_000).unref();
    }
    return reader;
  }

  private async dropReader(reader: PartitionReader): Promise<void> {
    const key = readerKey(reader.topic, reader.partition);
    if (this.readers.get(key) === reader) this.readers.delete(key);
    await reader.close();
  }

  /** Readers cost a connection and a fetch of records each: close the ones no read used lately. */
  private async sweepIdleReaders(): Promise<void> {
    const idleSince = Date.now() - (this.options.readerIdleMs ?? 60_000);
    const idle = [...this.readers.values()].filter((r) => r.lastUsed < idleSince);
    await Promise.all(idle.map((r) => this.dropReader(r)));
  }

  private async locate(topic: string, partition: number, fresh: boolean): Promise<Target> {
    const meta = await this.client.metadata({ topics: [topic], forceUpdate: fresh });
    const info = meta.topics.get(topic);
    const leader = info?.partitions[partition]?.leader;
    const broker = leader === undefined ? undefined : meta.brokers.get(leader);
    if (!info || !broker) {
      throw new Error(`no leader is known for ${topic}/${partition} (leader ${leader})`);
    }
    return { topicId: info.id, broker: { host: broker.host, port: broker.port } };
  }

  /** The newest Fetch version both sides speak, with the response parser chosen here. */
  private getFetchApi(): Promise<FetchApi> {
    this.fetchApi ??= (async () => {
      const apis = await this.client.listApis();
      const fetch = apis.find((a) => a.apiKey === FETCH_API_KEY);
      const chosen = FETCH_VERSIONS.find(
        (v) => fetch && v.api.version >= fetch.minVersion && v.api.version <= fetch.maxVersion,
      );
      if (!chosen) {
        throw new Error(
          `the Kafka broker speaks Fetch v${fetch?.minVersion}-v${fetch?.maxVersion}; ` +
            'this reader needs v13 or later (Kafka 3.1 and later)',
        );
      }
      const parser: ResponseParser<FetchResponse> = (_correlationId, apiKey, apiVersion, reader) =>
        decodeFetchResponse(
          reader.buffer.slice(reader.position, reader.length),
          apiVersion,
          apiKey,
        );
      return createAPI<FetchArgs, FetchResponse>(
        FETCH_API_KEY,
        chosen.api.version,
        chosen.createRequest,
        parser,
      );
    })().catch((err: unknown) => {
      this.fetchApi = undefined;
      throw err;
    });
    return this.fetchApi;
  }
}

/**
 * One partition's reads, serialised, over a connection of its own (a long poll on one partition
 * never holds up another's fetch). It keeps one fetch ahead of the reads and the records a read
 * left over; both are at most one fetch in size, so memory stays flat however deep the backlog.
 */
class PartitionReader {
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

// ---------------------------------------------------------------------------------------------
// Hostile bytes. What a broker (or anything between it and this process) sends is decoded here
// without trusting it: every length, count and offset is checked against the bytes that are
// there before it is used, so no input loops, reads backwards, allocates past its own size (and
// the frame and decompression caps), or throws anything but a typed error.

/** Why a guarded connection was dropped, when it was for the bytes it received. */
const droppedFor = new WeakMap<Connection, FetchDecodeError>();

/**
 * A ConnectionPool whose connections check each response frame's size as it arrives. The
 * library's connection trusts the size (it reads a correlation id that is not there when the
 * size is under 4, throwing from its socket handler: an uncaught exception; it buffers a size of
 * 2^31 − 1 until the request times out) and has no cap. It has no hook either, so its socket's
 * 'data' listener is put behind one of ours: a frame size outside [MIN_FRAME_BYTES,
 * maxResponseBytes] drops the connection at once, and nothing the listener throws escapes.
 */
function guardedPool(
  clientId: string,
  options: ConnectionOptions,
  maxResponseBytes: number,
): ConnectionPool {
  const pool = new ConnectionPool(clientId, options);
  pool.on('connecting', ({ connection }) => {
    // The library emits 'error' on a connection whose socket fails, and the pool listens only
    // once: a second one, unheard, would throw from the socket's handler.
    connection.on('error', (err: Error) => {
      // The library drops a connection that answers an unknown correlation id (a frame that
      // lied about its size, or bytes out of place): malformed, not a network failure.
      if (err.cause instanceof UnexpectedCorrelationIdError && !droppedFor.has(connection)) {
        droppedFor.set(connection, new FetchDecodeError(err.cause.message));
      }
    });
    // The socket exists once connect() returns (right after this event), and the library adds
    // its 'data' listener on the socket's connect event, a later turn: ours comes right after.
    process.nextTick(() =>
      connection.socket?.once(options.tls ? 'secureConnect' : 'connect', () =>
        checkFrames(connection, maxResponseBytes),
      ),
    );
  });
  return pool;
}

function checkFrames(connection: Connection, maxFrameBytes: number): void {
  const socket = connection.socket;
  const library = socket.listeners('data') as ((chunk: Buffer) => void)[];
  socket.removeAllListeners('data');
  const size = Buffer.alloc(4);
  let have = 0; // bytes of the next frame's size seen so far
  let left = 0; // bytes of the current frame still to come
  const refuse = (error: FetchDecodeError) => {
    droppedFor.set(connection, error);
    socket.destroy(error);
  };
  const forward = (chunk: Buffer) => {
    try {
      for (const listener of library) listener.call(socket, chunk);
    } catch (err) {
      refuse(new FetchDecodeError(`the Kafka client failed on a response: ${messageOf(err)}`));
    }
  };
  socket.on('data', (chunk: Buffer) => {
    if (socket.destroyed) return;
    for (let at = 0; at < chunk.length;) {
      if (left > 0) {
        const n = Math.min(left, chunk.length - at);
        left -= n;
        at += n;
        continue;
      }
      size[have++] = chunk[at++]!;
      if (have < 4) continue;
      have = 0;
      left = size.readInt32BE(0);
      if (left < MIN_FRAME_BYTES || left > maxFrameBytes) {
        // The frames before this one are whole: the library answers their requests first.
        if (at > 4) forward(chunk.subarray(0, at - 4));
        refuse(
          new FetchDecodeError(
            left < MIN_FRAME_BYTES
              ? `a response frame of ${left} bytes, too short for any response`
              : `a response frame of ${left} bytes, over maxResponseBytes (${maxFrameBytes})`,
          ),
        );
        return;
      }
    }
    forward(chunk);
  });
}

const messageOf = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}` : `thrown ${String(err)}`;

/** Smallest record: its length, attributes, timestamp and offset deltas, key, value, headers. */
const MIN_RECORD_BYTES = 7;
/** A batch's header after its length field (leader epoch … records count). */
const BATCH_HEADER_BYTES = 49;
const BATCH_RECORDS_AT = 61;
/** Offsets and watermarks become numbers: beyond 2^53 they would not be the same numbers. */
const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Bounds-checked reads over one buffer, up to `end`; anything out of bounds or range throws. */
class Wire {
  constructor(
    readonly b: Buffer,
    public at = 0,
    public end = b.length,
  ) {}

  get left(): number {
    return this.end - this.at;
  }

  fail(what: string, why: string): never {
    throw new FetchDecodeError(`${what} at byte ${this.at}: ${why}`);
  }

  take(n: number, what: string): number {
    if (n > this.end - this.at) this.fail(what, `needs ${n} bytes, ${this.end - this.at} left`);
    const at = this.at;
    this.at += n;
    return at;
  }

  int16(what: string): number {
    return this.b.readInt16BE(this.take(2, what));
  }

  int32(what: string): number {
    return this.b.readInt32BE(this.take(4, what));
  }

  int64(what: string): bigint {
    return this.b.readBigInt64BE(this.take(8, what));
  }

  /** An int64 offset or watermark, as a number: from `min` (−1: none) to 2^53 − 1. */
  offset(what: string, min = -1): number {
    const v = this.int64(what);
    if (v < BigInt(min) || v > BigInt(MAX_OFFSET)) this.fail(what, `${v} is out of range`);
    return Number(v);
  }

  uuid(what: string): string {
    const hex = this.b.toString('hex', this.take(16, what), this.at);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** An unsigned varint of at most `bytes` bytes (5: 32 bits, 8: up to 2^53). */
  uvarint(what: string, bytes = 5): number {
    let v = 0;
    for (let i = 0, scale = 1; i < bytes; i++, scale *= 128) {
      if (this.at >= this.end) this.fail(what, 'varint cut short');
      const byte = this.b[this.at++]!;
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (v > (bytes === 5 ? 0xffffffff : MAX_OFFSET)) this.fail(what, `varint ${v} too large`);
        return v;
      }
    }
    return this.fail(what, `varint longer than ${bytes} bytes`);
  }

  /** A zigzag varint (Kafka's varint; as varlong, up to ±2^52). */
  varint(what: string, bytes = 5): number {
    const byte = this.b[this.at];
    if (byte !== undefined && byte < 0x80 && this.at < this.end) {
      this.at++;
      return byte & 1 ? -(byte + 1) / 2 : byte / 2;
    }
    const v = this.uvarint(what, bytes);
    return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
  }

  /** Varint-length bytes of a record (−1: null), a view of the buffer. */
  varbytes(what: string): Buffer | null {
    const n = this.varint(what);
    if (n === -1) return null;
    if (n < -1 || n > this.end - this.at) {
      this.fail(what, `length ${n}, ${this.end - this.at} left`);
    }
    return this.b.subarray(this.at, (this.at += n));
  }

  /** A compact array's element count (−1: null), each element at least `each` bytes. */
  count(what: string, each: number): number {
    const n = this.uvarint(what) - 1;
    if (n > this.left / each) this.fail(what, `${n} elements in ${this.left} bytes`);
    return n;
  }

  /** A tagged-field section: skipped, each field by its size. */
  tags(what: string): void {
    for (let n = this.count(what, 2); n > 0; n--) {
      this.uvarint(what);
      this.take(this.uvarint(what), what);
    }
  }
}

/**
 * A Fetch response (v13-v17, the layout is the same; `body` from after the response header) as
 * the library's parser would give it, decoded without trusting a length: @platformatic/kafka
 * 1.x's parser reads record counts, key and header lengths and header counts as they come
 * (negative lengths move it backwards, so some inputs loop until the heap is full), checks no
 * CRC, and lets record offsets fall outside their batch. Here every batch's CRC-32C is checked,
 * its offsets and counts must agree, and anything else is a FetchDecodeError. Partition errors
 * throw the library's ResponseError (with the response), as its parser does; a codec this
 * process cannot decode throws its UnsupportedCompressionError.
 */
export function decodeFetchResponse(
  body: Buffer,
  apiVersion = 17,
  apiKey = FETCH_API_KEY,
): FetchResponse {
  const errors: [string, [number, null]][] = [];
  const known = (code: number) => code !== 0 && protocolErrorsCodesById[code] !== undefined;
  let response: FetchResponse;
  try {
    const w = new Wire(body);
    const throttleTimeMs = w.int32('throttle time');
    const errorCode = w.int16('error code');
    const sessionId = w.int32('session id');
    if (known(errorCode)) errors.push(['', [errorCode, null]]);
    response = { throttleTimeMs, errorCode, sessionId, responses: [] };
    for (let t = w.count('topics', 18); t > 0; t--) {
      const topicId = w.uuid('topic id');
      const partitions: FetchResponsePartition[] = [];
      for (let n = w.count('partitions', 37); n > 0; n--) {
        const partitionIndex = w.int32('partition');
        const code = w.int16('error code');
        const highWatermark = BigInt(w.offset('high watermark'));
        const lastStableOffset = BigInt(w.offset('last stable offset'));
        const logStartOffset = BigInt(w.offset('log start offset'));
        const abortedTransactions: FetchResponsePartitionAbortedTransaction[] = [];
        for (let a = w.count('aborted transactions', 17); a > 0; a--) {
          const producerId = w.int64('producer id');
          abortedTransactions.push({
            producerId,
            firstOffset: BigInt(w.offset('first offset', 0)),
          });
          w.tags('aborted transaction tags');
        }
        const partition: FetchResponsePartition = {
          partitionIndex,
          errorCode: code,
          highWatermark,
          lastStableOffset,
          logStartOffset,
          abortedTransactions,
          preferredReadReplica: w.int32('preferred read replica'),
        };
        const size = w.uvarint('records length') - 1;
        if (size > 0) {
          partition.records = decodeBatches(body.subarray(w.take(size, 'records'), w.at));
        }
        w.tags('partition tags');
        if (known(code)) {
          const path = `/responses/${response.responses.length}/partitions/${partitions.length}`;
          errors.push([path, [code, null]]);
        }
        partitions.push(partition);
      }
      w.tags('topic tags');
      response.responses.push({ topicId, partitions });
    }
    w.tags('response tags');
    if (w.left !== 0) w.fail('response', `${w.left} bytes after its end`);
  } catch (err) {
    if (err instanceof FetchDecodeError || err instanceof UnsupportedCompressionError) throw err;
    throw new FetchDecodeError(`undecodable Fetch response: ${messageOf(err)}`, { cause: err });
  }
  if (errors.length > 0) {
    throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  }
  return response;
}

/**
 * The whole record batches of a records section. The last one may be cut (a broker fills a
 * fetch to its size), and is left for the next fetch; but a section with bytes and no whole
 * batch is malformed (a broker returns the first batch whole, however large).
 */
function decodeBatches(records: Buffer): RecordsBatch[] {
  const batches: RecordsBatch[] = [];
  let previous = -1; // the last offset of the batch before
  let at = 0;
  while (records.length - at >= 12) {
    const length = records.readInt32BE(at + 8);
    const end = at + 12 + length;
    if (length < 0) throw new FetchDecodeError(`batch at byte ${at}: length ${length}`);
    if (end > records.length) break;
    const batch = decodeBatch(records.subarray(at, end), previous);
    previous = Number(batch.firstOffset) + batch.lastOffsetDelta;
    batches.push(batch);
    at = end;
  }
  if (batches.length === 0) {
    throw new FetchDecodeError(`a records section of ${records.length} bytes holds no whole batch`);
  }
  return batches;
}

function decodeBatch(b: Buffer, previous: number): RecordsBatch {
  const w = new Wire(b);
  const base = w.offset('base offset', 0);
  const where = `batch at offset ${base}`;
  const magic = b.length > 16 ? b[16]! : -1;
  if (magic !== 2) w.fail(where, `message format ${magic} (this reader reads format 2)`);
  if (b.length - 12 < BATCH_HEADER_BYTES) w.fail(where, `length ${b.length - 12}`);
  // The library's crc32c copies a plain Buffer (new Uint8Array(buffer)) but reads a
  // DynamicBuffer's in place.
  const crc = b.readUInt32BE(17);
  const actual = crc32c(Reader.from(b.subarray(21)).buffer);
  if (actual !== crc) w.fail(where, `CRC-32C ${actual} where the batch says ${crc}`);
  const attributes = b.readInt16BE(21);
  const lastOffsetDelta = b.readInt32BE(23);
  const last = base + lastOffsetDelta;
  if (lastOffsetDelta < 0 || last > MAX_OFFSET) {
    w.fail(where, `last offset delta ${lastOffsetDelta}`);
  }
  if (base <= previous) {
    w.fail(where, `starts at or before the end of the batch before (${previous})`);
  }
  const count = b.readInt32BE(57);
  if (count < 0 || count > lastOffsetDelta + 1) {
    w.fail(where, `${count} records for offsets ${base}..${last}`);
  }
  let data = b.subarray(BATCH_RECORDS_AT);
  const codec = attributes & IS_COMPRESSED;
  if (codec !== 0) {
    const algorithm = compressionsAlgorithmsByBitmask[codec];
    if (!algorithm) {
      throw new UnsupportedCompressionError(
        `Unsupported compression algorithm with bitmask ${codec}`,
      );
    }
    let out: Uint8Array;
    try {
      out = algorithm.decompressSync(data);
    } catch (err) {
      if (err instanceof UnsupportedCompressionError) throw err;
      return w.fail(where, `records do not decompress (codec ${codec}): ${messageOf(err)}`);
    }
    data = Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  const batch: RecordsBatch = {
    firstOffset: BigInt(base),
    length: b.length - 12,
    partitionLeaderEpoch: b.readInt32BE(12),
    magic,
    crc,
    attributes,
    lastOffsetDelta,
    firstTimestamp: b.readBigInt64BE(27),
    maxTimestamp: b.readBigInt64BE(35),
    producerId: b.readBigInt64BE(43),
    producerEpoch: b.readInt16BE(51),
    firstSequence: b.readInt32BE(53),
    records: decodeRecords(data, count, base, lastOffsetDelta),
  };
  const control = batch.records[0];
  if ((attributes & IS_CONTROL) !== 0 && control && (control.key?.length ?? 0) < 4) {
    w.fail(where, 'a control record without a type');
  }
  return batch;
}

/** `count` records filling `data` exactly, at strictly increasing offsets inside their batch. */
function decodeRecords(
  data: Buffer,
  count: number,
  base: number,
  lastOffsetDelta: number,
): KafkaRecord[] {
  const where = `batch at offset ${base}`;
  const w = new Wire(data);
  if (count > data.length / MIN_RECORD_BYTES) {
    w.fail(where, `${count} records in ${data.length} bytes`);
  }
  const records: KafkaRecord[] = [];
  let previous = -1;
  for (let i = 0; i < count; i++) {
    w.end = data.length;
    const length = w.varint('record length');
    if (length < MIN_RECORD_BYTES - 1 || length > w.left) w.fail(where, `record length ${length}`);
    w.end = w.at + length;
    const attributes = w.b.readInt8(w.take(1, 'record attributes'));
    const timestampDelta = w.varint('timestamp delta', 8);
    const offsetDelta = w.varint('offset delta');
    if (offsetDelta <= previous || offsetDelta > lastOffsetDelta) {
      w.fail(
        where,
        `a record at offset ${base + offsetDelta} (after ${base + previous}, batch ends at ${base + lastOffsetDelta})`,
      );
    }
    previous = offsetDelta;
    const key = w.varbytes('record key');
    const value = w.varbytes('record value');
    const headerCount = w.varint('header count');
    if (headerCount < 0 || headerCount > w.left / 2) {
      w.fail(where, `${headerCount} headers in ${w.left} bytes`);
    }
    const headers: KafkaRecord['headers'] = [];
    for (let h = 0; h < headerCount; h++) {
      const name = w.varbytes('header name');
      if (name === null) w.fail(where, 'a header without a name');
      headers.push([name, w.varbytes('header value')]);
    }
    if (w.left !== 0) w.fail(where, `a record of ${length} bytes with ${w.left} left over`);
    records.push({
      length,
      attributes,
      timestampDelta: BigInt(timestampDelta),
      offsetDelta,
      key,
      value,
      headers,
    });
  }
  w.end = data.length;
  if (w.left !== 0) w.fail(where, `${w.left} bytes after its ${count} records`);
  return records;
}

/**
 * A decoded partition answer's records from `fromOffset` on (toConsumedRecords), with what the
 * decoder cannot check: a high watermark, and no record at or past it. Kafka puts in a response
 * the high watermark from before it read the log and reads up to the one at the time of the
 * read, so a response can hold records past its own; those are left for the next fetch, whose
 * high watermark covers them. The same cut keeps a response that claims records far past the end
 * of the partition from moving a reader there.
 */
export function readFetched(answer: FetchResponsePartition, fromOffset: number): Fetched {
  const highWatermark = Number(answer.highWatermark);
  if (highWatermark < 0) throw new FetchDecodeError(`high watermark ${highWatermark}`);
  let decoded: ReturnType<typeof toConsumedRecords>;
  try {
    decoded = toConsumedRecords(answer.records ?? [], fromOffset, answer.abortedTransactions);
  } catch (err) {
    throw new FetchDecodeError(messageOf(err), { cause: err });
  }
  if (decoded.nextOffset <= highWatermark) return { ...decoded, highWatermark };
  let n = decoded.records.length;
  while (n > 0 && decoded.records[n - 1]!.offset >= highWatermark) n--;
  return {
    records: n === decoded.records.length ? decoded.records : decoded.records.slice(0, n),
    nextOffset: Math.max(fromOffset, highWatermark),
    highWatermark,
  };
}

/** Aborted producers whose transactions cover a batch (Kafka's READ_COMMITTED rule). */
class AbortedFilter {
  private readonly pending: { producerId: bigint; firstOffset: number }[];
  private readonly aborted = new Set<bigint>();

  constructor(transactions: readonly FetchResponsePartitionAbortedTransaction[]) {
    this.pending = transactions
      .map((t) => ({ producerId: t.producerId, firstOffset: Number(t.firstOffset) }))
      .sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /** True when the batch's records belong to an aborted transaction. */
  skips(producerId: bigint, lastOffset: number, isControl: boolean, abortMarker: boolean): boolean {
    while (this.pending.length > 0 && this.pending[0]!.firstOffset <= lastOffset) {
      this.aborted.add(this.pending.shift()!.producerId);
    }
    if (isControl) {
      if (abortMarker) this.aborted.delete(producerId);
      return true;
    }
    return this.aborted.has(producerId);
  }
}

/** The type of a control record (0 abort, 1 commit): a version and a type, two bytes each. */
function controlType(record: KafkaRecord | undefined): number {
  const key = record?.key;
  if (!key || key.length < 4) throw new Error('control record without a type');
  return key.readInt16BE(2);
}

/**
 * The library's decoded batches as ConsumedRecords, from `fromOffset` on: offsets and timestamps
 * as numbers, keys as strings, values as the library's buffers (no copy), headers decoded once
 * per run of identical header blocks. Control batches and aborted transactions are left out;
 * `nextOffset` is past the last batch, control batches included.
 */
export function toConsumedRecords(
  batches: readonly RecordsBatch[],
  fromOffset: number,
  abortedTransactions: readonly FetchResponsePartitionAbortedTransaction[] = [],
): { records: ConsumedRecord[]; nextOffset: number } {
  const records: ConsumedRecord[] = [];
  const filter = new AbortedFilter(abortedTransactions);
  let nextOffset = fromOffset;
  let lastHeaders: KafkaRecord['headers'] | undefined;
  let headers: Record<string, string> | undefined;
  for (const batch of batches) {
    const baseOffset = Number(batch.firstOffset);
    const lastOffset = baseOffset + batch.lastOffsetDelta;
    nextOffset = Math.max(nextOffset, lastOffset + 1);
    if (lastOffset < fromOffset) continue;
    const isControl = (batch.attributes & IS_CONTROL) !== 0;
    if ((batch.attributes & IS_TRANSACTIONAL) !== 0 || isControl) {
      // Compaction can leave a control batch empty: it marks nothing then.
      const abortMarker =
        isControl && batch.records.length > 0 && controlType(batch.records[0]) === 0;
      if (filter.skips(batch.producerId, lastOffset, isControl, abortMarker)) continue;
    }
    const baseTimestamp = Number(batch.firstTimestamp);
    const appendTime =
      (batch.attributes & LOG_APPEND_TIME) !== 0 ? Number(batch.maxTimestamp) : undefined;
    for (const r of batch.records) {
      const offset = baseOffset + r.offsetDelta;
      if (offset < fromOffset) continue;
      if (!sameHeaders(lastHeaders, r.headers)) {
        lastHeaders = r.headers;
        headers = decodeHeaders(r.headers);
      }
      const record: ConsumedRecord = {
        offset,
        timestamp: appendTime ?? baseTimestamp + Number(r.timestampDelta),
        key: r.key === null ? null : r.key.toString('utf8'),
        value: r.value,
        size: (r.value?.length ?? 0) + (r.key?.length ?? 0),
      };
      if (headers) record.headers = headers;
      records.push(record);
    }
  }
  return { records, nextOffset };
}

/** Records of one producer usually carry identical headers: compare rather than decode. */
function sameHeaders(a: KafkaRecord['headers'] | undefined, b: KafkaRecord['headers']): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const [ak, av] = a[i]!;
    const [bk, bv] = b[i]!;
    if (!sameBytes(ak, bk) || !sameBytes(av, bv)) return false;
  }
  return true;
}

const sameBytes = (a: Buffer | null, b: Buffer | null) =>
  a === null || b === null ? a === b : a.equals(b);

/** Header values decoded as UTF-8; a header with a null value is left out, the first name wins. */
function decodeHeaders(pairs: KafkaRecord['headers']): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (name === null || value === null) continue;
    const key = name.toString('utf8');
    if (!(key in out)) out[key] = value.toString('utf8');
  }
  return Object.freeze(out);
}

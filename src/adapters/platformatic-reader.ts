import {
  type API,
  type ConnectionOptions,
  ConnectionPool,
  Consumer,
  createAPI,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  FetchIsolationLevels,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  type KafkaRecord,
  ListOffsetTimestamps,
  Reader,
  type RecordsBatch,
  type ResponseParser,
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
 * KafkaPort.readPartition on @platformatic/kafka: Fetch requests at exact offsets straight to a
 * partition's leader, no consumer group, no join, no commits. The library does the wire
 * protocol (framing, TLS, SASL PLAIN/SCRAM/OAUTHBEARER, Fetch v13-v17, record batches,
 * gzip/snappy/lz4 and, where node:zlib has it, zstd); this file keeps what the sink needs on
 * top: a read budget in records and bytes, a stop at the high watermark seen when the read began,
 * READ_COMMITTED with aborted transactions left out and control records skipped, retention gaps
 * skipped, and one fetch kept ahead of the reads.
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
  /** Partition readers unused this long are closed (their connection with them). */
  readerIdleMs?: number;
  /**
   * Copy each Fetch response into one buffer before the library decodes it (default true). The
   * library's reader looks every read up from the first socket chunk of the response; over one
   * contiguous buffer each read is a direct index.
   */
  contiguousResponses?: boolean;
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

interface Broker {
  host: string;
  port: number;
}

interface Target {
  topicId: string;
  broker: Broker;
}

interface Fetched {
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
      reader = new PartitionReader(
        {
          clientId: this.options.clientId,
          connection: this.connection,
          fetchApi: () => this.getFetchApi(),
          locate: (t, p, fresh) => this.locate(t, p, fresh),
          lowWatermark: (t, p) => this.listOffset(t, p, ListOffsetTimestamps.EARLIEST),
        },
        topic,
        partition,
        this.options.fetchBytes ?? 4 * 1024 * 1024,
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
      const parse: ResponseParser<FetchResponse> = chosen.parseResponse;
      const parser: ResponseParser<FetchResponse> =
        this.options.contiguousResponses === false
          ? parse
          : (correlationId, apiKey, apiVersion, reader) =>
              parse(
                correlationId,
                apiKey,
                apiVersion,
                Reader.from(reader.buffer.slice(reader.position, reader.length)),
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

  /** One Fetch of this partition at `offset`: its answer, refused or not. */
  private async send(
    offset: number,
    waitMs: number,
    bytes: number,
  ): Promise<{ answer?: FetchResponsePartition; error?: Error }> {
    const fresh = this.target === undefined;
    this.target ??= await this.deps.locate(this.topic, this.partition, fresh);
    const { topicId, broker } = this.target;
    this.pool ??= new ConnectionPool(this.deps.clientId, this.deps.connection);
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
    }
    const answer = response?.responses
      .find((t) => t.topicId === topicId)
      ?.partitions.find((p) => p.partitionIndex === this.partition);
    return { ...(answer ? { answer } : {}), ...(error === undefined ? {} : { error }) };
  }

  private async fetch(offset: number, waitMs: number): Promise<Fetched> {
    let sent: Awaited<ReturnType<PartitionReader['send']>>;
    try {
      sent = await this.send(offset, waitMs, this.fetchBytes);
    } catch (err) {
      this.target = undefined; // a fresh leader and topic id next time
      throw err;
    }
    const { answer, error } = sent;
    if (error instanceof UnsupportedCompressionError) throw await this.unreadableFrom(offset);
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
      throw new Error(`Fetch response has no partition ${this.topic}/${this.partition}`);
    }
    const highWatermark = Number(answer.highWatermark);
    this.highWatermark = Math.max(this.highWatermark ?? 0, highWatermark);
    const decoded = toConsumedRecords(answer.records ?? [], offset, answer.abortedTransactions);
    return { ...decoded, highWatermark };
  }

  /**
   * A fetch failed on a codec this process cannot decode; the library says so for the whole
   * response. Fetch one batch at a time from `offset` to find the first record no retry will
   * read, and say where it is.
   */
  private async unreadableFrom(offset: number): Promise<UnreadableRecordsError> {
    let at = offset;
    for (let step = 0; step < 100_000; step++) {
      const { answer, error } = await this.send(at, 0, 1);
      if (error instanceof UnsupportedCompressionError) {
        return new UnreadableRecordsError(
          `${this.topic}/${this.partition} at offset ${at}: ${error.message}`,
          this.topic,
          this.partition,
          at,
        );
      }
      if (error !== undefined) throw error;
      const next = answer
        ? toConsumedRecords(answer.records ?? [], at, answer.abortedTransactions).nextOffset
        : at;
      if (next <= at) break;
      at = next;
    }
    throw new Error(
      `${this.topic}/${this.partition}: a fetch at offset ${offset} failed on its compression, ` +
        'and no batch from there on fails alone',
    );
  }
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
      const abortMarker = isControl && controlType(batch.records[0]) === 0;
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

import {
  type ConnectionOptions,
  Consumer,
  createAPI,
  fetchV13,
  fetchV14,
  fetchV15,
  fetchV16,
  fetchV17,
  FetchIsolationLevels,
  ListOffsetTimestamps,
  type ResponseParser,
} from '@platformatic/kafka';
import type {
  ConsumedRecord,
  KafkaReader,
  ReadPartitionInput,
  ReadPartitionResult,
} from '../ports/kafka';
import {
  decodeFetchResponse,
  FETCH_API_KEY,
  type FetchApi,
  type FetchArgs,
  type FetchResponse,
} from './fetch-response';
import { installKafkaCodecs } from './kafka-codecs';
import { PartitionReader, type Target } from './partition-reader';

/**
 * KafkaReader.readPartition on @platformatic/kafka: Fetch requests at exact offsets straight to a
 * partition's leader, no consumer group, no join, no commits. The library does the wire
 * protocol (framing, TLS, SASL PLAIN/SCRAM/OAUTHBEARER, Fetch v13-v17 requests; codecs, bounded
 * in kafka-codecs.ts). What the sink needs on top is ours, one role per file:
 *
 * - here, the pool: one PartitionReader per partition read lately (an idle sweeper closes the
 *   others), metadata, ListOffsets, the Fetch version, a read budget in records and bytes and a
 *   stop at the high watermark seen when the read began;
 * - partition-reader.ts: one partition's reads over a connection of its own, one fetch kept
 *   ahead, retention gaps skipped, a malformed fetch retried once, then UnreadableRecordsError;
 * - guarded-connections.ts: response frames checked as they arrive (size caps, no uncaught
 *   exceptions from the library's socket handler);
 * - fetch-response.ts: Fetch responses and their record batches decoded trusting no length,
 *   count, checksum or offset in them ("Hostile bytes"), READ_COMMITTED with aborted
 *   transactions left out and control records skipped.
 *
 * The library's Consumer is used only as a client for metadata, ApiVersions and ListOffsets; its
 * `fetch()` is not, because it filters aborted transactions itself, with one range per producer
 * (a second aborted transaction of one producer in a fetch is delivered) and not at all when
 * the abort marker falls past the end of the fetch. Fetches go through the library's Fetch API
 * with a parser of our own choosing (decodeFetchResponse), and the records are filtered here.
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

/** Fetch versions that address topics by id, newest first (Kafka 3.1 and later speak v13). */
const FETCH_VERSIONS = [fetchV17, fetchV16, fetchV15, fetchV14, fetchV13] as const;
const MiB = 1024 * 1024;

const readerKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class PlatformaticReader implements KafkaReader {
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

import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Bytes, fetchBody, type PartitionAnswer, responseFrame } from './kafka-frames';

/**
 * A Kafka broker on 127.0.0.1 that speaks just enough for @platformatic/kafka's clients:
 * ApiVersions, Metadata v12 (one broker, one topic with a topic id) and ListOffsets v9 answered
 * as a broker would, and Fetch (v13 to v17) answered with whatever bytes the test's `onFetch`
 * returns, sent as they are: broken framing included. For what a real broker will not do on
 * demand; behaviour a real broker has is tested against the real one.
 */

export interface FetchAsk {
  correlationId: number;
  apiVersion: number;
  topicId: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  maxWaitMs: number;
  /** Which connection of this broker asked (1 for the first). */
  connection: number;
}

/**
 * What to send for a Fetch: bytes written as they are (whole frames or not), several writes, or
 * undefined when the handler wrote to (or deliberately left) the socket itself.
 */
export type FetchReply = Buffer | Buffer[] | undefined;

export interface ScriptedBrokerOptions {
  topic?: string;
  topicId?: string;
  partitions?: number;
  lowWatermark?: number;
  highWatermark?: number;
  /** The Fetch version to offer (the reader picks the newest it knows in the range). */
  fetchVersions?: [number, number];
  onFetch?: (ask: FetchAsk, socket: Socket) => FetchReply;
}

const API_FETCH = 1;
const API_LIST_OFFSETS = 2;
const API_METADATA = 3;
const API_VERSIONS = 18;
const NODE_ID = 1;

/** Reads the fields of a request body, in order. */
class Cursor {
  constructor(
    private readonly b: Buffer,
    public at = 0,
  ) {}
  int8() {
    return this.b.readInt8((this.at += 1) - 1);
  }
  int16() {
    return this.b.readInt16BE((this.at += 2) - 2);
  }
  int32() {
    return this.b.readInt32BE((this.at += 4) - 4);
  }
  int64() {
    return Number(this.b.readBigInt64BE((this.at += 8) - 8));
  }
  uvarint() {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.b[this.at++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  }
  uuid() {
    const hex = this.b.toString('hex', this.at, (this.at += 16));
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  compactString() {
    const n = this.uvarint();
    if (n === 0) return null;
    return this.b.toString('utf8', this.at, (this.at += n - 1));
  }
  skipTags() {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.at += this.uvarint();
    }
  }
}

export class ScriptedBroker {
  readonly topic: string;
  readonly topicId: string;
  partitions: number;
  lowWatermark: number;
  highWatermark: number;
  onFetch: (ask: FetchAsk, socket: Socket) => FetchReply;
  readonly fetches: FetchAsk[] = [];
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private readonly fetchVersions: [number, number];

  private constructor(
    private readonly server: Server,
    readonly port: number,
    o: ScriptedBrokerOptions,
  ) {
    this.topic = o.topic ?? 'scripted';
    this.topicId = o.topicId ?? randomUUID();
    this.partitions = o.partitions ?? 1;
    this.lowWatermark = o.lowWatermark ?? 0;
    this.highWatermark = o.highWatermark ?? 0;
    this.fetchVersions = o.fetchVersions ?? [13, 17];
    this.onFetch =
      o.onFetch ??
      ((ask) => this.answer(ask, { partition: ask.partition, highWatermark: this.highWatermark }));
  }

  static async start(o: ScriptedBrokerOptions = {}): Promise<ScriptedBroker> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const broker = new ScriptedBroker(server, (server.address() as AddressInfo).port, o);
    server.on('connection', (socket) => broker.serve(socket));
    return broker;
  }

  /** `host:port`, as the reader's `brokers` take it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** A whole, well-framed Fetch answer of this broker's topic. */
  answer(ask: FetchAsk, ...partitions: PartitionAnswer[]): Buffer {
    return responseFrame(ask.correlationId, fetchBody({ topicId: this.topicId, partitions }));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    const connection = ++this.connections;
    socket.setNoDelay(true); // answers go out in several writes: no waiting on Nagle
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A reader that drops the connection mid-write is what several tests are about.
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        this.handle(socket, connection, frame);
      }
    });
  }

  private handle(socket: Socket, connection: number, frame: Buffer): void {
    const c = new Cursor(frame);
    const apiKey = c.int16();
    const apiVersion = c.int16();
    const correlationId = c.int32();
    const clientIdLength = c.int16();
    c.at += Math.max(0, clientIdLength);
    c.skipTags(); // request header v2: every request this client sends is flexible
    const reply = (body: Buffer, headerTags = true) =>
      socket.write(responseFrame(correlationId, body, headerTags));
    switch (apiKey) {
      case API_VERSIONS:
        // ApiVersions answers with response header v0, whatever its version.
        return void reply(this.apiVersions(), false);
      case API_METADATA:
        return void reply(this.metadata(c));
      case API_LIST_OFFSETS:
        return void reply(this.listOffsets(c));
      case API_FETCH: {
        const ask = this.fetchAsk(c, apiVersion, correlationId, connection);
        this.fetches.push(ask);
        const out = this.onFetch(ask, socket);
        for (const b of out === undefined ? [] : Array.isArray(out) ? out : [out]) {
          if (!socket.destroyed) socket.write(b);
        }
        return;
      }
      default:
        socket.destroy();
    }
  }

  private apiVersions(): Buffer {
    const apis: [number, number, number][] = [
      [API_FETCH, ...this.fetchVersions],
      [API_LIST_OFFSETS, 9, 9],
      [API_METADATA, 12, 12],
      [API_VERSIONS, 0, 3],
    ];
    const w = new Bytes().int16(0).uvarint(apis.length + 1);
    for (const [key, min, max] of apis) w.int16(key).int16(min).int16(max).tags();
    return w.int32(0).tags().done();
  }

  private metadata(c: Cursor): Buffer {
    const asked: (string | null)[] = [];
    const count = c.uvarint();
    for (let i = 0; i < count - 1; i++) {
      c.uuid();
      asked.push(c.compactString());
      c.skipTags();
    }
    const names = count === 0 ? [this.topic] : asked;
    const w = new Bytes()
      .int32(0) // throttle
      .uvarint(2)
      .int32(NODE_ID)
      .compactString('127.0.0.1')
      .int32(this.port)
      .compactString(null)
      .tags()
      .compactString('scripted-cluster')
      .int32(NODE_ID)
      .uvarint(names.length + 1);
    for (const name of names) {
      const known = name === this.topic;
      w.int16(known ? 0 : 3) // UNKNOWN_TOPIC_OR_PARTITION
        .compactString(name)
        .uuid(known ? this.topicId : '00000000-0000-0000-0000-000000000000')
        .int8(0)
        .uvarint(known ? this.partitions + 1 : 1);
      for (let p = 0; known && p < this.partitions; p++) {
        w.int16(0).int32(p).int32(NODE_ID).int32(0);
        for (let list = 0; list < 3; list++) {
          if (list < 2) w.uvarint(2).int32(NODE_ID);
          else w.uvarint(1);
        }
        w.tags();
      }
      w.int32(-2147483648).tags();
    }
    return w.tags().done();
  }

  private listOffsets(c: Cursor): Buffer {
    c.int32(); // replica id
    c.int8(); // isolation level
    const w = new Bytes().int32(0);
    const topics = c.uvarint() - 1;
    w.uvarint(topics + 1);
    for (let t = 0; t < topics; t++) {
      const name = c.compactString();
      w.compactString(name);
      const partitions = c.uvarint() - 1;
      w.uvarint(partitions + 1);
      for (let p = 0; p < partitions; p++) {
        const index = c.int32();
        c.int32(); // current leader epoch
        const timestamp = c.int64();
        c.skipTags();
        // -2 asks for the earliest offset, -1 for the latest (READ_COMMITTED: the stable end).
        const offset = timestamp === -2 ? this.lowWatermark : this.highWatermark;
        w.int32(index).int16(0).int64(-1).int64(offset).int32(0).tags();
      }
      c.skipTags();
      w.tags();
    }
    return w.tags().done();
  }

  private fetchAsk(
    c: Cursor,
    apiVersion: number,
    correlationId: number,
    connection: number,
  ): FetchAsk {
    if (apiVersion < 15) c.int32(); // replica id, gone from v15
    const maxWaitMs = c.int32();
    c.int32(); // min bytes
    c.int32(); // max bytes
    c.int8(); // isolation level
    c.int32(); // session id
    c.int32(); // session epoch
    c.uvarint(); // topics: the reader asks for one
    const topicId = c.uuid();
    c.uvarint(); // partitions: one
    const partition = c.int32();
    c.int32(); // current leader epoch
    const fetchOffset = c.int64();
    c.int32(); // last fetched epoch
    c.int64(); // log start offset
    const partitionMaxBytes = c.int32();
    return {
      correlationId,
      apiVersion,
      topicId,
      partition,
      fetchOffset,
      partitionMaxBytes,
      maxWaitMs,
      connection,
    };
  }
}

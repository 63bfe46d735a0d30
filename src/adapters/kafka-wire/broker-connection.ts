import { connect, type Socket } from 'node:net';

/**
 * One TCP connection to a Kafka broker carrying size-prefixed requests and responses matched
 * by correlation id. It knows framing only; what is inside a frame is the codec's business.
 * A closed or broken connection fails every request in flight, and stays failed: the owner
 * opens a new one.
 */
export class BrokerConnection {
  private readonly pending = new Map<
    number,
    { resolve: (body: Buffer) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >();
  private chunks: Buffer[] = [];
  private buffered = 0;
  private nextCorrelationId = 1;
  private failure?: Error;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new Error(`Kafka broker ${address}: ${err.message}`)));
    socket.on('close', () => this.fail(new Error(`Kafka broker ${address} closed the connection`)));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`Kafka broker ${address}: no connection within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new BrokerConnection(socket, address));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`Kafka broker ${address}: ${err.message}`));
      });
    });
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  newCorrelationId(): number {
    const id = this.nextCorrelationId;
    this.nextCorrelationId = (id + 1) & 0x7fffffff || 1;
    return id;
  }

  /** Sends a whole frame whose correlation id is `correlationId`; resolves with the response body. */
  request(frame: Buffer, correlationId: number, timeoutMs: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A response that may still come would be out of step: the connection is done.
        this.fail(new Error(`Kafka broker ${this.address}: no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.fail(new Error(`connection to Kafka broker ${this.address} closed`));
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      if (this.chunks[0]!.length < 4) this.compact();
      const size = this.chunks[0]!.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      this.compact();
      const all = this.chunks[0]!;
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.deliver(frame);
    }
  }

  private compact(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }

  private deliver(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const waiter = this.pending.get(correlationId);
    if (!waiter) return;
    this.pending.delete(correlationId);
    clearTimeout(waiter.timer);
    waiter.resolve(frame.subarray(4));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(this.failure);
    }
    this.pending.clear();
    this.socket.destroy();
  }
}

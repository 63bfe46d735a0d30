import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { BrokerConnection } from '../../../src/adapters/kafka-wire/broker-connection';
import { FetchReader, KafkaFetchError } from '../../../src/adapters/kafka-wire/fetch-reader';
import { UnreadableRecordsError } from '../../../src/ports/kafka';
import {
  COMPRESSION_SNAPPY,
  encodeBatch,
  withAttributes,
} from '../../helpers/record-batch-encoder';

/**
 * The FetchReader against a scripted broker on 127.0.0.1, for what the real broker will not do
 * on demand: answers split at every byte or packed together, refusals with error codes, batches
 * this reader cannot decode, a connection dropped mid-answer. Everything pinpipe reads in
 * production is also tested against the real broker (fetch-reader.test.ts).
 */

const TOPIC = 'scripted';

const batch = (baseOffset: number, values: string[]) =>
  encodeBatch(
    baseOffset,
    values.map((value, offsetDelta) => ({ offsetDelta, value })),
  );

/** A Fetch v4 response frame for one partition of TOPIC. */
function fetchResponse(
  correlationId: number,
  o: { errorCode?: number; highWatermark: number; records?: Buffer },
): Buffer {
  const topic = Buffer.from(TOPIC);
  const records = o.records ?? Buffer.alloc(0);
  const body = Buffer.alloc(4 + 4 + 4 + 2 + topic.length + 4 + 4 + 2 + 8 + 8 + 4 + 4);
  let at = 0;
  at = body.writeInt32BE(correlationId, at);
  at = body.writeInt32BE(0, at); // throttle
  at = body.writeInt32BE(1, at);
  at = body.writeInt16BE(topic.length, at);
  at += topic.copy(body, at);
  at = body.writeInt32BE(1, at);
  at = body.writeInt32BE(0, at); // partition
  at = body.writeInt16BE(o.errorCode ?? 0, at);
  at = body.writeBigInt64BE(BigInt(o.highWatermark), at);
  at = body.writeBigInt64BE(BigInt(o.highWatermark), at);
  at = body.writeInt32BE(0, at); // aborted transactions
  body.writeInt32BE(records.length, at);
  const frame = Buffer.concat([Buffer.alloc(4), body, records]);
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

interface FetchAsked {
  correlationId: number;
  fetchOffset: number;
}

/** Reads Fetch v4 requests off a socket (enough of them for these tests). */
function onRequests(socket: Socket, handle: (r: FetchAsked) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
      pending = pending.subarray(4 + frame.length);
      const correlationId = frame.readInt32BE(4);
      const clientIdLength = frame.readInt16BE(8);
      // client id, replica, wait, min, max, isolation, topic count, topic, partition count, partition
      let at = 10 + clientIdLength + 4 + 4 + 4 + 4 + 1 + 4;
      at += 2 + frame.readInt16BE(at) + 4 + 4;
      handle({ correlationId, fetchOffset: Number(frame.readBigInt64BE(at)) });
    }
  });
}

describe('FetchReader against a scripted broker', function () {
  this.timeout(20_000);
  let server: Server | undefined;

  afterEach(() => {
    server?.close();
    server = undefined;
  });

  async function scripted(onSocket: (socket: Socket) => void): Promise<FetchReader> {
    server = createServer(onSocket);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new FetchReader(
      {
        clientId: 'scripted-test',
        locateLeader: () => Promise.resolve({ host: '127.0.0.1', port }),
        lowWatermark: () => Promise.resolve(0),
        connectTimeoutMs: 1_000,
        responseGraceMs: 500,
      },
      TOPIC,
      0,
      { fetchBytes: 1024 * 1024 },
    );
  }

  const read = (r: FetchReader, fromOffset: number, returnAtOffset: number) =>
    r.read({ fromOffset, maxRecords: 100, maxBytes: 1 << 20, maxWaitMs: 2_000, returnAtOffset });

  it('reassembles answers split at every byte', async () => {
    const batches = new Map([
      [0, await batch(0, ['a', 'b'])],
      [2, await batch(2, ['c'])],
      [3, await batch(3, ['d'])],
    ]);
    const reader = await scripted((socket) =>
      onRequests(socket, ({ correlationId, fetchOffset }) => {
        const frame = fetchResponse(correlationId, {
          highWatermark: 4,
          records: batches.get(fetchOffset),
        });
        for (const byte of frame) socket.write(Buffer.of(byte));
      }),
    );
    const shown = (records: Awaited<ReturnType<typeof read>>) =>
      records.map((r) => [r.offset, Buffer.from(r.value!).toString()]);
    assert.deepEqual(shown(await read(reader, 0, 2)), [
      [0, 'a'],
      [1, 'b'],
    ]);
    assert.deepEqual(shown(await read(reader, 2, 4)), [
      [2, 'c'],
      [3, 'd'],
    ]);
    await reader.close();
  });

  it('matches answers packed into one write, in any order, to their requests', async () => {
    server = createServer((socket) => {
      const held: Buffer[] = [];
      onRequests(socket, ({ correlationId }) => {
        held.unshift(fetchResponse(correlationId, { highWatermark: correlationId }));
        if (held.length === 2) socket.write(Buffer.concat(held));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const connection = await BrokerConnection.open('127.0.0.1', port, 1_000);
    const ask = (fetchOffset: number) => {
      const id = connection.newCorrelationId();
      const frame = Buffer.alloc(
        4 + 2 + 2 + 4 + 2 + 4 * 4 + 1 + 4 + 2 + TOPIC.length + 4 + 4 + 8 + 4,
      );
      frame.writeInt32BE(frame.length - 4, 0);
      frame.writeInt32BE(id, 8);
      frame.writeInt16BE(0, 12); // empty client id
      frame.writeInt16BE(TOPIC.length, 35);
      frame.write(TOPIC, 37);
      frame.writeBigInt64BE(BigInt(fetchOffset), 37 + TOPIC.length + 8);
      return connection.request(frame, id, 2_000).then((body) => ({ id, body }));
    };
    const answers = await Promise.all([ask(0), ask(1)]);
    for (const { id, body } of answers) {
      // Each answer's high watermark is the correlation id it was sent with.
      assert.equal(Number(body.readBigInt64BE(4 + 4 + 2 + TOPIC.length + 4 + 4 + 2)), id);
    }
    connection.close();
  });

  const refusals: { code: number; name: string; retriable: boolean }[] = [
    { code: 6, name: 'NOT_LEADER_OR_FOLLOWER', retriable: true },
    { code: 29, name: 'TOPIC_AUTHORIZATION_FAILED', retriable: false },
    { code: 999, name: 'error', retriable: false },
  ];
  for (const refusal of refusals) {
    it(`a refusal with code ${refusal.code} fails the read, naming it, and fails the reader`, async () => {
      const reader = await scripted((socket) =>
        onRequests(socket, ({ correlationId }) =>
          socket.write(fetchResponse(correlationId, { errorCode: refusal.code, highWatermark: 5 })),
        ),
      );
      await assert.rejects(read(reader, 3, 5), (err: unknown) => {
        assert.ok(err instanceof KafkaFetchError);
        assert.equal(err.code, refusal.code);
        assert.equal(err.retriable, refusal.retriable);
        assert.match(
          err.message,
          new RegExp(`${TOPIC}/0 at offset 3: ${refusal.name} \\(code ${refusal.code}\\)`),
        );
        return true;
      });
      assert.ok(reader.failed, 'a failed reader is replaced, not reused');
    });
  }

  it('a batch it cannot decode is an UnreadableRecordsError at that offset', async () => {
    const snappy = withAttributes(await batch(7, ['x', 'y']), COMPRESSION_SNAPPY);
    const reader = await scripted((socket) =>
      onRequests(socket, ({ correlationId }) =>
        socket.write(fetchResponse(correlationId, { highWatermark: 9, records: snappy })),
      ),
    );
    await assert.rejects(read(reader, 8, 9), (err: unknown) => {
      assert.ok(err instanceof UnreadableRecordsError);
      assert.deepEqual([err.topic, err.partition, err.offset], [TOPIC, 0, 8]);
      assert.match(err.message, /scripted\/0 at offset 8: record batch compressed with snappy/);
      return true;
    });
  });

  it('a connection dropped mid-answer fails the read, naming the broker', async () => {
    const reader = await scripted((socket) =>
      onRequests(socket, ({ correlationId }) => {
        const frame = fetchResponse(correlationId, { highWatermark: 1 });
        socket.end(frame.subarray(0, 10));
      }),
    );
    await assert.rejects(read(reader, 0, 1), /Kafka broker 127\.0\.0\.1:\d+ closed the connection/);
  });

  it('a broker that does not answer fails the read within the request timeout', async () => {
    const reader = await scripted(() => undefined);
    const started = Date.now();
    await assert.rejects(
      reader.read({ fromOffset: 0, maxRecords: 1, maxBytes: 1, maxWaitMs: 100, returnAtOffset: 1 }),
      /no response within/,
    );
    assert.ok(Date.now() - started < 5_000, `${Date.now() - started} ms`);
  });
});

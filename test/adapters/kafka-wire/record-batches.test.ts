import assert from 'node:assert/strict';
import { ProtocolError } from '../../../src/adapters/kafka-wire/fetch-codec';
import { decodeRecordBatches } from '../../../src/adapters/kafka-wire/record-batches';
import {
  type BatchOptions,
  CONTROL_BATCH,
  encodeBatch,
  type RecordSpec,
  withAttributes,
} from '../../helpers/record-batch-encoder';

/**
 * The hand-written record-batch decoder against batches encoded by kafkajs's own encoder (a
 * second, independent implementation of the format), table-driven. The broker-level test
 * (fetch-reader.test.ts) checks the same decoder against what Kafka itself serves.
 */

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

const batch = (baseOffset: number, records: RecordSpec[], o: BatchOptions = {}) =>
  encodeBatch(baseOffset, records, { firstTimestamp: T0, maxTimestamp: T0 + 999, ...o });

/** A transaction marker batch: one control record whose key says abort (0) or commit (1). */
async function marker(offset: number, producerId: number, type: 0 | 1): Promise<Buffer> {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type, 2);
  const encoded = await batch(offset, [{ offsetDelta: 0, key, value: Buffer.alloc(6) }], {
    producerId,
    transactional: true,
  });
  return withAttributes(encoded, CONTROL_BATCH);
}

const long = 'x'.repeat(300); // a length that needs a two-byte varint
const plain: RecordSpec[] = [
  { offsetDelta: 0, value: '{"a":1}', headers: { 'pinpipe-validated': 'pin/v1' } },
  { offsetDelta: 1, timestampDelta: 5, key: 'user-1', value: null },
  { offsetDelta: 2, timestampDelta: -3, value: '' },
  { offsetDelta: 3, timestampDelta: 3_000_000_000, value: long, headers: { a: '1', b: 'two' } },
  { offsetDelta: 4, value: 'é', headers: { 'pinpipe-validated': 'pin/v1' } },
];
interface Shown {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  size: number;
  headers: Record<string, string> | undefined;
}
const expected: Shown[] = [
  {
    offset: 40,
    timestamp: T0,
    key: null,
    value: '{"a":1}',
    size: 7,
    headers: { 'pinpipe-validated': 'pin/v1' },
  },
  { offset: 41, timestamp: T0 + 5, key: 'user-1', value: null, size: 6, headers: undefined },
  { offset: 42, timestamp: T0 - 3, key: null, value: '', size: 0, headers: undefined },
  {
    offset: 43,
    timestamp: T0 + 3_000_000_000,
    key: null,
    value: long,
    size: 300,
    headers: { a: '1', b: 'two' },
  },
  {
    offset: 44,
    timestamp: T0,
    key: null,
    value: 'é',
    size: 2,
    headers: { 'pinpipe-validated': 'pin/v1' },
  },
];

const shown = (data: Buffer, from: number) => {
  const { records, nextOffset } = decodeRecordBatches(data, from);
  return {
    nextOffset,
    records: records.map((r) => ({
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key,
      value: r.value === null ? null : Buffer.from(r.value).toString('utf8'),
      size: r.size,
      headers: r.headers,
    })),
  };
};

describe('decodeRecordBatches', () => {
  const cases: {
    name: string;
    data: () => Promise<Buffer>;
    from: number;
    want: ReturnType<typeof shown>;
  }[] = [
    {
      name: 'an uncompressed batch: keys, null and empty values, headers, time deltas, long values',
      data: () => batch(40, plain),
      from: 40,
      want: { nextOffset: 45, records: expected },
    },
    {
      name: 'a gzip batch decodes to the same records',
      data: () => batch(40, plain, { gzip: true }),
      from: 40,
      want: { nextOffset: 45, records: expected },
    },
    {
      name: 'records before the fetch offset are dropped (a fetch can start mid-batch)',
      data: () => batch(40, plain),
      from: 43,
      want: { nextOffset: 45, records: expected.slice(3) },
    },
    {
      name: 'a batch cut short at the end of a fetch is left for the next fetch',
      data: async () => {
        const whole = Buffer.concat([await batch(40, plain), await batch(45, plain)]);
        return whole.subarray(0, whole.length - 10);
      },
      from: 40,
      want: { nextOffset: 45, records: expected },
    },
    {
      name: 'a batch wholly before the fetch offset only moves the next offset',
      data: () => batch(40, plain),
      from: 50,
      want: { nextOffset: 50, records: [] },
    },
    {
      name: 'log-append time gives every record the batch max timestamp',
      data: async () => withAttributes(await batch(40, plain.slice(0, 2)), 0x08),
      from: 40,
      want: {
        nextOffset: 42,
        records: expected.slice(0, 2).map((r) => ({ ...r, timestamp: T0 + 999 })),
      },
    },
    {
      name: 'nothing to decode',
      data: () => Promise.resolve(Buffer.alloc(0)),
      from: 7,
      want: { nextOffset: 7, records: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      assert.deepEqual(shown(await c.data(), c.from), c.want);
    });
  }

  it('records in a row with equal header bytes share one frozen headers object', async () => {
    const stamped = { 'pinpipe-validated': 'pin/v1' };
    const { records } = decodeRecordBatches(
      await batch(0, [
        { offsetDelta: 0, value: 'a', headers: stamped },
        { offsetDelta: 1, value: 'b', headers: stamped },
        { offsetDelta: 2, value: 'c', headers: { 'pinpipe-validated': 'geo/v1' } },
        { offsetDelta: 3, value: 'd', headers: stamped },
      ]),
      0,
    );
    assert.equal(records[0]!.headers, records[1]!.headers);
    assert.deepEqual(records[2]!.headers, { 'pinpipe-validated': 'geo/v1' });
    assert.deepEqual(records[3]!.headers, stamped);
    assert.ok(Object.isFrozen(records[0]!.headers));
  });

  it('values are views of the fetched bytes, not copies', async () => {
    const data = await batch(40, plain);
    const value = decodeRecordBatches(data, 40).records[0]!.value!;
    assert.equal(value.buffer, data.buffer);
  });

  it('skips aborted transactions and control batches (READ_COMMITTED), keeps committed ones', async () => {
    const one = (offset: number, value: string) => ({ offsetDelta: 0, value, key: String(offset) });
    const data = Buffer.concat([
      await batch(10, [one(10, 'aborted')], { producerId: 7, transactional: true }),
      await batch(11, [one(11, 'other producer')], { producerId: 8, transactional: true }),
      await marker(12, 7, 0),
      await batch(13, [one(13, 'committed')], { producerId: 7, transactional: true }),
      await marker(14, 7, 1),
      await batch(15, [one(15, 'plain')]),
    ]);
    const { records, nextOffset } = decodeRecordBatches(data, 10, [
      { producerId: 7n, firstOffset: 10 },
    ]);
    assert.deepEqual(
      records.map((r) => [r.offset, Buffer.from(r.value!).toString()]),
      [
        [11, 'other producer'],
        [13, 'committed'],
        [15, 'plain'],
      ],
    );
    assert.equal(nextOffset, 16);
  });

  const refused: { name: string; bits?: number; magic?: number; message: RegExp }[] = [
    { name: 'snappy', bits: 2, message: /compressed with snappy.*gzip/ },
    { name: 'lz4', bits: 3, message: /compressed with lz4/ },
    { name: 'zstd', bits: 4, message: /compressed with zstd/ },
    {
      name: 'an old message format',
      magic: 1,
      message: /message format 1: pinpipe reads format 2/,
    },
  ];
  for (const r of refused) {
    it(`refuses ${r.name} with a message that says what to change`, async () => {
      let data = await batch(0, plain);
      if (r.bits) data = withAttributes(data, r.bits);
      if (r.magic !== undefined) data.writeInt8(r.magic, 16);
      assert.throws(
        () => decodeRecordBatches(data, 0),
        (e: unknown) => {
          assert.ok(e instanceof ProtocolError);
          assert.match(e.message, r.message);
          return true;
        },
      );
    });
  }
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { compressionsAlgorithms, Reader, readRecordsBatch } from '@platformatic/kafka';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import {
  BatchTooLargeError,
  type Codec,
  CorruptBatchError,
  decompressBatch,
  DEFAULT_MAX_BATCH_BYTES,
  installKafkaCodecs,
  kafkajsCompression,
} from '../../src/adapters/kafka-codecs';
import { COMPRESSIONS } from '../../src/kafka-settings';

/* eslint-disable @typescript-eslint/no-require-imports -- kafkajs's encoders are not exported */
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  o: Record<string, unknown>,
) => { buffer: Buffer };
const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): unknown };
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The codecs as the reader uses them (pure, no services): @platformatic/kafka's batch decoder
 * through the table installKafkaCodecs wraps, kafkajs's codecs as kafkajsCompression registers
 * them, the cap on every codec (a bomb each), xerial framing, and corrupt input.
 */

const MiB = 1024 * 1024;
const CODECS: Codec[] = ['gzip', 'snappy', 'lz4', 'zstd'];
const kafkajsType: Record<Codec, number> = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
const library = compressionsAlgorithms as unknown as Record<
  Codec,
  { decompressSync: (b: Buffer) => Buffer; compressSync: (b: Buffer) => Buffer }
>;
const kafkajsCodec = (type: CompressionTypes) =>
  (
    CompressionCodecs as unknown as Record<
      number,
      () => {
        compress(e: { buffer: Buffer }): Promise<Buffer>;
        decompress(b: Buffer): Promise<Buffer>;
      }
    >
  )[type]!();

/** A deterministic pseudo-random generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Pin-like JSON lines: compressible as real batches are, not as runs of one byte are. */
function pinLines(count: number, seed = 1): string[] {
  const next = random(seed);
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      i,
      pin: `p${Math.floor(next() * 1e9)}`,
      board: `board-${Math.floor(next() * 977)}`,
      ts: 1_700_000_000_000 + i * 37,
      text: 'some description of a pin '.repeat(1 + Math.floor(next() * 4)),
    }),
  );
}

/** A record batch with kafkajs's encoder, compressed by the codec kafkajsCompression registered. */
async function kafkajsBatch(codec: Codec | 'none', values: string[]): Promise<Buffer> {
  const type = kafkajsCompression(codec);
  const encoded = await RecordBatch({
    compression: type,
    firstOffset: Long.fromNumber(0),
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000,
    lastOffsetDelta: values.length - 1,
    records: values.map((value, i) =>
      KafkajsRecord({
        offsetDelta: i,
        timestampDelta: Long.fromNumber(0),
        key: Buffer.from(`k${i}`),
        value: Buffer.from(value),
        headers: {},
      }),
    ),
  });
  return encoded.buffer;
}

const valuesOf = (batch: Buffer) =>
  readRecordsBatch(Reader.from(batch)).records.map((r) => r.value?.toString());

/** Memory a call leaves grown (without a GC in between, so also what it allocated and dropped). */
function grownBy(run: () => void): { rss: number; arrayBuffers: number; ms: number } {
  const before = process.memoryUsage();
  const t0 = Date.now();
  run();
  const ms = Date.now() - t0;
  const after = process.memoryUsage();
  return {
    rss: after.rss - before.rss,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
    ms,
  };
}

/** Asserts `f` throws BatchTooLargeError for `codec` at `cap`, with small memory growth. */
function assertBomb(codec: Codec, f: () => unknown, declared: number, caps = 2) {
  const cap = DEFAULT_MAX_BATCH_BYTES;
  let caught: unknown;
  const grown = grownBy(() => {
    try {
      f();
    } catch (err) {
      caught = err;
    }
  });
  assert.ok(
    caught instanceof BatchTooLargeError,
    `expected BatchTooLargeError, got ${String(caught)}`,
  );
  assert.equal(caught.codec, codec);
  assert.equal(caught.cap, cap);
  // Far less than the bomb's size: about the cap (`caps` of it, with the garbage a decoder
  // leaves for the GC), never the declared GiB.
  const limit = cap * caps;
  assert.ok(grown.rss < Math.min(limit, declared / 4), `rss grew ${grown.rss} bytes`);
  assert.ok(
    grown.arrayBuffers < Math.min(limit, declared / 4),
    `buffers grew ${grown.arrayBuffers}`,
  );
  assert.ok(grown.ms < 10_000, `took ${grown.ms} ms`);
  return caught;
}

// ---- Hand-made frames (formats per the LZ4 frame and zstd specifications) -----------------------

/** The blocks of an LZ4 frame (data with its 4-byte size word), after its header. */
function lz4Blocks(frame: Buffer): Buffer[] {
  const flg = frame[4]!;
  let p = 6 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
  const blocks: Buffer[] = [];
  for (;;) {
    const word = frame.readUInt32LE(p);
    if (word === 0) return blocks;
    const size = 4 + (word & 0x7fffffff) + (flg & 0x10 ? 4 : 0);
    blocks.push(frame.subarray(p, p + size));
    p += size;
  }
}

/** An LZ4 frame of the given blocks, 64 KiB maximum block size, independent blocks. */
function lz4Frame(blocks: Buffer[], contentSize?: bigint): Buffer {
  const header = Buffer.from([
    0x04,
    0x22,
    0x4d,
    0x18,
    contentSize === undefined ? 0x60 : 0x68,
    0x40,
  ]);
  const size = Buffer.alloc(contentSize === undefined ? 0 : 8);
  if (contentSize !== undefined) size.writeBigUInt64LE(contentSize);
  // The header checksum is not checked by the path these frames take (over the cap).
  return Buffer.concat([header, size, Buffer.from([0]), ...blocks, Buffer.alloc(4)]);
}

/** A zstd frame as `frame`, but without a content size and asking for a 2^windowLog window. */
function zstdWithoutSize(frame: Buffer, windowLog: number): Buffer {
  const fhd = frame[4]!;
  const single = (fhd & 0x20) !== 0;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const sizeBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
  const headerLength = 5 + (single ? 0 : 1) + dictBytes + sizeBytes;
  return Buffer.concat([
    frame.subarray(0, 4),
    Buffer.from([fhd & 0x04, (windowLog - 10) << 3]),
    frame.subarray(headerLength),
  ]);
}

/** A zstd frame of `blocks` RLE blocks of 128 KiB each, without a content size. */
function zstdRleFrame(blocks: number): Buffer {
  const out = Buffer.alloc(6 + blocks * 4);
  out.writeUInt32LE(0xfd2fb528, 0);
  out[4] = 0x00; // no content size, not single segment, no checksum, no dictionary
  out[5] = (17 - 10) << 3; // a 128 KiB window
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    out.writeUIntLE(((128 * 1024) << 3) | (1 << 1) | last, 6 + i * 4, 3);
    out[6 + i * 4 + 3] = 0x61;
  }
  return out;
}

/** xerial's framing (as snappy-java's SnappyOutputStream writes it) around raw snappy blocks. */
function xerial(blocks: Buffer[]): Buffer {
  const header = Buffer.from([
    0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1,
  ]);
  return Buffer.concat([
    header,
    ...blocks.flatMap((b) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(b.length);
      return [length, b];
    }),
  ]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) bytes.push((n & 0x7f) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

describe('Kafka codecs', function () {
  this.timeout(60_000);
  let cap: number;

  before(() => {
    cap = installKafkaCodecs().maxBatchBytes;
  });

  afterEach(() => {
    installKafkaCodecs({ maxBatchBytes: cap }); // a test that lowered the cap puts it back
  });

  describe('installKafkaCodecs', () => {
    it('wraps the library table once; a later call changes the cap only when given one', () => {
      assert.equal(cap, DEFAULT_MAX_BATCH_BYTES);
      const wrapped = CODECS.map((c) => library[c].decompressSync);
      assert.deepEqual(installKafkaCodecs({ maxBatchBytes: 5 * MiB }), { maxBatchBytes: 5 * MiB });
      assert.deepEqual(installKafkaCodecs(), { maxBatchBytes: 5 * MiB });
      assert.deepEqual(
        CODECS.map((c) => library[c].decompressSync),
        wrapped,
      );
      assert.throws(() => installKafkaCodecs({ maxBatchBytes: 0 }), RangeError);
      assert.throws(() => installKafkaCodecs({ maxBatchBytes: 1.5 }), RangeError);
    });

    it('types its errors as the library unsupported-compression error, which the reader reports', () => {
      const err = new BatchTooLargeError('gzip', 10, 20);
      assert.equal(err.code, 'PLT_KFK_UNSUPPORTED_COMPRESSION');
      assert.equal(err.name, 'BatchTooLargeError');
      assert.match(err.stack ?? '', /^BatchTooLargeError: gzip batch would decompress to 20 bytes/);
      assert.equal(new CorruptBatchError('lz4', 'x').code, 'PLT_KFK_UNSUPPORTED_COMPRESSION');
    });
  });

  describe('round trips as the library decodes them', () => {
    for (const codec of ['none', ...CODECS] as const) {
      it(`${codec}: kafkajs-encoded batches, small and of several MiB, come back exactly`, async () => {
        for (const count of [1, 50, 20_000]) {
          const values = pinLines(count, count);
          const batch = await kafkajsBatch(codec, values);
          assert.equal(batch.readInt16BE(21) & 7, codec === 'none' ? 0 : kafkajsType[codec]);
          assert.deepEqual(valuesOf(batch), values);
        }
      });
    }

    for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
      it(`${codec}: the library's own compressor, and the kafkajs codec's decompress`, async () => {
        const data = Buffer.from(pinLines(5_000).join('\n'));
        const compressed = library[codec].compressSync(data);
        assert.ok(library[codec].decompressSync(compressed).equals(data));
        const viaKafkajs = await kafkajsCodec(kafkajsCompression(codec)).decompress(compressed);
        assert.ok(viaKafkajs.equals(data));
      });
    }

    it('zstd: frames without a content size, a huge window asked for, several frames', async () => {
      const data = Buffer.from(pinLines(8_000).join('\n'));
      const zstd = kafkajsCodec(kafkajsCompression('zstd'));
      const frame = await zstd.compress({ buffer: data });
      assert.ok(library.zstd.decompressSync(frame).equals(data));
      // As Java's zstd-jni streams write it: no content size, a window (here 2 GiB, refused by
      // fzstd as it stands) that the decoder lowers to what the output can use.
      for (const windowLog of [21, 27, 31]) {
        const streamed = zstdWithoutSize(frame, windowLog);
        assert.ok(library.zstd.decompressSync(streamed).equals(data), `window 2^${windowLog}`);
      }
      const half = data.length >> 1;
      const [a, b] = await Promise.all([
        zstd.compress({ buffer: data.subarray(0, half) }),
        zstd.compress({ buffer: data.subarray(half) }),
      ]);
      const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
      assert.ok(library.zstd.decompressSync(Buffer.concat([a, skippable, b])).equals(data));
      assert.ok(
        library.zstd.decompressSync(Buffer.concat([zstdWithoutSize(a, 20), b])).equals(data),
      );
    });

    it('lz4: 64 KiB blocks as Java writes them, with or without a content size, up to the exact cap', () => {
      // Each block compressed on its own (independent blocks, as Kafka's Java producer writes).
      const data = Buffer.from(pinLines(6_000).join('\n'));
      const blocks: Buffer[] = [];
      for (let at = 0; at < data.length; at += 64 * 1024) {
        blocks.push(...lz4Blocks(library.lz4.compressSync(data.subarray(at, at + 64 * 1024))));
      }
      assert.ok(blocks.length > 10);
      const frame = lz4Frame(blocks);
      assert.ok(library.lz4.decompressSync(frame).equals(data));
      assert.ok(decompressBatch('lz4', frame, data.length).equals(data));
      assert.throws(() => decompressBatch('lz4', frame, data.length - 1), BatchTooLargeError);
      const sized = lz4Frame(blocks, BigInt(data.length));
      assert.ok(decompressBatch('lz4', sized, data.length).equals(data));
      assert.throws(() => decompressBatch('lz4', sized, data.length - 1), BatchTooLargeError);
      // 16 blocks of 64 KiB of zeros, ~4 KiB in all: the output buffer grows from its guess.
      const zeros = lz4Blocks(library.lz4.compressSync(Buffer.alloc(64 * 1024)))[0]!;
      const runs = lz4Frame(Array.from({ length: 16 }, () => zeros));
      assert.ok(library.lz4.decompressSync(runs).equals(Buffer.alloc(MiB)));
    });

    it('lz4: linked blocks (matches into earlier blocks), as the lz4 command line writes them', function () {
      const data = Buffer.from(pinLines(6_000).join('\n'));
      let linked: Buffer;
      try {
        linked = execFileSync('lz4', ['-q', '-BD', '-B4', '-c'], { input: data });
      } catch {
        this.skip(); // no lz4 command on this machine
      }
      assert.equal(linked[4]! & 0x20, 0); // block independence flag off
      assert.ok(library.lz4.decompressSync(linked).equals(data));
    });

    it('snappy: xerial framing, as Java producers write it, in one or many blocks', () => {
      const data = Buffer.from(pinLines(4_000).join('\n'));
      const blocks: Buffer[] = [];
      for (let at = 0; at < data.length; at += 32 * 1024) {
        blocks.push(library.snappy.compressSync(data.subarray(at, at + 32 * 1024)));
      }
      assert.ok(library.snappy.decompressSync(xerial(blocks)).equals(data));
      assert.ok(
        library.snappy.decompressSync(xerial([library.snappy.compressSync(data)])).equals(data),
      );
      assert.equal(library.snappy.decompressSync(xerial([])).length, 0);
    });
  });

  describe('the cap', () => {
    it('is configurable: a batch over it fails in every codec, one under it passes', async () => {
      const values = pinLines(10_000);
      const size = Buffer.byteLength(values.join('')) + values.length * 20; // records' framing
      for (const codec of CODECS) {
        const batch = await kafkajsBatch(codec, values);
        installKafkaCodecs({ maxBatchBytes: size + 64 * 1024 });
        assert.deepEqual(valuesOf(batch), values, codec);
        installKafkaCodecs({ maxBatchBytes: 256 * 1024 });
        assert.throws(
          () => valuesOf(batch),
          (err: unknown) => err instanceof BatchTooLargeError && err.cap === 256 * 1024,
          codec,
        );
      }
    });

    it('gzip: a 1 GiB bomb of about 1 MiB fails fast, near the cap in memory', () => {
      // 1024 members of 1 MiB: each trailer says 1 MiB, only inflating finds the total.
      const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
      const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
      assert.ok(bomb.length < 1.1 * MiB, `bomb is ${bomb.length} bytes`);
      const err = assertBomb('gzip', () => library.gzip.decompressSync(bomb), 1024 * MiB);
      assert.equal(err.declared, undefined);
      assert.match(err.message, /^gzip batch decompresses past the cap of 67108864 bytes$/);
      // One member whose trailer says more than the cap: refused before inflating.
      const big = zlib.gzipSync(Buffer.alloc(100 * MiB), { level: 1 });
      const serr = assertBomb('gzip', () => library.gzip.decompressSync(big), 1024 * MiB);
      assert.equal(serr.declared, 100 * MiB);
      assert.ok(grownBy(() => assert.throws(() => library.gzip.decompressSync(big))).ms < 50);
    });

    it('snappy: a length over the cap fails before decoding, raw or in xerial blocks', () => {
      const raw = Buffer.concat([varint(1024 * MiB), Buffer.from([0x00, 0x61])]);
      const err = assertBomb('snappy', () => library.snappy.decompressSync(raw), 1024 * MiB);
      assert.equal(err.declared, 1024 * MiB);
      // 40 blocks each declaring 32 MiB: refused on the running total, before any is decoded.
      const block = Buffer.concat([varint(32 * MiB), Buffer.alloc(16)]);
      const framed = xerial(Array.from({ length: 40 }, () => block));
      const xerr = assertBomb('snappy', () => library.snappy.decompressSync(framed), 1280 * MiB);
      assert.equal(xerr.declared, 96 * MiB);
    });

    it('lz4: a declared content size over the cap, and 1 GiB of real blocks, both fail', () => {
      const zeros = lz4Blocks(library.lz4.compressSync(Buffer.alloc(64 * 1024)));
      const declared = lz4Frame(zeros, BigInt(1024 * MiB));
      assert.throws(() => library.lz4.decompressSync(declared), /content size/); // 64 KiB of blocks
      const blocks = Array.from({ length: 16 * 1024 }, () => zeros[0]!);
      const bomb = lz4Frame(blocks);
      assert.ok(bomb.length < 8 * MiB, `bomb is ${bomb.length} bytes`);
      const err = assertBomb('lz4', () => library.lz4.decompressSync(bomb), 1024 * MiB);
      assert.equal(err.declared, 1024 * MiB);
      const sized = lz4Frame(blocks, BigInt(1024 * MiB));
      const serr = assertBomb('lz4', () => library.lz4.decompressSync(sized), 1024 * MiB);
      assert.equal(serr.declared, 1024 * MiB);
    });

    it('zstd: declared frame sizes over the cap, and 1 GiB of blocks without one, both fail', async () => {
      const zstd = kafkajsCodec(kafkajsCompression('zstd'));
      const frame = await zstd.compress({ buffer: Buffer.alloc(MiB) });
      const frames = Buffer.concat(Array.from({ length: 1024 }, () => frame));
      const err = assertBomb('zstd', () => library.zstd.decompressSync(frames), 1024 * MiB);
      assert.equal(err.declared, 1024 * MiB);
      const rle = zstdRleFrame(8 * 1024);
      assert.ok(rle.length < 64 * 1024);
      const rerr = assertBomb('zstd', () => library.zstd.decompressSync(rle), 1024 * MiB);
      assert.equal(rerr.declared, 1024 * MiB);
      // The same with the frames' sizes stripped: found only by decoding.
      const unsized = Buffer.concat(Array.from({ length: 1024 }, () => zstdWithoutSize(frame, 20)));
      // fzstd allocates each block, and each frame's window, anew: up to ~3 caps before a GC.
      assertBomb('zstd', () => library.zstd.decompressSync(unsized), 1024 * MiB, 3);
    });
  });

  describe('corrupt input', () => {
    /** Valid compressed payloads of ~100 KiB, one per codec and path, with the cap to use. */
    async function samples(lines = 800): Promise<[string, Codec, Buffer, number | undefined][]> {
      const data = Buffer.from(pinLines(lines).join('\n'));
      const zstd = await kafkajsCodec(kafkajsCompression('zstd')).compress({ buffer: data });
      const blocks: Buffer[] = [];
      for (let at = 0; at < data.length; at += 64 * 1024) {
        blocks.push(...lz4Blocks(library.lz4.compressSync(data.subarray(at, at + 64 * 1024))));
      }
      const cases: [string, Codec, Buffer, number | undefined][] = [
        ['gzip', 'gzip', zlib.gzipSync(data), undefined],
        ['snappy', 'snappy', library.snappy.compressSync(data), undefined],
        ['snappy (xerial)', 'snappy', xerial([library.snappy.compressSync(data)]), undefined],
        ['lz4', 'lz4', library.lz4.compressSync(data), undefined],
        ['lz4 (64 KiB blocks, at the exact cap)', 'lz4', lz4Frame(blocks), data.length],
        ['zstd', 'zstd', zstd, undefined],
        ['zstd (streamed)', 'zstd', zstdWithoutSize(zstd, 22), undefined],
      ];
      for (const [name, codec, good, cap] of cases) {
        assert.ok(decompressBatch(codec, good, cap).equals(data), name);
      }
      return cases;
    }

    it('gives a CorruptBatchError (never a trap, a TypeError or a hang) for flipped and cut bytes', async () => {
      const next = random(42);
      for (const [name, codec, good, cap] of await samples()) {
        let corrupt = 0;
        const t0 = Date.now();
        for (let i = 0; i < 1000; i++) {
          const bad = Buffer.from(good);
          if (i % 4 === 0) {
            const cut = bad.subarray(0, Math.floor(next() * bad.length));
            assertDecodesOrCorrupt(name, codec, cut, cap);
            continue;
          }
          for (let n = 1 + Math.floor(next() * 4); n > 0; n--) {
            // Mostly in the headers, where the lengths are.
            const at = Math.floor(
              next() < 0.5 ? next() * Math.min(64, bad.length) : next() * bad.length,
            );
            bad[at] = Math.floor(next() * 256);
          }
          if (assertDecodesOrCorrupt(name, codec, bad, cap)) corrupt++;
        }
        assert.ok(corrupt > 0, `${name}: no mutation was caught`);
        assert.ok(Date.now() - t0 < 20_000, `${name} took ${Date.now() - t0} ms`);
      }

      function assertDecodesOrCorrupt(
        name: string,
        codec: Codec,
        data: Buffer,
        cap: number | undefined,
      ): boolean {
        try {
          decompressBatch(codec, data, cap);
          return false;
        } catch (err) {
          assert.ok(
            err instanceof CorruptBatchError || err instanceof BatchTooLargeError,
            `${name}: ${String(err)}`,
          );
          return true;
        }
      }
    });

    it('gives a CorruptBatchError for any value of a header byte, whole or cut after it', async () => {
      const t0 = Date.now();
      for (const [name, codec, good, cap] of await samples(20)) {
        for (let at = 0; at < 12; at++) {
          for (let v = 0; v < 256; v++) {
            const bad = Buffer.from(good);
            bad[at] = v;
            for (const end of [bad.length, at + 1, at + 6]) {
              try {
                decompressBatch(codec, bad.subarray(0, end), cap);
              } catch (err) {
                assert.ok(
                  err instanceof CorruptBatchError || err instanceof BatchTooLargeError,
                  `${name}, byte ${at} = ${v}, cut at ${end}: ${String(err)}`,
                );
              }
            }
          }
        }
      }
      assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms`);
    });

    it("keeps corrupt snappy and lz4 away from the library's WebAssembly, which they would break", () => {
      // Each of these used to trap in the library's decoder and leak what it had allocated;
      // after about 2,000 the shared instance failed every call, compressors included.
      const data = Buffer.from(pinLines(50).join('\n'));
      const next = random(7);
      const good = {
        snappy: library.snappy.compressSync(data),
        lz4: library.lz4.compressSync(data),
      };
      for (let i = 0; i < 3_000; i++) {
        for (const codec of ['snappy', 'lz4'] as const) {
          const bad = Buffer.from(good[codec]);
          for (let n = 0; n < 3; n++)
            bad[Math.floor(next() * Math.min(40, bad.length))] = next() * 256;
          try {
            library[codec].decompressSync(bad);
          } catch (err) {
            assert.ok(
              err instanceof CorruptBatchError || err instanceof BatchTooLargeError,
              String(err),
            );
          }
        }
      }
      for (const codec of ['snappy', 'lz4'] as const) {
        assert.ok(library[codec].decompressSync(library[codec].compressSync(data)).equals(data));
      }
    });

    it('refuses what no codec header starts', () => {
      for (const codec of CODECS) {
        assert.throws(
          () => decompressBatch(codec, Buffer.from('not compressed at all')),
          CorruptBatchError,
        );
        assert.throws(() => decompressBatch(codec, Buffer.alloc(0)), CorruptBatchError, codec);
      }
    });
  });

  describe('kafkajsCompression', () => {
    it('maps every KAFKA_COMPRESSION value and registers a codec kafkajs can use', async () => {
      const data = Buffer.from(pinLines(2_000).join('\n'));
      for (const c of COMPRESSIONS) {
        const type = kafkajsCompression(c);
        assert.equal(type, { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[c]);
        assert.equal(kafkajsCompression(c), type);
        if (c === 'none') continue;
        const codec = kafkajsCodec(type);
        const compressed = await codec.compress({ buffer: data });
        assert.ok(compressed.length < data.length / 2, c);
        assert.ok((await codec.decompress(compressed)).equals(data), c);
        await assert.rejects(codec.decompress(Buffer.from('junk')), CorruptBatchError);
      }
      assert.equal(kafkajsCompression('none'), CompressionTypes.None);
    });

    it('writes the LZ4 frame format and raw snappy, as Kafka expects from a producer', async () => {
      const data = Buffer.from(pinLines(100).join('\n'));
      const lz4 = await kafkajsCodec(kafkajsCompression('lz4')).compress({ buffer: data });
      assert.equal(lz4.readUInt32LE(0), 0x184d2204);
      assert.equal(lz4[4]! >> 6, 1); // frame version 01
      const snappy = await kafkajsCodec(kafkajsCompression('snappy')).compress({ buffer: data });
      assert.deepEqual(snappy.subarray(0, varint(data.length).length), varint(data.length));
    });
  });
});

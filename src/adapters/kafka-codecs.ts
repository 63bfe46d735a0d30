import { constants } from 'node:buffer';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { compressionsAlgorithms, UnsupportedCompressionError } from '@platformatic/kafka';
import * as zstdWasm from '@bokuweb/zstd-wasm';
import { Decompress as ZstdStream, decompress as zstdDecompressWhole } from 'fzstd';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import type { Compression } from '../kafka-settings';

/**
 * Every Kafka codec concern of pinpipe, in one place:
 *
 * - Reading (@platformatic/kafka 1.x decodes record batches through its `compressionsAlgorithms`
 *   table): `installKafkaCodecs` replaces each codec's `decompressSync` in that table, once per
 *   process, with a bounded one. A batch is a few MiB at most in practice, but its codec header
 *   is written by whoever produced it: a 1 MiB gzip batch can inflate to 1 GiB, a snappy or lz4
 *   header can claim any size. Each decoder here checks what the input declares before it
 *   allocates, and stops at `maxBatchBytes` (64 MiB by default) where it cannot know in advance;
 *   past the cap it throws BatchTooLargeError, on malformed input CorruptBatchError (never a
 *   WebAssembly trap, never a hang).
 * - zstd on Node 20: the library has zstd only where node:zlib has it (Node ≥ 22.15); here it
 *   is decoded by fzstd (see zstdBounded for why that library).
 * - xerial-framed snappy, as Java producers write it (the library's 1.x decoder takes raw snappy
 *   only; 2.x unwraps the framing, platformatic/kafka#283).
 * - Producing with kafkajs: `kafkajsCompression` registers snappy, lz4 and zstd codecs in
 *   kafkajs's CompressionCodecs (kafkajs has gzip only) and returns the CompressionTypes value.
 */

export const DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024;

export type Codec = 'gzip' | 'snappy' | 'lz4' | 'zstd';
const CODECS: readonly Codec[] = ['gzip', 'snappy', 'lz4', 'zstd'];

/**
 * A batch that would decompress past the cap. `declared` is what the input claimed before any
 * decoding (a snappy length, an lz4 or zstd content size, the sum its block headers allow, a
 * gzip trailer's size), or undefined when the cap was found only by decoding.
 *
 * It extends the library's UnsupportedCompressionError: a batch this process will not decompress
 * is, to a reader, a batch in a codec it does not support; PlatformaticReader already turns that
 * into an UnreadableRecordsError at the batch's offset, which no retry will change either.
 */
export class BatchTooLargeError extends UnsupportedCompressionError {
  static {
    // On the prototype, so that the stack trace (taken in the constructor) names the class.
    this.prototype.name = 'BatchTooLargeError';
  }
  constructor(
    readonly codec: Codec,
    readonly cap: number,
    readonly declared: number | undefined,
    how = 'declared',
  ) {
    super(
      declared === undefined
        ? `${codec} batch decompresses past the cap of ${cap} bytes`
        : `${codec} batch would decompress to ${declared} bytes (${how}), past the cap of ${cap} bytes`,
    );
  }
}

/** Compressed bytes that do not decode: malformed, cut short, or a decoder's trap. */
export class CorruptBatchError extends UnsupportedCompressionError {
  static {
    this.prototype.name = 'CorruptBatchError';
  }
  constructor(
    readonly codec: Codec,
    reason: string,
    cause?: unknown,
  ) {
    super(`corrupt ${codec} batch: ${reason}`, cause instanceof Error ? { cause } : {});
  }
}

export interface KafkaCodecsOptions {
  /** Most bytes one batch may decompress to (default 64 MiB). Applies process-wide. */
  maxBatchBytes?: number;
}

type LibraryInput = Buffer | { buffer: Buffer };
type LibraryDecoder = (data: LibraryInput) => Buffer;
interface LibraryCodec {
  decompressSync: LibraryDecoder;
  compressSync: LibraryDecoder;
  [installed]?: true;
}

/**
 * Process-wide state under a global symbol: a second copy of this module (another loader, a
 * bundle) must find the library's table already wrapped, the same cap, and the library's own
 * snappy and lz4 decoders as they were before any wrapping.
 */
interface CodecState {
  maxBatchBytes: number;
  snappy: LibraryDecoder;
  lz4: LibraryDecoder;
}
const stateKey = Symbol.for('pinpipe.kafkaCodecs.state');
const installed = Symbol.for('pinpipe.kafkaCodecs.installed');
const table = compressionsAlgorithms as unknown as Record<Codec, LibraryCodec>;

function state(): CodecState {
  const g = globalThis as { [stateKey]?: CodecState };
  // Taken before installKafkaCodecs wraps anything (it calls this first).
  g[stateKey] ??= {
    maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
    snappy: table.snappy.decompressSync.bind(table.snappy),
    lz4: table.lz4.decompressSync.bind(table.lz4),
  };
  return g[stateKey];
}

/**
 * Puts the bounded decoders into @platformatic/kafka's codec table (once; later calls only
 * change the cap, and only when they pass one). Returns the cap in force.
 */
export function installKafkaCodecs(options: KafkaCodecsOptions = {}): { maxBatchBytes: number } {
  const s = state();
  if (options.maxBatchBytes !== undefined) s.maxBatchBytes = checkedCap(options.maxBatchBytes);
  for (const codec of CODECS) {
    const entry = table[codec];
    if (entry[installed]) continue;
    entry.decompressSync = (data) =>
      decompressBatch(codec, Buffer.isBuffer(data) ? data : data.buffer);
    entry[installed] = true;
  }
  return { maxBatchBytes: s.maxBatchBytes };
}

function checkedCap(n: number): number {
  // zlib's maxOutputLength takes at most the largest Buffer.
  if (!Number.isSafeInteger(n) || n < 1 || n > constants.MAX_LENGTH) {
    throw new RangeError(`maxBatchBytes must be a whole number of bytes from 1, not ${n}`);
  }
  return n;
}

/**
 * One batch's records section decompressed, at most `maxBatchBytes` (the process-wide cap
 * unless given). Throws BatchTooLargeError past the cap, CorruptBatchError on malformed input.
 */
export function decompressBatch(codec: Codec, data: Buffer, maxBatchBytes?: number): Buffer {
  const cap = maxBatchBytes === undefined ? state().maxBatchBytes : checkedCap(maxBatchBytes);
  switch (codec) {
    case 'gzip':
      return gunzipBounded(data, cap);
    case 'snappy':
      return snappyBounded(data, cap);
    case 'lz4':
      return lz4Bounded(data, cap);
    case 'zstd':
      return zstdBounded(data, cap);
  }
}

// ---------------------------------------------------------------------------------------------
// gzip

/**
 * A gzip member ends with its size (ISIZE, mod 2^32): one over the cap fails at once (the last
 * member alone is that large, or the input is corrupt, which zlib would find at its end).
 * Otherwise zlib inflates, and stops once the output passes maxOutputLength (it checks after
 * every chunk), so a bomb costs at most the cap in memory and the time to inflate that much.
 */
function gunzipBounded(data: Buffer, cap: number): Buffer {
  const isize = data.length >= 18 && data[0] === 0x1f ? data.readUInt32LE(data.length - 4) : 0;
  if (isize > cap) throw new BatchTooLargeError('gzip', cap, isize, 'its gzip trailer says');
  try {
    return zlib.gunzipSync(data, { maxOutputLength: cap });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BatchTooLargeError('gzip', cap, undefined);
    }
    throw new CorruptBatchError('gzip', messageOf(err), err);
  }
}

// ---------------------------------------------------------------------------------------------
// snappy (raw, or in xerial's framing)

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/**
 * Raw snappy starts with its uncompressed length (a varint); the library's decoder (WebAssembly)
 * allocates that much and fails unless the data fills it exactly. So the length is checked
 * against the cap before the decoder sees the data.
 *
 * Java producers (and a broker with compression.type=snappy) write xerial's framing: a 16-byte
 * header, then blocks of a 4-byte big-endian length and raw snappy. Every block's length is read
 * before any is decoded: the sum is what the batch declares.
 */
function snappyBounded(data: Buffer, cap: number): Buffer {
  if (data.length >= 16 && data.subarray(0, 8).equals(xerialMagic)) return xerialBounded(data, cap);
  const declared = snappyLength(data, 0, data.length);
  if (declared > cap) throw new BatchTooLargeError('snappy', cap, declared);
  return trapped('snappy', () => state().snappy(data));
}

function xerialBounded(data: Buffer, cap: number): Buffer {
  const blocks: { start: number; end: number }[] = [];
  let total = 0;
  for (let at = 16; at < data.length;) {
    if (at + 4 > data.length)
      throw new CorruptBatchError('snappy', 'xerial block length cut short');
    const length = data.readUInt32BE(at);
    const start = at + 4;
    const end = start + length;
    if (end > data.length) throw new CorruptBatchError('snappy', 'xerial block cut short');
    total += snappyLength(data, start, end);
    if (total > cap) {
      throw new BatchTooLargeError('snappy', cap, total, 'its xerial blocks declare at least');
    }
    blocks.push({ start, end });
    at = end;
  }
  // Decoded block by block into one buffer of the declared total: no second copy of the batch.
  const out = Buffer.allocUnsafe(total);
  let written = 0;
  const decode = state().snappy;
  for (const { start, end } of blocks) {
    const block = trapped('snappy', () => decode(data.subarray(start, end)));
    written += block.copy(out, written);
  }
  if (written !== total) throw new CorruptBatchError('snappy', 'xerial blocks decode short');
  return out;
}

/** The uncompressed length a raw snappy block starts with (a varint of at most 32 bits). */
function snappyLength(data: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = 0; i < 5; i++) {
    if (start + i >= end) break;
    const b = data[start + i]!;
    n += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return n;
  }
  throw new CorruptBatchError('snappy', 'no uncompressed length at the start of a block');
}

// ---------------------------------------------------------------------------------------------
// lz4 (the LZ4 frame format, as Kafka writes it for record batch v2)

const LZ4_MAGIC = 0x184d2204;
/** The most one compressed byte can expand to (a match-length byte of 255 copies 255 bytes). */
const LZ4_MAX_RATIO = 255;

interface Lz4Frame {
  /** Content size, when the frame header carries one. */
  declared?: number;
  /** The most its blocks can decode to: raw sizes, and min(block max, 255 × size) otherwise. */
  bound: number;
}

/**
 * The frame headers and block sizes are walked first (no decoding): a declared content size
 * over the cap fails at once, and the block sizes give a bound on the output. When the bound is
 * within the cap, the library's own decoder (WebAssembly, lz4_flex) runs: it cannot produce more
 * than that. Otherwise (a bomb, or a batch close to the cap with large blocks: only the last
 * block of an honest frame is short, so the bound is at most one block max over the truth) the
 * frame is decoded here into a buffer of exactly the cap, failing at the first byte past it.
 */
function lz4Bounded(data: Buffer, cap: number): Buffer {
  const frames = lz4Frames(data);
  let declared = 0;
  let bound = 0;
  for (const f of frames) {
    declared += f.declared ?? 0;
    bound += f.bound;
  }
  if (declared > cap) {
    throw new BatchTooLargeError('lz4', cap, declared, 'its frame header says');
  }
  if (bound <= cap) {
    const out = trapped('lz4', () => state().lz4(data));
    if (out.length > cap) throw new BatchTooLargeError('lz4', cap, undefined);
    return out;
  }
  return lz4DecodeInto(data, Buffer.allocUnsafe(cap), bound);
}

function lz4Frames(data: Buffer): Lz4Frame[] {
  const frames: Lz4Frame[] = [];
  const corrupt = (why: string) => new CorruptBatchError('lz4', why);
  for (let at = 0; at < data.length;) {
    if (at + 7 > data.length) throw corrupt('frame header cut short');
    const magic = data.readUInt32LE(at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (at + 8 > data.length) throw corrupt('skippable frame cut short');
      at += 8 + data.readUInt32LE(at + 4);
      continue;
    }
    if (magic !== LZ4_MAGIC) throw corrupt(`no LZ4 frame magic at byte ${at}`);
    const flg = data[at + 4]!;
    const bd = data[at + 5]!;
    if (flg >> 6 !== 1) throw corrupt(`frame version ${flg >> 6}`);
    const blockSizeId = (bd >> 4) & 7;
    if (blockSizeId < 4) throw corrupt(`block maximum size id ${blockSizeId}`);
    const blockMax = 1 << (8 + 2 * blockSizeId);
    let p = at + 6;
    const frame: Lz4Frame = { bound: 0 };
    if (flg & 0x08) {
      if (p + 8 > data.length) throw corrupt('content size cut short');
      frame.declared = Number(data.readBigUInt64LE(p));
      p += 8;
    }
    if (flg & 0x01) p += 4; // dictionary id
    p += 1; // header checksum
    const blockChecksum = (flg & 0x10) !== 0;
    for (;;) {
      if (p + 4 > data.length) throw corrupt('block size cut short');
      const word = data.readUInt32LE(p);
      p += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax) throw corrupt(`block of ${size} bytes, over its maximum ${blockMax}`);
      const raw = word >>> 31 === 1;
      frame.bound += raw ? size : Math.min(blockMax, size * LZ4_MAX_RATIO);
      p += size + (blockChecksum ? 4 : 0);
      if (p > data.length) throw corrupt('block cut short');
    }
    if (flg & 0x04) p += 4; // content checksum
    if (p > data.length) throw corrupt('content checksum cut short');
    if (frame.declared !== undefined && frame.declared > frame.bound) {
      throw corrupt(`content size ${frame.declared} is more than its blocks can hold`);
    }
    frames.push(frame);
    at = p;
  }
  if (frames.length === 0) throw corrupt('no frame');
  return frames;
}

/**
 * LZ4 frames decoded into `out`, failing with BatchTooLargeError at the first byte past its end.
 * Blocks may be linked (a match may reach into earlier blocks of its frame) or independent.
 */
function lz4DecodeInto(data: Buffer, out: Buffer, bound: number): Buffer {
  const tooLarge = () => new BatchTooLargeError('lz4', out.length, bound, 'its block sizes allow');
  const corrupt = (why: string) => new CorruptBatchError('lz4', why);
  let o = 0;
  for (let at = 0; at < data.length;) {
    const magic = data.readUInt32LE(at);
    if (magic !== LZ4_MAGIC) {
      at += 8 + data.readUInt32LE(at + 4); // skippable (lz4Frames checked the rest)
      continue;
    }
    const flg = data[at + 4]!;
    const blockMax = 1 << (8 + 2 * ((data[at + 5]! >> 4) & 7));
    const independent = (flg & 0x20) !== 0;
    const frameStart = o;
    let p = at + 6 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
    for (;;) {
      const word = data.readUInt32LE(p);
      p += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (word >>> 31 === 1) {
        if (o + size > out.length) throw tooLarge();
        o += data.copy(out, o, p, p + size);
      } else {
        const floor = independent ? o : frameStart;
        const end = Math.min(out.length, o + blockMax);
        o = lz4Block(data, p, p + size, out, o, end, floor, o + blockMax > out.length, tooLarge);
      }
      p += size + (flg & 0x10 ? 4 : 0);
    }
    at = p + (flg & 0x04 ? 4 : 0);
    if (at > data.length) throw corrupt('cut short');
  }
  // Do not pin a cap-sized buffer under a small batch's records.
  return o < out.length / 2 ? Buffer.from(out.subarray(0, o)) : out.subarray(0, o);
}

/** One LZ4 block (the sequence format) from src[s, end) into out at o; returns the new end. */
function lz4Block(
  src: Buffer,
  s: number,
  end: number,
  out: Buffer,
  o: number,
  outEnd: number,
  floor: number,
  capIsEnd: boolean,
  tooLarge: () => Error,
): number {
  const overflow = () =>
    capIsEnd ? tooLarge() : new CorruptBatchError('lz4', 'block decodes past its maximum size');
  const cut = () => new CorruptBatchError('lz4', 'block cut short');
  while (s < end) {
    const token = src[s++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      for (let b = 255; b === 255; literals += b) {
        if (s >= end) throw cut();
        b = src[s++]!;
      }
    }
    if (s + literals > end) throw cut();
    if (o + literals > outEnd) throw overflow();
    if (literals > 16) src.copy(out, o, s, s + literals);
    else for (let i = 0; i < literals; i++) out[o + i] = src[s + i]!;
    s += literals;
    o += literals;
    if (s >= end) break; // the last sequence has literals only
    if (s + 2 > end) throw cut();
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > o - floor) {
      throw new CorruptBatchError('lz4', `match offset ${offset} before the start of its data`);
    }
    let length = (token & 15) + 4;
    if ((token & 15) === 15) {
      for (let b = 255; b === 255; length += b) {
        if (s >= end) throw cut();
        b = src[s++]!;
      }
    }
    if (o + length > outEnd) throw overflow();
    let m = o - offset;
    if (offset >= length && length > 16) {
      out.copyWithin(o, m, m + length);
      o += length;
    } else {
      // Overlapping (a run): byte by byte repeats the pattern, as the format means it to.
      for (const stop = o + length; o < stop;) out[o++] = out[m++]!;
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// zstd

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_BLOCK_MAX = 128 * 1024;
const nativeZstd = (zlib as { zstdDecompressSync?: (b: Buffer, o: zlib.ZlibOptions) => Buffer })
  .zstdDecompressSync;

interface ZstdFrame {
  /** Frame content size, when the header has one. */
  declared?: number;
  /** The most its blocks can decode to (raw and RLE sizes exact, compressed ≤ block max). */
  bound: number;
  window: number;
  /** Where its window descriptor byte is (single-segment frames have none). */
  windowAt?: number;
}

/**
 * zstd on Node 20: fzstd (pure JavaScript, by the author of fflate; decompression only) rather
 * than @mongodb-js/zstd or zstd-napi (native addons fetched or built at install: prebuild-install
 * downloads from GitHub, which a registry-only machine cannot reach, then falls back to
 * node-gyp) or @bokuweb/zstd-wasm (real libzstd and 2-3× faster, but its WebAssembly initialises
 * asynchronously and the library's decompressSync is synchronous; it is used here to compress,
 * where kafkajs's codec API is async). fzstd is synchronous, works the same on Node 20 and 22,
 * throws plain Errors with codes, and has a streaming decoder whose output comes block by block,
 * so a bomb is stopped at the cap. Measured here: 150-200 MiB/s at level 3, 50-80 at level 19
 * (libzstd in WebAssembly: 250-450).
 *
 * Where node:zlib has zstd (Node ≥ 22.15), it decodes instead, bounded like gzip.
 *
 * Bounding: frame headers and block headers are walked first. A declared content size over the
 * cap fails at once. One frame with a content size is decoded whole into a buffer of that size
 * (fzstd allocates exactly that). Otherwise the stream is decoded block by block into a buffer of
 * min(bound, cap), and a window descriptor larger than that is lowered first: fzstd allocates
 * the window a frame asks for (up to 2 GiB, and a level-22 producer asks 128 MiB) and copies it
 * once per block, while no match can reach further back than the output so far. That path (Java
 * producers write no content size) is bounded but not tight: fzstd allocates each block (≤ 128
 * KiB) and each frame's window anew, so until a GC a bomb holds up to about 3 caps (measured:
 * +145 MiB RSS for a 1 GiB bomb at the 64 MiB cap), where gzip, snappy and lz4 hold one.
 */
function zstdBounded(data: Buffer, cap: number): Buffer {
  const frames = zstdFrames(data);
  let declared = 0;
  let bound = 0;
  let withSize = 0;
  for (const f of frames) {
    if (f.declared !== undefined) {
      declared += f.declared;
      withSize++;
    }
    bound += f.bound;
  }
  if (declared > cap) throw new BatchTooLargeError('zstd', cap, declared, 'its frame header says');
  if (nativeZstd) {
    try {
      return nativeZstd(data, { maxOutputLength: cap });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new BatchTooLargeError('zstd', cap, bound, 'its block headers allow');
      }
      throw new CorruptBatchError('zstd', messageOf(err), err);
    }
  }
  const only = frames.length === 1 ? frames[0] : undefined;
  if (only?.declared !== undefined) {
    if (only.declared === 0) return Buffer.alloc(0);
    const out = trapped('zstd', () => zstdDecompressWhole(data));
    if (out.length !== only.declared) {
      throw new CorruptBatchError('zstd', `decoded ${out.length} bytes, declared ${only.declared}`);
    }
    return Buffer.from(out.buffer, out.byteOffset, out.length);
  }
  const size = Math.min(bound, cap);
  const input = lowerWindows(data, frames, size);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  const stream = new ZstdStream((chunk) => {
    if (o + chunk.length > out.length) {
      if (bound > cap) throw new BatchTooLargeError('zstd', cap, bound, 'its block headers allow');
      throw new CorruptBatchError('zstd', 'decodes past what its block headers allow');
    }
    out.set(chunk, o);
    o += chunk.length;
  });
  trapped('zstd', () => {
    stream.push(input, true);
  });
  if (withSize === frames.length && o !== declared) {
    throw new CorruptBatchError('zstd', `decoded ${o} bytes, declared ${declared}`);
  }
  return o < out.length / 2 ? Buffer.from(out.subarray(0, o)) : out.subarray(0, o);
}

function zstdFrames(data: Buffer): ZstdFrame[] {
  const frames: ZstdFrame[] = [];
  const corrupt = (why: string) => new CorruptBatchError('zstd', why);
  for (let at = 0; at < data.length;) {
    if (at + 8 > data.length) throw corrupt('frame header cut short');
    const magic = data.readUInt32LE(at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      at += 8 + data.readUInt32LE(at + 4);
      if (at > data.length) throw corrupt('skippable frame cut short');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt(`no zstd frame magic at byte ${at}`);
    const fhd = data[at + 4]!;
    if (fhd & 0x08) throw corrupt('reserved bit set in the frame header');
    const singleSegment = (fhd & 0x20) !== 0;
    const sizeFlag = fhd >> 6;
    let p = at + 5;
    const frame: ZstdFrame = { bound: 0, window: 0 };
    if (!singleSegment) {
      const wd = data[p]!;
      const base = 2 ** (10 + (wd >> 3));
      frame.window = base + (base / 8) * (wd & 7);
      frame.windowAt = p++;
    }
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const dictId = dictBytes === 0 ? 0 : data.readUIntLE(p, dictBytes);
    if (dictId !== 0) throw corrupt(`needs dictionary ${dictId}`);
    p += dictBytes;
    const sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][sizeFlag]!;
    if (p + sizeBytes > data.length) throw corrupt('frame header cut short');
    if (sizeBytes === 8) frame.declared = Number(data.readBigUInt64LE(p));
    else if (sizeBytes > 0)
      frame.declared = data.readUIntLE(p, sizeBytes) + (sizeBytes === 2 ? 256 : 0);
    p += sizeBytes;
    if (singleSegment) frame.window = frame.declared!;
    const blockMax = Math.min(frame.window, ZSTD_BLOCK_MAX);
    for (let last = false; !last;) {
      if (p + 3 > data.length) throw corrupt('block header cut short');
      const header = data.readUIntLE(p, 3);
      p += 3;
      last = (header & 1) === 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) throw corrupt('reserved block type');
      if (size > blockMax) throw corrupt(`block of ${size} bytes, over its maximum ${blockMax}`);
      frame.bound += type === 2 ? blockMax : size;
      p += type === 1 ? 1 : size;
      if (p > data.length) throw corrupt('block cut short');
    }
    if (fhd & 0x04) p += 4; // content checksum
    if (p > data.length) throw corrupt('content checksum cut short');
    if (frame.declared !== undefined && frame.declared > frame.bound) {
      throw corrupt(`content size ${frame.declared} is more than its blocks can hold`);
    }
    frames.push(frame);
    at = p;
  }
  if (frames.length === 0) throw corrupt('no frame');
  return frames;
}

/** A copy of `data` whose frames ask for no larger window than their output can use. */
function lowerWindows(data: Buffer, frames: ZstdFrame[], most: number): Buffer {
  let copy: Buffer | undefined;
  for (const f of frames) {
    if (f.windowAt === undefined) continue;
    const wanted = Math.min(f.window, f.bound, most);
    const wd = windowDescriptor(wanted);
    if (wd === undefined || wd >= data[f.windowAt]!) continue;
    copy ??= Buffer.from(data);
    copy[f.windowAt] = wd;
  }
  return copy ?? data;
}

/** The smallest window descriptor for at least `bytes` (exponent 0-31 over 1 KiB, 3-bit mantissa). */
function windowDescriptor(bytes: number): number | undefined {
  for (let exponent = 0; exponent < 32; exponent++) {
    const base = 2 ** (10 + exponent);
    for (let mantissa = 0; mantissa < 8; mantissa++) {
      if (base + (base / 8) * mantissa >= bytes) return (exponent << 3) | mantissa;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

/**
 * A decoder's failure as CorruptBatchError: the library's snappy and lz4 decoders are
 * WebAssembly and trap ("RuntimeError: unreachable") on bad input; fzstd throws Errors with
 * codes, and a RangeError or TypeError where its input is inconsistent. Our own errors pass.
 */
function trapped<T>(codec: Codec, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof BatchTooLargeError || err instanceof CorruptBatchError) throw err;
    throw new CorruptBatchError(codec, messageOf(err), err);
  }
}

const messageOf = (err: unknown) =>
  err instanceof Error ? `${err.name}: ${err.message}` : `thrown ${String(err)}`;

// ---------------------------------------------------------------------------------------------
// kafkajs (producing)

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);
/** A synchronous codec call as the promise kafkajs awaits (a throw becomes a rejection). */
const settled = <T>(f: () => T) => new Promise<T>((resolve) => resolve(f()));
const kafkajsCodecs: Record<Codec, KafkajsCodec> = {
  gzip: {
    compress: (e) => gzip(e.buffer),
    decompress: (b) => settled(() => decompressBatch('gzip', b)),
  },
  // The library's snappy (WebAssembly) writes raw snappy, as librdkafka does; Java consumers
  // read it (snappy-java takes input without xerial's header as one raw block).
  snappy: {
    compress: (e) => settled(() => table.snappy.compressSync(e.buffer)),
    decompress: (b) => settled(() => decompressBatch('snappy', b)),
  },
  // The library's lz4 writes the LZ4 frame format (independent 4 MiB blocks, correct header
  // checksum), which is what Kafka expects for record batch v2.
  lz4: {
    compress: (e) => settled(() => table.lz4.compressSync(e.buffer)),
    decompress: (b) => settled(() => decompressBatch('lz4', b)),
  },
  zstd: {
    compress: (e) => zstdCompress(e.buffer),
    decompress: (b) => settled(() => decompressBatch('zstd', b)),
  },
};

/** Kafka's default zstd level (compression.zstd.level). */
const ZSTD_LEVEL = 3;
const nativeZstdCompress = (
  zlib as { zstdCompress?: (b: Buffer, cb: (e: Error | null, r: Buffer) => void) => void }
).zstdCompress;
let zstdWasmReady: Promise<void> | undefined;

/** node:zlib's zstd where it exists, else libzstd in WebAssembly (@bokuweb/zstd-wasm). */
async function zstdCompress(data: Buffer): Promise<Buffer> {
  if (nativeZstdCompress) return promisify(nativeZstdCompress)(data);
  zstdWasmReady ??= zstdWasm.init().catch((err: unknown) => {
    zstdWasmReady = undefined; // a failed start is tried again next time
    throw err;
  });
  await zstdWasmReady;
  const compressed = zstdWasm.compress(data, ZSTD_LEVEL);
  return Buffer.from(compressed.buffer, compressed.byteOffset, compressed.length);
}

const kafkajsTypes: Record<Compression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/**
 * The kafkajs CompressionTypes value for a KAFKA_COMPRESSION setting, with its codec registered
 * in kafkajs's CompressionCodecs (idempotent; decompression bounded like the reader's).
 */
export function kafkajsCompression(c: Compression): CompressionTypes {
  const type = kafkajsTypes[c];
  if (c !== 'none') {
    const codecs = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
    const codec = kafkajsCodecs[c];
    codecs[type] = () => codec;
  }
  return type;
}

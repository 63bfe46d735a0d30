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
 *   WebAssembly trap, never a hang). Snappy and lz4 are decoded here rather than by the library's
 *   WebAssembly, which corrupt input can break for the whole process (see snappyBounded).
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

/** Compressed bytes that do not decode: malformed, cut short, inconsistent. */
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
 * bundle) must find the library's table already wrapped and the same cap.
 */
interface CodecState {
  maxBatchBytes: number;
}
const stateKey = Symbol.for('pinpipe.kafkaCodecs.state');
const installed = Symbol.for('pinpipe.kafkaCodecs.installed');
const table = compressionsAlgorithms as unknown as Record<Codec, LibraryCodec>;

function state(): CodecState {
  const g = globalThis as { [stateKey]?: CodecState };
  g[stateKey] ??= { maxBatchBytes: DEFAULT_MAX_BATCH_BYTES };
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
 * Snappy and lz4 are decoded here, in JavaScript, not by the library's decoders: those are
 * WebAssembly (one instance shared by snappy, lz4 and the library's own compressors), they trap
 * on bad input ("RuntimeError: unreachable"), and a trap can leave the instance's memory in a
 * bad state. Measured: after about 2,000 corrupt lz4 frames, or a few thousand corrupt or cut
 * snappy blocks, every call into that instance, compression included, failed with "memory access
 * out of bounds" for the rest of the process. So hostile bytes never reach it. Decoding here also
 * makes the cap exact: output goes into a buffer sized from what the input declares, checked
 * before every write. The price is speed, on 0.25-8 MiB batches of pin-like JSON: snappy
 * 240-310 MiB/s here against 750-930 in WebAssembly, lz4 250-355 against 370-590.
 *
 * Raw snappy starts with its uncompressed length (a varint): over the cap it fails at once;
 * otherwise the output buffer has exactly that length and the data must fill it.
 *
 * Java producers (and a broker with compression.type=snappy) write xerial's framing: a 16-byte
 * header, then blocks of a 4-byte big-endian length and raw snappy. Every block's length is read
 * before any is decoded: the sum is what the batch declares, and the size of the output.
 */
function snappyBounded(data: Buffer, cap: number): Buffer {
  if (data.length >= 16 && data.subarray(0, 8).equals(xerialMagic)) return xerialBounded(data, cap);
  const { length } = snappyLength(data, 0, data.length);
  if (length > cap) throw new BatchTooLargeError('snappy', cap, length);
  const out = Buffer.allocUnsafe(length);
  snappyBlock(data, 0, data.length, out, 0);
  return out;
}

function xerialBounded(data: Buffer, cap: number): Buffer {
  const blocks: { start: number; end: number }[] = [];
  let total = 0;
  for (let at = 16; at < data.length;) {
    if (at + 4 > data.length) {
      throw new CorruptBatchError('snappy', 'xerial block length cut short');
    }
    const start = at + 4;
    const end = start + data.readUInt32BE(at);
    if (end > data.length) throw new CorruptBatchError('snappy', 'xerial block cut short');
    total += snappyLength(data, start, end).length;
    if (total > cap) {
      throw new BatchTooLargeError('snappy', cap, total, 'its xerial blocks declare at least');
    }
    blocks.push({ start, end });
    at = end;
  }
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  for (const { start, end } of blocks) o = snappyBlock(data, start, end, out, o);
  return out;
}

/** The uncompressed length a raw snappy block starts with (a varint of at most 32 bits). */
function snappyLength(data: Buffer, start: number, end: number): { length: number; at: number } {
  let length = 0;
  for (let i = 0; i < 5 && start + i < end; i++) {
    const b = data[start + i]!;
    length += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return { length, at: start + i + 1 };
  }
  throw new CorruptBatchError('snappy', 'no uncompressed length at the start of a block');
}

/**
 * One raw snappy block (its length varint, then literals and copies) from src[start, end) into
 * out at o, which has room for its declared length; returns the end of what it wrote.
 */
function snappyBlock(src: Buffer, start: number, end: number, out: Buffer, o: number): number {
  const { length, at } = snappyLength(src, start, end);
  const base = o;
  const stop = o + length;
  const corrupt = (why: string) => new CorruptBatchError('snappy', why);
  for (let s = at; s < end;) {
    const tag = src[s++]!;
    let n: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        // A literal: its length - 1 in the tag, or in the 1-4 bytes after it.
        n = tag >>> 2;
        if (n >= 60) {
          const bytes = n - 59;
          if (s + bytes > end) throw corrupt('literal length cut short');
          n = src.readUIntLE(s, bytes);
          s += bytes;
        }
        n += 1;
        if (s + n > end) throw corrupt('literal cut short');
        if (o + n > stop) throw corrupt('decodes past its declared length');
        if (n > 32) src.copy(out, o, s, s + n);
        else for (let i = 0; i < n; i++) out[o + i] = src[s + i]!;
        s += n;
        o += n;
        continue;
      }
      case 1:
        if (s >= end) throw corrupt('copy cut short');
        n = 4 + ((tag >>> 2) & 7);
        offset = ((tag >>> 5) << 8) | src[s++]!;
        break;
      case 2:
        if (s + 2 > end) throw corrupt('copy cut short');
        n = 1 + (tag >>> 2);
        offset = src.readUInt16LE(s);
        s += 2;
        break;
      default:
        if (s + 4 > end) throw corrupt('copy cut short');
        n = 1 + (tag >>> 2);
        offset = src.readUInt32LE(s);
        s += 4;
    }
    if (offset === 0 || offset > o - base) throw corrupt(`copy offset ${offset} before its start`);
    if (o + n > stop) throw corrupt('decodes past its declared length');
    o = copyMatch(out, o, offset, n);
  }
  if (o !== stop) throw corrupt(`decodes to ${o - base} bytes, declared ${length}`);
  return o;
}

/** Copies `length` bytes from `offset` back in `out` to `o`; overlapping copies repeat a run. */
function copyMatch(out: Buffer, o: number, offset: number, length: number): number {
  let m = o - offset;
  // A call costs more than a short loop: Buffer copies only for long matches.
  if (offset >= length && length > 32) {
    out.copyWithin(o, m, m + length);
    return o + length;
  }
  for (const stop = o + length; o < stop;) out[o++] = out[m++]!;
  return o;
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
 * over the cap fails at once, and the block sizes bound the output. The frames are then decoded
 * (here, see snappyBounded for why) into a buffer of the declared size; else, where the bound is
 * over the cap, of the cap; else one that starts at a guess from the input's size and doubles as
 * needed up to the bound. A block that would write past the cap fails with BatchTooLargeError,
 * one that would write past its own maximum size or the bound with CorruptBatchError. Blocks
 * may be linked (a match reaching into earlier blocks of its frame, as the LZ4 command line
 * writes them) or independent (as Kafka's Java producer writes them).
 */
function lz4Bounded(data: Buffer, cap: number): Buffer {
  const frames = lz4Frames(data);
  let declared = 0;
  let bound = 0;
  for (const f of frames) {
    declared += f.declared ?? 0;
    bound += f.bound;
  }
  if (declared > cap) throw new BatchTooLargeError('lz4', cap, declared, 'its frame header says');
  const limit = Math.min(bound, cap);
  const allDeclared = frames.every((f) => f.declared !== undefined);
  // Where the blocks allow more than the cap (a bomb, or a batch close to it), the whole cap at
  // once: its pages are touched only as they are written, and no growth copies it.
  let out = Buffer.allocUnsafe(
    allDeclared
      ? declared
      : bound > cap
        ? cap
        : Math.min(limit, Math.max(64 * 1024, 4 * data.length)),
  );
  const corrupt = (why: string) => new CorruptBatchError('lz4', why);
  /** Room for `needed` bytes, or the reason there is none. */
  const room = (o: number, needed: number) => {
    if (needed <= out.length) return;
    if (needed > limit) {
      throw limit === cap
        ? new BatchTooLargeError('lz4', cap, bound, 'its block sizes allow')
        : corrupt('decodes past what its block sizes allow');
    }
    const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(needed, 2 * out.length)));
    out.copy(grown, 0, 0, o);
    out = grown;
  };
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
        room(o, o + size);
        o += data.copy(out, o, p, p + size);
      } else {
        // Decoded into what there is; on running out, grown and decoded again (a block is at
        // most 4 MiB, and the buffer at least doubles each time).
        for (;;) {
          const end = Math.min(out.length, o + blockMax);
          const next = lz4Block(data, p, p + size, out, o, end, independent ? o : frameStart);
          if (next >= 0) {
            o = next;
            break;
          }
          if (end === o + blockMax) throw corrupt('block decodes past its maximum size');
          room(o, out.length + 1);
        }
      }
      p += size + (flg & 0x10 ? 4 : 0);
    }
    at = p + (flg & 0x04 ? 4 : 0);
  }
  if (allDeclared && o !== declared) throw corrupt(`decodes to ${o} bytes, declared ${declared}`);
  // Do not pin a large buffer under a small batch's records.
  return o < out.length / 2 ? Buffer.from(out.subarray(0, o)) : out.subarray(0, o);
}

function lz4Frames(data: Buffer): Lz4Frame[] {
  return scanFrames<Lz4Frame>(data, 'lz4', LZ4_MAGIC, 7, (at, corrupt) => {
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
    return { frame, end: p, checksum: (flg & 0x04) !== 0 };
  });
}

/**
 * One LZ4 block (the sequence format) from src[s, end) into out from o, writing nothing at or
 * past outEnd and referring to nothing before floor. Returns the end of what it wrote, or -1
 * when it needs room past outEnd.
 */
function lz4Block(
  src: Buffer,
  s: number,
  end: number,
  out: Buffer,
  o: number,
  outEnd: number,
  floor: number,
): number {
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
    if (o + literals > outEnd) return -1;
    if (literals > 32) src.copy(out, o, s, s + literals);
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
    if (o + length > outEnd) return -1;
    o = copyMatch(out, o, offset, length);
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
  return scanFrames<ZstdFrame>(data, 'zstd', ZSTD_MAGIC, 8, (at, corrupt) => {
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
    if (p + dictBytes > data.length) throw corrupt('frame header cut short');
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
    return { frame, end: p, checksum: (fhd & 0x04) !== 0 };
  });
}

/** A frame's size as declared, and the most its blocks can decode to. */
interface FrameBounds {
  declared?: number;
  bound: number;
}

/**
 * The frames of an LZ4 or zstd stream (skippable frames skipped): `readFrame` reads one frame's
 * header and blocks from `at` and says where they end and whether a content checksum follows;
 * then the frame's declared size must fit what its blocks can hold.
 */
function scanFrames<F extends FrameBounds>(
  data: Buffer,
  codec: 'lz4' | 'zstd',
  magic: number,
  headerBytes: number,
  readFrame: (
    at: number,
    corrupt: (why: string) => CorruptBatchError,
  ) => { frame: F; end: number; checksum: boolean },
): F[] {
  const frames: F[] = [];
  const corrupt = (why: string) => new CorruptBatchError(codec, why);
  for (let at = 0; at < data.length;) {
    if (at + headerBytes > data.length) throw corrupt('frame header cut short');
    const found = data.readUInt32LE(at);
    if ((found & 0xfffffff0) === 0x184d2a50) {
      if (at + 8 > data.length) throw corrupt('skippable frame cut short');
      at += 8 + data.readUInt32LE(at + 4);
      if (at > data.length) throw corrupt('skippable frame cut short');
      continue;
    }
    if (found !== magic) {
      throw corrupt(`no ${codec === 'lz4' ? 'LZ4' : 'zstd'} frame magic at byte ${at}`);
    }
    const { frame, end, checksum } = readFrame(at, corrupt);
    const p = end + (checksum ? 4 : 0);
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
 * A decoder's failure as CorruptBatchError: fzstd throws Errors with codes, and a RangeError or
 * TypeError where its input is inconsistent; node:zlib throws its own. Our own errors pass.
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

/**
 * How a day's cleaning is cut into shards of bounded bytes (pure). A shard is a list of byte
 * ranges of raw objects; small objects are packed together, and an object larger than a shard is
 * split into ranges, so no unit of work grows with an object's size. A range owns the lines that
 * START inside it (the Hadoop input-split rule): its reader skips the partial line at its start and
 * reads past its end to finish the last line it owns, so every line belongs to exactly one range.
 */

import { z } from 'zod';

export interface RawObjectRef {
  key: string;
  size: number;
}

/** Bytes `[start, end)` of object `key`: the lines that start there. */
export interface ShardRange {
  key: string;
  start: number;
  end: number;
}

export interface ShardLimits {
  /** Upper bound of a shard's bytes (an object larger than this is split). */
  maxShardBytes: number;
  /** Upper bound of the objects a shard reads (each costs a request). */
  maxObjectsPerShard: number;
}

export const DEFAULT_SHARD_LIMITS: ShardLimits = {
  // 128 MiB (Hadoop's and Spark's split size too): each shard pays a fixed cost (its activity,
  // its SQL, its staged part; ~0.15 s of CPU), and at 64 MiB that was a fifth of a 1M-event day.
  maxShardBytes: 128 * 1024 * 1024,
  maxObjectsPerShard: 2_000,
};

/** Shards in key order; every byte of every object is in exactly one range. */
export function planShards(
  objects: readonly RawObjectRef[],
  limits: ShardLimits = DEFAULT_SHARD_LIMITS,
): ShardRange[][] {
  const { maxShardBytes, maxObjectsPerShard } = limits;
  if (!(maxShardBytes >= 1) || !(maxObjectsPerShard >= 1)) {
    throw new Error(`shard limits must be positive, got ${JSON.stringify(limits)}`);
  }
  const shards: ShardRange[][] = [];
  let current: ShardRange[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length > 0) shards.push(current);
    current = [];
    bytes = 0;
  };
  for (const o of objects) {
    if (o.size > maxShardBytes) {
      // Split into equal pieces of at most maxShardBytes, each a shard of its own.
      close();
      const pieces = Math.ceil(o.size / maxShardBytes);
      const step = Math.ceil(o.size / pieces);
      for (let start = 0; start < o.size; start += step) {
        shards.push([{ key: o.key, start, end: Math.min(o.size, start + step) }]);
      }
      continue;
    }
    if (bytes + o.size > maxShardBytes || current.length >= maxObjectsPerShard) close();
    current.push({ key: o.key, start: 0, end: o.size });
    bytes += o.size;
  }
  close();
  return shards;
}

/**
 * Objects up to this size are read in place by DuckDB (S3 → DuckDB, no copy through JS or the
 * disk: measured half the CPU of downloading a 54 MB shard, and no garbage for the worker's heap).
 * Larger ones, and pieces of split objects, are downloaded in ranges. Bounded because DuckDB holds
 * an object's whole text at once (two 32 MiB objects fit a 256 MB shard ceiling).
 */
export const IN_PLACE_MAX_BYTES = 32 * 1024 * 1024;

/** Whether `range` is all of its object (`size` bytes, from the plan) and small enough to read in place. */
export function readsInPlace(range: ShardRange, size: number | undefined): boolean {
  return range.start === 0 && range.end === size && size <= IN_PLACE_MAX_BYTES;
}

export const cleaningPlanSchema = z.object({
  table: z.enum(['pin', 'geo', 'user']),
  date: z.string(),
  run: z.string(),
  limits: z.object({ maxShardBytes: z.number(), maxObjectsPerShard: z.number() }),
  /** The exact raw objects of the run, as listed once: retries and shards all read this list. */
  inputs: z.array(z.object({ key: z.string(), size: z.number() })),
  shards: z.array(z.array(z.object({ key: z.string(), start: z.number(), end: z.number() }))),
});
/** The claim check of a cleaning run: written to S3 once, read by every shard and the commit. */
export type CleaningPlan = z.infer<typeof cleaningPlanSchema>;

const NEWLINE = 0x0a;

/**
 * Cuts the bytes of one range out of a stream of the object that begins at `streamStart(range)`
 * (one byte early, so it can tell whether the range begins at a line start). Feed chunks in
 * order; each call returns the bytes to keep and whether the range is complete (stop reading).
 */
export class RangeCutter {
  /** Object offset of the next byte pushed. */
  private pos: number;
  private started: boolean;
  private finished = false;
  /** Object offset of the first kept byte (the first owned line's start), once known. */
  firstLineAt: number | undefined;

  constructor(private readonly range: ShardRange) {
    this.pos = streamStart(range);
    this.started = range.start === 0;
    if (this.started) this.firstLineAt = 0;
  }

  get done(): boolean {
    return this.finished;
  }

  push(chunk: Uint8Array): Uint8Array {
    if (this.finished) return chunk.subarray(0, 0);
    const chunkStart = this.pos;
    this.pos += chunk.length;
    let from = 0;
    if (!this.started) {
      // Skip to just after the first newline at or after start - 1.
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) return chunk.subarray(0, 0);
      const lineAt = chunkStart + nl + 1;
      if (lineAt >= this.range.end) {
        this.finished = true; // no line starts inside the range
        return chunk.subarray(0, 0);
      }
      this.started = true;
      this.firstLineAt = lineAt;
      from = nl + 1;
    }
    // Keep through the newline that ends the line holding byte end - 1 (or to the stream's end).
    const lastOwned = this.range.end - 1 - chunkStart;
    if (lastOwned >= chunk.length) return chunk.subarray(from);
    const nl = chunk.indexOf(NEWLINE, Math.max(from, lastOwned));
    if (nl < 0) return chunk.subarray(from);
    this.finished = true;
    return chunk.subarray(from, nl + 1);
  }
}

/** Where a range's reader starts its stream: one byte before the range (unless it is at 0). */
export function streamStart(range: ShardRange): number {
  return range.start === 0 ? 0 : range.start - 1;
}

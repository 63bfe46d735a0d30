import { gzipSync } from 'node:zlib';
import {
  ATTRIBUTES_AT,
  Bytes,
  encodeBatch,
  fetchBody,
  GZIP,
  IS_CONTROL,
  IS_TRANSACTIONAL,
  type RecordSpec,
  resealBatch,
} from './kafka-frames';

/**
 * Fetch responses for fuzzing a reader: valid ones (with the records a correct reader returns)
 * and mutations of them (bit flips, cuts, lying length and count fields, duplicated and garbage
 * batches, random bytes), all from a seeded PRNG so that a failure can be replayed by its seed.
 */

/** mulberry32: small, fast and good enough to drive a fuzzer; the same seed, the same run. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (xs) => xs[int(0, xs.length - 1)]!,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => int(0, 255))),
  };
}

export interface Rng {
  next(): number;
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  bytes(n: number): Buffer;
}

export interface ExpectedRecord {
  offset: number;
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}

export interface FuzzInput {
  /** The Fetch response body (what follows the response header). */
  body: Buffer;
  topicId: string;
  fromOffset: number;
  highWatermark: number;
  /** What a correct reader returns for an unmutated body; undefined once mutated. */
  expected?: { records: ExpectedRecord[]; nextOffset: number };
  /** How the body was made: 'valid' or the mutations applied. */
  kind: string;
  /** True when a mutation may have changed the response's high watermark or partition fields. */
  headerTouched: boolean;
}

interface Parts {
  topicId: string;
  fromOffset: number;
  highWatermark: number;
  batches: Buffer[];
  /** Whether each batch's records are stored uncompressed (record-level rewrites need that). */
  plain: boolean[];
}

const RECORDS_AT = 61; // where a batch's records start: after base offset … records count
const text = (rng: Rng, max: number) =>
  Array.from({ length: rng.int(0, max) }, () => rng.pick([...'abcdefghij é{}":,'])).join('');

function randomRecords(rng: Rng, count: number): RecordSpec[] {
  const records: RecordSpec[] = [];
  let delta = 0;
  for (let i = 0; i < count; i++) {
    const headers: [string, string | null][] = [];
    for (let h = rng.int(0, 2); h > 0; h--) {
      headers.push([
        rng.pick(['a', 'b', 'pinpipe-validated']),
        rng.chance(0.1) ? null : text(rng, 8),
      ]);
    }
    records.push({
      offsetDelta: delta,
      timestampDelta: rng.int(-5, 5_000),
      key: rng.chance(0.3) ? null : text(rng, 10),
      value: rng.chance(0.1) ? null : text(rng, 40),
      headers,
    });
    delta += rng.chance(0.15) ? rng.int(2, 4) : 1; // compaction leaves gaps
  }
  return records;
}

const headersOf = (specs: RecordSpec['headers']) => {
  const out: Record<string, string> = {};
  for (const [k, v] of specs ?? []) {
    const key = k.toString();
    if (v !== null && !(key in out)) out[key] = v.toString();
  }
  // As the reader gives them: no headers, none; headers with null values only, an empty set.
  return (specs?.length ?? 0) > 0 ? out : undefined;
};

/** A valid response: 1 to 4 batches (plain, gzip, commit markers), maybe a cut batch at its end. */
export function validInput(rng: Rng, topicId: string): FuzzInput {
  const fromOffset = rng.int(0, 5_000);
  let base = Math.max(0, fromOffset - rng.int(0, 3));
  let end = base; // after the last batch
  const batches: Buffer[] = [];
  const plain: boolean[] = [];
  const records: ExpectedRecord[] = [];
  for (let b = rng.int(1, 4); b > 0; b--) {
    if (rng.chance(0.15)) {
      // A commit marker: a control batch of one record, left out of what is read.
      const key = Buffer.alloc(4);
      key.writeInt16BE(1, 2);
      batches.push(
        encodeBatch({
          baseOffset: base,
          records: [{ offsetDelta: 0, key, value: Buffer.alloc(6) }],
          attributes: IS_TRANSACTIONAL | IS_CONTROL,
          producerId: 7,
        }),
      );
      plain.push(true);
      base += 1;
      end = base;
      continue;
    }
    const specs = randomRecords(rng, rng.int(1, 8));
    const gzip = rng.chance(0.1);
    batches.push(
      encodeBatch({
        baseOffset: base,
        records: specs,
        ...(gzip ? { attributes: GZIP, compress: (r: Buffer) => gzipSync(r) } : {}),
      }),
    );
    plain.push(!gzip);
    for (const r of specs) {
      if (base + r.offsetDelta < fromOffset) continue;
      const headers = headersOf(r.headers);
      records.push({
        offset: base + r.offsetDelta,
        key: r.key === null || r.key === undefined ? null : r.key.toString(),
        value: r.value === null ? null : r.value.toString(),
        ...(headers ? { headers } : {}),
      });
    }
    end = base + specs[specs.length - 1]!.offsetDelta + 1;
    base = end + (rng.chance(0.1) ? rng.int(1, 3) : 0); // an offset gap between batches
  }
  const nextOffset = Math.max(fromOffset, end);
  const highWatermark = nextOffset + (rng.chance(0.5) ? 0 : rng.int(1, 50));
  const parts: Parts = { topicId, fromOffset, highWatermark, batches, plain };
  let body = build(parts);
  if (rng.chance(0.1)) {
    // Brokers cut the last batch of a full fetch: a reader leaves it for the next fetch.
    const cut = batches[0]!.subarray(0, rng.int(1, batches[0]!.length - 1));
    body = build(parts, Buffer.concat([...batches, cut]));
  }
  return {
    body,
    topicId,
    fromOffset,
    highWatermark,
    expected: { records, nextOffset },
    kind: 'valid',
    headerTouched: false,
  };
}

function build(p: Parts, records = Buffer.concat(p.batches)): Buffer {
  return fetchBody({
    topicId: p.topicId,
    partitions: [{ partition: 0, highWatermark: p.highWatermark, records }],
  });
}

/** Where the records section of a body built by `build` starts (its compact length before it). */
function recordsSection(body: Buffer): { at: number; length: number } | undefined {
  // throttle, error, session, topic count, topic id, partition count, partition … preferred replica
  let at = 4 + 2 + 4 + 1 + 16 + 1 + 4 + 2 + 8 + 8 + 8 + 1 + 4;
  let length = 0;
  for (let shift = 0; at < body.length; shift += 7) {
    const byte = body[at++]!;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { at, length: length - 1 };
  }
  return undefined;
}

/** The batches of a records section (whole ones, walked by their length fields). */
function splitBatches(records: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 12 <= records.length;) {
    const length = records.readInt32BE(at + 8);
    const end = at + 12 + length;
    if (length < 0 || end > records.length) break;
    out.push(records.subarray(at, end));
    at = end;
  }
  return out;
}

/** The record starts of an uncompressed batch, walked by their length varints. */
function recordStarts(batch: Buffer): number[] {
  const starts: number[] = [];
  for (let at = RECORDS_AT; at < batch.length;) {
    starts.push(at);
    let raw = 0;
    let i = at;
    for (let shift = 0; i < batch.length; shift += 7) {
      const byte = batch[i++]!;
      raw += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    const length = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    if (length <= 0) break;
    at = i + length;
  }
  return starts;
}

const hostileInts = [0, -1, 1, 2, 7, 0x7fffffff, -0x80000000, 0x10000, -2];

/** One to three mutations of a valid input; `expected` is dropped, the kinds are listed. */
export function mutate(rng: Rng, input: FuzzInput): FuzzInput {
  let body: Buffer = Buffer.from(input.body);
  const kinds: string[] = [];
  let headerTouched = false;
  for (let n = rng.int(1, 3); n > 0; n--) {
    const section = recordsSection(body);
    const records = section ? body.subarray(section.at, section.at + section.length) : undefined;
    const batches = records ? splitBatches(records) : [];
    const rebuild = (next: Buffer[]) =>
      build(
        {
          topicId: input.topicId,
          fromOffset: input.fromOffset,
          highWatermark: input.highWatermark,
          batches: next,
          plain: [],
        },
        Buffer.concat(next),
      );
    const kind = rng.pick([
      'bitflip',
      'bitflip-resealed',
      'cut',
      'batch-field',
      'record-field',
      'duplicate-batch',
      'garbage-batch',
      'header-field',
      'random-body',
    ] as const);
    kinds.push(kind);
    switch (kind) {
      case 'bitflip':
      case 'bitflip-resealed': {
        const inRecords = section && records && records.length > 0 && rng.chance(0.85);
        for (let f = rng.int(1, 4); f > 0; f--) {
          const at = inRecords
            ? section.at + rng.int(0, records.length - 1)
            : rng.int(0, body.length - 1);
          if (!inRecords) headerTouched = true;
          body[at]! ^= 1 << rng.int(0, 7);
        }
        if (kind === 'bitflip-resealed' && inRecords) {
          body = rebuild(
            splitBatches(body.subarray(section.at, section.at + section.length)).map(resealBatch),
          );
        }
        break;
      }
      case 'cut':
        headerTouched = true;
        body = body.subarray(0, rng.int(0, body.length - 1));
        break;
      case 'batch-field': {
        const i = rng.int(0, batches.length - 1);
        if (!batches[i] || batches[i].length < RECORDS_AT) break;
        const b = Buffer.from(batches[i]);
        const field = rng.pick([
          { at: 0, size: 8 }, // base offset
          { at: 8, size: 4 }, // batch length
          { at: 16, size: 1 }, // magic
          { at: ATTRIBUTES_AT, size: 2 }, // attributes
          { at: 23, size: 4 }, // last offset delta
          { at: 57, size: 4 }, // records count
        ]);
        const v = rng.chance(0.7) ? rng.pick(hostileInts) : rng.int(-1000, 1000);
        if (field.size === 8) b.writeBigInt64BE(rng.chance(0.5) ? 2n ** 40n : BigInt(v), field.at);
        else if (field.size === 4) b.writeInt32BE(v | 0, field.at);
        else if (field.size === 2) b.writeInt16BE((v << 16) >> 16, field.at);
        else b.writeInt8((v << 24) >> 24, field.at);
        const next = [...batches];
        next[i] = rng.chance(0.7) ? resealBatch(b) : b;
        body = rebuild(next);
        break;
      }
      case 'record-field': {
        const i = batches.findIndex(
          (b) => b.length >= RECORDS_AT && (b.readInt16BE(ATTRIBUTES_AT) & 7) === 0,
        );
        if (i < 0) break;
        const b = batches[i]!;
        const starts = recordStarts(b);
        if (starts.length === 0) break;
        const at = rng.pick(starts) + (rng.chance(0.5) ? 0 : rng.int(1, 6));
        // A varint in place of the one there: a record length, key length, header count…
        const replacement = new Bytes()
          .varint(
            rng.chance(0.5)
              ? rng.pick(hostileInts)
              : rng.pick([2n ** 48n, -(2n ** 31n), 2n ** 40n]),
          )
          .done();
        const mutated = Buffer.concat([
          b.subarray(0, at),
          replacement,
          b.subarray(Math.min(b.length, at + 1)),
        ]);
        mutated.writeInt32BE(mutated.length - 12, 8);
        const next = [...batches];
        next[i] = rng.chance(0.8) ? resealBatch(mutated) : mutated;
        body = rebuild(next);
        break;
      }
      case 'duplicate-batch': {
        if (batches.length === 0) break;
        const i = rng.int(0, batches.length - 1);
        const next = [...batches];
        next.splice(i, 0, batches[i]!);
        body = rebuild(next);
        break;
      }
      case 'garbage-batch': {
        const next = [...batches];
        const garbage = rng.chance(0.5)
          ? rng.bytes(rng.int(1, 80))
          : resealBatch(
              encodeBatch({
                baseOffset: input.fromOffset + rng.int(-5, 5),
                records: rng.bytes(rng.int(0, 40)),
                count: rng.pick(hostileInts),
              }),
            );
        next.splice(rng.int(0, next.length), 0, garbage);
        body = rebuild(next);
        break;
      }
      case 'header-field': {
        headerTouched = true;
        // throttle, error, session, topic count, topic id, partition count, partition, error, hw…
        const at = rng.pick([4, 10, 11, 27, 28, 32, 34, 42, 50, 58]);
        if (at < body.length) body[at] = rng.pick([0, 1, 2, 0x7f, 0x80, 0xff]);
        break;
      }
      case 'random-body':
        headerTouched = true;
        body = rng.chance(0.5)
          ? rng.bytes(rng.int(0, 200))
          : Buffer.concat([body.subarray(0, rng.int(0, 60)), rng.bytes(rng.int(0, 200))]);
        break;
    }
  }
  return {
    body,
    topicId: input.topicId,
    fromOffset: input.fromOffset,
    highWatermark: input.highWatermark,
    kind: kinds.join('+'),
    headerTouched,
  };
}

/**
 * A source of inputs: valid ones one time in five, mutations otherwise, drawn from a corpus of
 * `size` valid responses made up front (making one costs ten times what mutating one does).
 */
export function fuzzInputs(rng: Rng, topicId: string, size = 1_000): () => FuzzInput {
  const corpus = Array.from({ length: size }, () => validInput(rng, topicId));
  return () => {
    const valid = rng.pick(corpus);
    return rng.chance(0.2) ? valid : mutate(rng, valid);
  };
}

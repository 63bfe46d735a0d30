import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { GenericError, MultipleErrors } from '@platformatic/kafka';
import { KafkaFetchError, MalformedFetchError } from '../../src/adapters/partition-reader';
import { PlatformaticReader } from '../../src/adapters/platformatic-reader';
import { type ReadPartitionResult, UnreadableRecordsError } from '../../src/ports/kafka';
import { type FuzzInput, fuzzInputs, prng, type Rng } from '../helpers/fetch-fuzz';
import { collectGarbage, MiB, usedBytes } from '../helpers/heap';
import { Bytes, responseFrame } from '../helpers/kafka-frames';
import { type FetchAsk, ScriptedBroker } from '../helpers/scripted-broker';

/**
 * PlatformaticReader.readPartition, end to end over TCP, against a scripted broker answering
 * every Fetch with a random valid response or a mutation of one (bit flips, cuts, lying lengths,
 * counts and offsets with and without a CRC to match, duplicated and garbage batches, random
 * bytes) and, one time in eight, a mutation of the frame itself (its size, its correlation id,
 * written twice or in pieces). For a few seconds (FUZZ_MS, default 4000) from a seed printed on
 * failure (FUZZ_SEED replays it), every read must return correct records, or fail with a typed
 * error, within a second, with memory flat.
 */

const TOPIC = 'fuzzed';
const FAST_MS = 1_000;
/** Short enough that a frame promising bytes that never come fails within FAST_MS. */
const REQUEST_TIMEOUT_MS = 600;

type FrameMutation =
  'none' | 'pieces' | 'shorter' | 'hostile-size' | 'longer' | 'correlation' | 'twice';

function frameMutation(rng: Rng): FrameMutation {
  if (!rng.chance(1 / 8)) return 'none';
  return rng.pick(['pieces', 'shorter', 'hostile-size', 'longer', 'correlation', 'twice'] as const);
}

/** The bytes answering `ask` for this input, the frame mutated as chosen (the same each time). */
function answer(input: FuzzInput, how: FrameMutation, sizes: number[], ask: FetchAsk): Buffer[] {
  const frame = responseFrame(ask.correlationId, input.body);
  switch (how) {
    case 'none':
      return [frame];
    case 'pieces': {
      const out: Buffer[] = [];
      for (let at = 0, i = 0; at < frame.length; i++) {
        const n = Math.max(1, sizes[i % sizes.length]! % 40);
        out.push(frame.subarray(at, (at += n)));
      }
      return out;
    }
    case 'twice':
      return [frame, frame];
    case 'correlation': {
      const copy = Buffer.from(frame);
      copy.writeInt32BE(ask.correlationId + 1, 4);
      return [copy];
    }
    default: {
      const size =
        how === 'shorter'
          ? 8 + (sizes[0]! % Math.max(1, frame.length - 12))
          : how === 'longer'
            ? frame.length - 4 + 1 + (sizes[0]! % 100)
            : [0, 2, -4, 7, 0x7fffffff, -0x80000000][sizes[0]! % 6]!;
      return [new Bytes().int32(size).done(), frame.subarray(4)];
    }
  }
}

/** Typed: the reader's own errors, or the library's (network, timeout, refusal). */
function typed(err: unknown): string | undefined {
  if (err instanceof UnreadableRecordsError) return err.name;
  if (err instanceof MalformedFetchError || err instanceof KafkaFetchError) return err.name;
  if (
    err instanceof Error &&
    (GenericError.isGenericError(err) || MultipleErrors.isMultipleErrors(err))
  ) {
    return `library ${(err as { code: string }).code}`;
  }
  return undefined;
}

describe('PlatformaticReader fuzzed over TCP', function () {
  this.timeout(120_000);
  const uncaught: unknown[] = [];
  const record = (err: unknown) => void uncaught.push(err);

  before(() => {
    process.on('uncaughtException', record);
    process.on('unhandledRejection', record);
  });

  after(() => {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  });

  it('random and mutated Fetch responses: correct records or typed errors, none over 1 s, memory flat', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const budgetMs = Number(process.env.FUZZ_MS ?? 4_000);
    const rng = prng(seed);
    const broker = await ScriptedBroker.start({ topic: TOPIC });
    const next = fuzzInputs(rng, broker.topicId, 300);
    const reader = new PlatformaticReader({
      brokers: [broker.address],
      clientId: 'fuzz-test',
      connectTimeoutMs: 2_000,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    const classes = new Map<string, number>();
    const count = (c: string) => classes.set(c, (classes.get(c) ?? 0) + 1);
    let inputs = 0;
    let slowest = 0;
    let peak = 0;
    let last: string;
    const fail = (message: string) =>
      assert.fail(`seed ${seed} (FUZZ_SEED=${seed} replays it), input ${inputs}: ${message}`);
    try {
      collectGarbage();
      const start = usedBytes();
      const began = performance.now();
      while (performance.now() - began < budgetMs) {
        inputs++;
        const input = next();
        const how = frameMutation(rng);
        const sizes = [rng.int(0, 2 ** 30), rng.int(0, 2 ** 30), rng.int(0, 2 ** 30)];
        last = `${input.kind}, frame ${how}`;
        broker.highWatermark = input.highWatermark;
        broker.onFetch = (ask) => answer(input, how, sizes, ask);
        const t = performance.now();
        const read = reader.readPartition({
          topic: TOPIC,
          partition: 0,
          fromOffset: input.fromOffset,
          maxRecords: 100_000,
          maxWaitMs: 0,
        });
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          read.then(
            (value: ReadPartitionResult) => ({ value }),
            (error: unknown) => ({ error }),
          ),
          new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 3_000))),
        ]);
        clearTimeout(timer);
        const ms = performance.now() - t;
        slowest = Math.max(slowest, ms);
        if (outcome === 'hung' || ms > FAST_MS) fail(`${last}: took ${Math.round(ms)} ms`);
        if (outcome !== 'hung' && 'error' in outcome) {
          const name = typed(outcome.error);
          if (!name) {
            const e = outcome.error as Error;
            fail(`${last}: untyped ${e?.name}: ${e?.message}\n${e?.stack}`);
          }
          count(`${how === 'none' ? 'body' : `frame ${how}`}: ${name}`);
          if (input.expected && how === 'none')
            fail(`${last}: a valid response refused: ${String(outcome.error)}`);
        } else if (outcome !== 'hung') {
          const got = outcome.value;
          const bound = input.headerTouched ? got.highWatermark : input.highWatermark;
          let previous = input.fromOffset - 1;
          for (const r of got.records) {
            if (r.offset <= previous || r.offset >= bound) {
              fail(`${last}: record at ${r.offset} (after ${previous}, high watermark ${bound})`);
            }
            previous = r.offset;
          }
          if (
            got.nextOffset < input.fromOffset ||
            got.nextOffset > Math.max(bound, input.fromOffset)
          ) {
            fail(
              `${last}: next offset ${got.nextOffset} (from ${input.fromOffset}, high watermark ${bound})`,
            );
          }
          if (input.expected && (how === 'none' || how === 'pieces')) {
            // readPartition's next offset follows the last record it returns (markers after it
            // are read again by the next read).
            const lastRecord = input.expected.records.at(-1);
            const expectedNext = lastRecord ? lastRecord.offset + 1 : input.fromOffset;
            assert.equal(got.nextOffset, expectedNext, `seed ${seed}, input ${inputs}`);
            assert.deepEqual(
              got.records.map((r) => ({
                offset: r.offset,
                key: r.key,
                value: r.value === null ? null : Buffer.from(r.value).toString(),
                ...(r.headers ? { headers: r.headers } : {}),
              })),
              input.expected.records,
              `seed ${seed}, input ${inputs}`,
            );
          }
          count(
            `${how === 'none' ? 'body' : 'frame'}: read ${input.expected ? 'valid' : 'mutated'}`,
          );
        }
        // Each input on a reader of its own: a fetch ahead of one input never answers another.
        await reader.forgetTopics([TOPIC]);
        if (inputs % 500 === 0) {
          collectGarbage();
          peak = Math.max(peak, usedBytes() - start);
        }
      }
      const seconds = (performance.now() - began) / 1_000;
      console.log(
        `      seed ${seed}: ${inputs} inputs in ${seconds.toFixed(1)} s ` +
          `(${Math.round(inputs / seconds)}/s), slowest ${Math.round(slowest)} ms, ` +
          `memory +${Math.round(peak / MiB)} MiB`,
      );
      for (const [c, n] of [...classes].sort((a, b) => b[1] - a[1])) {
        console.log(`        ${String(n).padStart(6)} ${c}`);
      }
      assert.ok(peak < 64 * MiB, `seed ${seed}: memory grew by ${peak} bytes`);
      assert.deepEqual(uncaught, [], `seed ${seed}: nothing escaped to uncaughtException`);
    } finally {
      await reader.close();
      await broker.close();
    }
  });
});

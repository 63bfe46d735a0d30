import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createKafka, KafkajsKafka } from '../src/adapters/kafkajs-kafka';
import { PlatformaticReader } from '../src/adapters/platformatic-reader';
import type { ReadPartitionInput, ReadPartitionResult } from '../src/ports/kafka';
import { pinRecord } from '../test/helpers/ingest-fixtures';
import { stackConfig, uniqueName } from '../test/helpers/stack';
import { writeBenchResult, numberOption } from './bench-context';

/**
 * The sink's partition reader, measured (issue: a maintained Kafka client on the read path).
 * One backlog of pins in a fresh topic, then in the same run, each in a fresh process of its own
 * (so each has its own heap and peak RSS): (a) a plain kafkajs consumer reading everything, the
 * baseline, as bench/ingest-bench.ts runs it; (b) the sink's port, KafkajsKafka.readPartition
 * (PlatformaticReader behind it); (c) PlatformaticReader.readPartition alone. (b) and (c) read
 * every partition at once from offset 0 to the end with the sink's budgets. Figures are records/s
 * and ratios to the same run's baseline (these machines are shared); the order rotates per run.
 *
 *   npx tsx bench/kafka-reader-bench.ts --records 500000 [--runs 3] [--partitions 3]
 *     [--value-bytes 600] [--max-records 10000] [--max-bytes 16777216]
 */

type Mode = 'plain' | 'kafkajs-reader' | 'platformatic-reader';

const LABELS: Record<Mode, string> = {
  plain: '(a) plain kafkajs consumer',
  'kafkajs-reader': '(b) KafkajsKafka.readPartition (the port)',
  'platformatic-reader': '(c) PlatformaticReader.readPartition',
};

/** What the sink asks of each read (sink-activities.ts READ_WAIT_MS, ingest-input.ts defaults). */
const SINK_READ_WAIT_MS = 2_000;

interface Options {
  records: number;
  runs: number;
  partitions: number;
  valueBytes: number;
  maxRecords: number;
  maxBytes: number;
}

function parseOptions(args: string[]): Options {
  const get = (name: string, fallback: number) => numberOption(args, name, fallback);
  return {
    records: get('records', 500_000),
    runs: get('runs', 3),
    partitions: get('partitions', 3),
    valueBytes: get('value-bytes', 600),
    maxRecords: get('max-records', 10_000),
    maxBytes: get('max-bytes', 16 * 1024 * 1024),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;

/** A pin as JSON, its description padded so the value is about `bytes` long. */
function pinValue(seq: number, bytes: number): string {
  const base = JSON.stringify(pinRecord(seq));
  const pad = Math.max(0, bytes - base.length);
  const words = 'painted landscape with mountains and a lake at dusk, ';
  const description = `A test pin. ${words.repeat(Math.ceil(pad / words.length))}`.slice(
    0,
    'A test pin'.length + pad,
  );
  return JSON.stringify({ ...pinRecord(seq), description });
}

/** Another engineer's bench on this 2-core machine would skew every figure: wait it out. */
async function waitForQuietMachine(): Promise<void> {
  for (;;) {
    const ps = execFileSync('ps', ['aux'], { encoding: 'utf8' });
    if (!/bench\/run\.ts/.test(ps)) return;
    console.log('  another bench (bench/run.ts) is running; waiting 60 s');
    await sleep(60_000);
  }
}

async function produceBacklog(o: Options): Promise<{ topic: string; bytes: number }> {
  const config = stackConfig();
  const kafka = KafkajsKafka.fromOptions(config.kafka);
  const topic = uniqueName('reader-bench');
  await kafka.ensureTopics([{ name: topic, partitions: o.partitions }]);
  let bytes = 0;
  // One send at a time (concurrent ones are coalesced into one request) and about 0.5 MB per
  // partition and send: the broker refuses batches over message.max.bytes (1 MB).
  const chunk = Math.max(1, Math.floor((o.partitions * 512 * 1024) / (o.valueBytes + 100)));
  for (let from = 0; from < o.records; from += chunk) {
    const batch = [];
    for (let seq = from; seq < Math.min(o.records, from + chunk); seq++) {
      const value = pinValue(seq, o.valueBytes);
      bytes += Buffer.byteLength(value);
      batch.push({ value, partition: seq % o.partitions });
    }
    await kafka.produce(topic, batch);
  }
  await kafka.disconnect();
  return { topic, bytes };
}

async function deleteTopic(topic: string): Promise<void> {
  const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
  await kafka.deleteTopics([topic]);
  await kafka.disconnect();
}

interface ChildResult {
  mode: Mode;
  seconds: number;
  records: number;
  bytes: number;
  /** Resident memory once connected, before reading, MiB. */
  startRssMb: number;
  /** VmHWM: the process's peak resident memory, MiB. */
  peakRssMb: number;
}

function statusMb(field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
}

/** (a) As bench/ingest-bench.ts: kafkajs's own consumer reading the whole backlog, doing nothing with it. */
async function plainConsumer(topic: string, count: number): Promise<Omit<ChildResult, 'mode'>> {
  const kafka = createKafka(stackConfig().kafka);
  const consumer = kafka.consumer({ groupId: uniqueName('bench-plain') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const startRssMb = statusMb('VmRSS');
  let seen = 0;
  let bytes = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const started = performance.now();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) bytes += m.value?.length ?? 0;
      seen += batch.messages.length;
      if (seen >= count) done();
      await Promise.resolve();
    },
  });
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await consumer.disconnect();
  return { seconds, records: seen, bytes, startRssMb, peakRssMb: statusMb('VmHWM') };
}

/** (b), (c): every partition at once, each read as the sink's sinkBatch asks for it, to the end. */
async function partitionReads(
  read: (input: ReadPartitionInput) => Promise<ReadPartitionResult>,
  topic: string,
  o: Options,
): Promise<Omit<ChildResult, 'mode' | 'startRssMb' | 'peakRssMb'>> {
  let records = 0;
  let bytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: o.partitions }, async (_, partition) => {
      for (let next = 0, end = Number.POSITIVE_INFINITY; next < end;) {
        const batch = await read({
          topic,
          partition,
          fromOffset: next,
          maxRecords: o.maxRecords,
          maxBytes: o.maxBytes,
          maxWaitMs: SINK_READ_WAIT_MS,
          untilCaughtUp: true,
        });
        if (end === Number.POSITIVE_INFINITY) end = batch.highWatermark;
        for (const r of batch.records) bytes += r.value?.length ?? 0;
        records += batch.records.length;
        if (batch.nextOffset === next) throw new Error(`no progress at ${partition}@${next}`);
        next = batch.nextOffset;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, records, bytes };
}

async function runChild(mode: Mode, topic: string, o: Options): Promise<ChildResult> {
  const config = stackConfig().kafka;
  if (mode === 'plain') return { mode, ...(await plainConsumer(topic, o.records)) };
  if (mode === 'kafkajs-reader') {
    const kafka = KafkajsKafka.fromOptions(config);
    await kafka.watermarks(topic); // connected, as the sink's long-lived adapter is
    const startRssMb = statusMb('VmRSS');
    const result = await partitionReads((i) => kafka.readPartition(i), topic, o);
    const peakRssMb = statusMb('VmHWM');
    await kafka.disconnect();
    return { mode, ...result, startRssMb, peakRssMb };
  }
  const fresh = new PlatformaticReader({
    brokers: config.brokers,
    clientId: config.clientId,
  });
  // Connected, as the sink's long-lived adapter is: metadata and ListOffsets, no fetch.
  await fresh.readPartition({ topic, partition: 0, fromOffset: 0, maxRecords: 0, maxWaitMs: 0 });
  const startRssMb = statusMb('VmRSS');
  const result = await partitionReads((i) => fresh.readPartition(i), topic, o);
  const peakRssMb = statusMb('VmHWM');
  await fresh.close();
  return { mode, ...result, startRssMb, peakRssMb };
}

/** Runs one contender in a process of its own; its last stdout line is its result. */
function spawnChild(mode: Mode, topic: string, args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, __filename, ...args, '--child', mode, '--topic', topic],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_NO_WARNINGS: '1' } },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`${mode} exited with ${code}: ${out}`));
      resolve(JSON.parse(last) as ChildResult);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const o = parseOptions(args);
  const childAt = args.indexOf('--child');
  if (childAt >= 0) {
    const mode = args[childAt + 1] as Mode;
    const topic = args[args.indexOf('--topic') + 1]!;
    console.log(JSON.stringify(await runChild(mode, topic, o)));
    return;
  }

  const modes: Mode[] = ['plain', 'kafkajs-reader', 'platformatic-reader'];
  console.log(
    `kafka reader bench: ${o.records} records of ~${o.valueBytes} B in ${o.partitions} partitions, ` +
      `reads of ${o.maxRecords} records / ${mb(o.maxBytes)} MiB, ${o.runs} runs`,
  );
  const backlog = await produceBacklog(o);
  console.log(
    `  produced ${o.records} records (${mb(backlog.bytes).toFixed(1)} MiB) to ${backlog.topic}`,
  );
  const runs: Record<Mode, ChildResult>[] = [];
  try {
    for (let run = 0; run < o.runs; run++) {
      const order = modes.map((_, i) => modes[(i + run) % modes.length]!);
      const results = {} as Record<Mode, ChildResult>;
      for (const mode of order) {
        await waitForQuietMachine();
        const r = await spawnChild(mode, backlog.topic, args);
        if (r.records !== o.records || r.bytes !== backlog.bytes) {
          throw new Error(
            `${mode} read ${r.records} records, ${r.bytes} B; expected ${o.records}, ${backlog.bytes} B`,
          );
        }
        results[mode] = r;
      }
      runs.push(results);
      const base = results.plain;
      console.log(`  run ${run + 1} (order ${order.join(', ')}):`);
      for (const mode of modes) {
        const r = results[mode];
        console.log(
          `    ${LABELS[mode].padEnd(46)} ${(r.records / r.seconds).toFixed(0).padStart(7)} records/s` +
            `  ${(base.seconds / r.seconds).toFixed(2)} × baseline  ${r.seconds.toFixed(2)} s` +
            `  peak RSS ${r.peakRssMb.toFixed(0)} MiB (${r.startRssMb.toFixed(0)} before reading)`,
        );
      }
    }
  } finally {
    await deleteTopic(backlog.topic);
  }

  const summary = modes.map((mode) => ({
    mode,
    label: LABELS[mode],
    recordsPerSecond: runs.map((r) => r[mode].records / r[mode].seconds),
    ratioToBaseline: runs.map((r) => r.plain.seconds / r[mode].seconds),
    peakRssMb: runs.map((r) => r[mode].peakRssMb),
    startRssMb: runs.map((r) => r[mode].startRssMb),
  }));
  console.log(`  median of ${o.runs} runs:`);
  for (const s of summary) {
    console.log(
      `    ${s.label.padEnd(46)} ${median(s.recordsPerSecond).toFixed(0).padStart(7)} records/s` +
        `  ${median(s.ratioToBaseline).toFixed(2)} × baseline` +
        `  peak RSS ${median(s.peakRssMb).toFixed(0)} MiB`,
    );
  }
  const file = writeBenchResult('kafka-reader', {
    options: o,
    backlogMiB: mb(backlog.bytes),
    target: 'each reader ≥ 0.7 × the plain kafkajs consumer of the same run',
    summary: summary.map((s) => ({
      ...s,
      medianRecordsPerSecond: median(s.recordsPerSecond),
      medianRatio: median(s.ratioToBaseline),
      medianPeakRssMb: median(s.peakRssMb),
    })),
    runs,
  });
  console.log(`  results in ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

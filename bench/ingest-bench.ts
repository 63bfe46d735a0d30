import type { Client } from '@temporalio/client';
import { createKafka } from '../src/adapters/kafkajs-kafka';
import type { Adapters } from '../src/adapters/create-adapters';
import type { Config } from '../src/config';
import { loadConfig } from '../src/config';
import { bucketFor, topicFor } from '../src/domain/tables';
import { ingestTopic, progressQuery, stopSignal } from '../src/workflows/ingest-topic';
import { pinRecord, randomPipelineId } from '../test/helpers/ingest-fixtures';
import { freePort, spawnEntry, startWorkerProcess, waitForOutput } from '../test/helpers/processes';
import { stackEnv, uniqueName } from '../test/helpers/stack';
import {
  type BenchContext,
  openBenchContext,
  rssMb,
  writeBenchResult,
  numberOption,
} from './bench-context';

/**
 * The ingestion bench (issues 4 and 13): sink throughput against a plain kafkajs consumer reading
 * the same backlog in the same run, the worker's peak RSS at two backlog sizes, and produce-to-S3
 * latency at a steady rate. Figures are ratios to same-run baselines: these machines are shared.
 *
 * The headline backlog is what the ingest API leaves in Kafka: records it validated, signed in
 * runs (PINPIPE_SIGNING_KEY), which the sink writes without validating again. The same figure is
 * also taken for a backlog nobody signed (the sink validates every record), over TLS + SCRAM, and
 * from a cold worker. Each sink drains in a worker that has already run one small ingestion (its
 * first workflow task, connections and JIT are warm, as a running worker's are), except the cold
 * figure's.
 */

interface Options {
  records: number;
  small: number;
  rate: number;
  seconds: number;
  rotateMs: number;
  partitions: number;
  maxRecords: number;
  rounds: number;
}

function parseOptions(args: string[]): Options {
  const get = (name: string, fallback: number) => numberOption(args, name, fallback);
  return {
    records: get('records', 500_000),
    small: get('small', 100_000),
    rate: get('rate', 1_000),
    seconds: get('seconds', 30),
    rotateMs: get('rotate-ms', 5_000),
    partitions: get('partitions', 3),
    maxRecords: get('max-records', 10_000),
    rounds: numberOption(args, 'rounds', 3, true),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A backlog in sends of 5,000 records: `signed`, as the ingest API leaves it (validated, signed
 * per partition run); otherwise as any other producer would (the sink validates each record).
 */
async function produceBacklog(
  adapters: Adapters,
  count: number,
  partitions: number,
  signed = true,
) {
  const pipelineId = randomPipelineId();
  const topic = topicFor(pipelineId, 'pin');
  await adapters.kafka.ensureTopics([{ name: topic, partitions }]);
  let bytes = 0;
  for (let from = 0; from < count; from += 5_000) {
    const batch = [];
    for (let seq = from; seq < Math.min(count, from + 5_000); seq++) {
      const value = JSON.stringify(pinRecord(seq));
      bytes += Buffer.byteLength(value);
      batch.push({ value, partition: seq % partitions, ...(signed ? { validated: true } : {}) });
    }
    await adapters.kafka.produce(topic, batch);
  }
  return { pipelineId, topic, bucket: bucketFor(pipelineId), bytes };
}

type Backlog = Awaited<ReturnType<typeof produceBacklog>>;

/** The baseline: kafkajs's own consumer reading the whole backlog, doing nothing with it. */
async function plainConsumer(config: Config, topic: string, count: number) {
  const kafka = createKafka(config.kafka);
  const consumer = kafka.consumer({ groupId: uniqueName('bench-plain') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
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
  return { seconds, records: seen, bytes };
}

const startWorker = (taskQueue: string, env: Record<string, string> = {}) =>
  startWorkerProcess(taskQueue, env);

/**
 * The environment of the local broker's SASL_SSL listener (TLS with the stack's CA,
 * SCRAM-SHA-512), as a worker on MSK or Confluent Cloud would be configured.
 */
function secureKafkaEnv(): Record<string, string> {
  const env = stackEnv();
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`scripts/stack.sh env printed no ${name}`);
    return v;
  };
  return {
    KAFKA_BROKERS: need('PINPIPE_KAFKA_SECURE_BROKERS'),
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: need('PINPIPE_KAFKA_CA_FILE'),
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: need('PINPIPE_KAFKA_SASL_USERNAME'),
    KAFKA_SASL_PASSWORD: need('PINPIPE_KAFKA_SASL_PASSWORD'),
  };
}

/** Runs the ingestion of a backlog until it is all durable; seconds from start to last write. */
async function drain(
  client: Client,
  taskQueue: string,
  backlog: Backlog,
  count: number,
  maxRecords: number,
) {
  const started = Date.now();
  const handle = await client.workflow.start(ingestTopic, {
    taskQueue,
    workflowId: `ingest-${backlog.pipelineId}-pin`,
    args: [{ pipelineId: backlog.pipelineId, table: 'pin', maxRecords, rotateIntervalMs: 1_000 }],
  });
  let progress;
  for (let i = 1; ; i++) {
    progress = await handle.query(progressQuery);
    if (progress.totals.recordsWritten >= count && progress.totals.lag === 0) break;
    if (i % 20 === 0 && (await handle.describe()).status.name !== 'RUNNING') {
      await handle.result(); // throws the workflow's failure
      throw new Error(`${handle.workflowId} ended before writing ${count} records`);
    }
    await sleep(100);
  }
  // Done when the workflow recorded its last object (its ledger says when), not when this
  // loop's next query happened to ask: polling faster would load the worker it measures.
  const finished = Math.max(...progress.partitions.map((p) => Date.parse(p.lastFlushAt ?? '')));
  if (!Number.isFinite(finished)) throw new Error('the workflow reports no flush time');
  await handle.signal(stopSignal);
  await handle.result();
  return (finished - started) / 1000;
}

/**
 * The sink in a worker process of its own: time to drain, and its RSS while draining. Warm (the
 * default): the worker first ingests a small backlog of its own, so the measure starts from a
 * running worker, as the plain consumer's starts from a connected one.
 */
async function sinkDrain(
  ctx: { client: Client; adapters: Adapters },
  backlog: Backlog,
  count: number,
  o: Pick<Options, 'maxRecords' | 'partitions'>,
  env: Record<string, string> = {},
  warm = true,
) {
  const taskQueue = uniqueName('bench-sink');
  const worker = await startWorker(taskQueue, env);
  try {
    // The warm-up topic is deleted after the measure: a topic deleted under a running worker
    // costs its Kafka admin client a reconnect (KafkajsAdmin.withClient), which is not the sink.
    const warmUp = warm ? await produceBacklog(ctx.adapters, 3_000, o.partitions) : undefined;
    if (warmUp) await drain(ctx.client, taskQueue, warmUp, 3_000, o.maxRecords);
    const pid = worker.child.pid!;
    const idleRss = rssMb(pid);
    let peakRss = idleRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid))), 100);
    const seconds = await drain(ctx.client, taskQueue, backlog, count, o.maxRecords);
    clearInterval(sampler);
    if (warmUp) await ctx.adapters.kafka.deleteTopics([warmUp.topic]);
    return {
      seconds,
      records: count,
      bytes: backlog.bytes,
      idleRssMb: idleRss,
      peakRssMb: peakRss,
    };
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One backlog drained by the plain consumer and then by the sink: the ratio of their times. */
async function compare(
  ctx: BenchContext,
  o: Options,
  count: number,
  how: { signed?: boolean; warm?: boolean; secure?: boolean } = {},
) {
  const backlog = await produceBacklog(ctx.adapters, count, o.partitions, how.signed ?? true);
  const env = how.secure ? secureKafkaEnv() : {};
  const config = how.secure ? loadConfig({ ...stackEnv(), ...env }) : ctx.config;
  const plain = await plainConsumer(config, backlog.topic, count);
  const sink = await sinkDrain(ctx, backlog, count, o, env, how.warm ?? true);
  await ctx.adapters.kafka.deleteTopics([backlog.topic]);
  return { plain, sink, ratio: plain.seconds / sink.seconds };
}

/** Steady traffic through the API; each record's latency is from its POST to its object's appearance. */
async function latencyRun(client: Client, adapters: Adapters, o: Options) {
  const pipelineId = randomPipelineId();
  const topic = topicFor(pipelineId, 'pin');
  const bucket = bucketFor(pipelineId);
  await adapters.kafka.ensureTopics([{ name: topic, partitions: o.partitions }]);
  await adapters.store.ensureBucket(bucket);
  const taskQueue = uniqueName('bench-latency');
  const worker = await startWorker(taskQueue);
  const port = await freePort();
  const api = spawnEntry('src/api/main.ts', {
    ...stackEnv(),
    PINPIPE_API_PORT: String(port),
    PINPIPE_PIPELINE_IDS: pipelineId, // the API serves only the pipelines it is told
  });
  await waitForOutput(api, /listening on/);
  const handle = await client.workflow.start(ingestTopic, {
    taskQueue,
    workflowId: `ingest-${pipelineId}-pin`,
    args: [{ pipelineId, table: 'pin', rotateIntervalMs: o.rotateMs, idlePollMs: 200 }],
  });

  const sentAt = new Map<number, number>();
  const landedAt = new Map<number, number>();
  const seenKeys = new Set<string>();
  let polling = true;
  const poller = (async () => {
    while (polling || landedAt.size < sentAt.size) {
      for await (const obj of adapters.store.list({ bucket, prefix: `topics/${topic}/` })) {
        if (seenKeys.has(obj.key)) continue;
        seenKeys.add(obj.key);
        const now = Date.now();
        const body = Buffer.from((await adapters.store.get({ bucket, key: obj.key }))!).toString();
        for (const line of body.split('\n')) {
          if (line) landedAt.set((JSON.parse(line) as { index: number }).index, now);
        }
      }
      await sleep(100);
    }
  })();

  const tick = 100;
  const perTick = Math.round((o.rate * tick) / 1000);
  const total = perTick * Math.round((o.seconds * 1000) / tick);
  const start = Date.now();
  for (let seq = 0, n = 0; seq < total; n++) {
    const due = start + n * tick;
    if (due > Date.now()) await sleep(due - Date.now());
    const records = [];
    for (let i = 0; i < perTick && seq < total; i++, seq++) records.push({ value: pinRecord(seq) });
    const first = seq - records.length;
    const sent = Date.now();
    records.forEach((_, i) => sentAt.set(first + i, sent));
    const res = await fetch(`http://127.0.0.1:${port}/topics/${topic}`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records }),
    });
    if (res.status !== 200) throw new Error(`API answered ${res.status}: ${await res.text()}`);
  }
  polling = false;
  await poller;
  await handle.signal(stopSignal);
  await handle.result();
  worker.child.kill('SIGTERM');
  api.child.kill('SIGTERM');
  await Promise.all([worker.exited, api.exited]);

  const latencies = [...sentAt]
    .map(([seq, sent]) => landedAt.get(seq)! - sent)
    .sort((a, b) => a - b);
  const pct = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return {
    records: total,
    rate: o.rate,
    rotateMs: o.rotateMs,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: latencies[latencies.length - 1]!,
  };
}

export async function runIngestBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  const ctx = await openBenchContext();
  const { adapters, client } = ctx;
  try {
    console.log(
      `ingest bench: backlog ${o.records} pins (${o.rounds} rounds), second backlog ${o.small}, ` +
        `${o.partitions} partitions, ${o.maxRecords} records an object`,
    );
    const line = (what: string, r: Awaited<ReturnType<typeof compare>>) =>
      console.log(
        `  ${what.padEnd(38)} plain ${r.plain.seconds.toFixed(2)} s, sink ${r.sink.seconds.toFixed(2)} s` +
          ` → ${r.ratio.toFixed(2)} (sink peak RSS ${r.sink.peakRssMb.toFixed(0)} MB)`,
      );
    const rounds = [];
    for (let i = 0; i < o.rounds; i++) {
      const r = await compare(ctx, o, o.records);
      line(`signed, round ${i + 1}`, r);
      rounds.push(r);
    }
    const validated = await compare(ctx, o, o.records, { signed: false });
    line('unsigned: every record validated', validated);
    const cold = await compare(ctx, o, o.records, { warm: false });
    line('signed, cold worker', cold);
    const secure = await compare(ctx, o, o.small, { secure: true });
    line(`signed over TLS + SCRAM (${o.small})`, secure);
    const small = await compare(ctx, o, o.small);
    line(`signed (${o.small})`, small);
    const latency = await latencyRun(client, adapters, o);

    const big = rounds.map((r) => r.sink.peakRssMb);
    const results = {
      when: new Date().toISOString(),
      options: o,
      rounds: rounds.map((r) => ({ plain: r.plain, sink: r.sink, ratio: r.ratio })),
      throughputRatio: median(rounds.map((r) => r.ratio)),
      plainRecordsPerSec: median(rounds.map((r) => r.plain.records / r.plain.seconds)),
      sinkRecordsPerSec: median(rounds.map((r) => r.sink.records / r.sink.seconds)),
      fullValidation: validated,
      fullValidationRatio: validated.ratio,
      cold,
      coldRatio: cold.ratio,
      secure,
      secureThroughputRatio: secure.ratio,
      small,
      peakRssRatioLargeToSmall: median(big) / small.sink.peakRssMb,
      latency,
    };
    const file = writeBenchResult('ingest', results);

    const row = (name: string, value: string, target: string) =>
      console.log(`  ${name.padEnd(46)} ${value.padEnd(22)} ${target}`);
    console.log('\n  figure                                         value                  target');
    row(
      'plain kafkajs consumer (median)',
      `${results.plainRecordsPerSec.toFixed(0)} rec/s`,
      'baseline',
    );
    row(
      'pinpipe sink, signed backlog (median)',
      `${results.sinkRecordsPerSec.toFixed(0)} rec/s`,
      '',
    );
    row(
      'sink / plain throughput (median)',
      `${results.throughputRatio.toFixed(2)} (${rounds.map((r) => r.ratio.toFixed(2)).join(', ')})`,
      '>= 0.70',
    );
    row('sink / plain, every record validated', results.fullValidationRatio.toFixed(2), 'report');
    row('sink / plain, signed, cold worker', results.coldRatio.toFixed(2), 'report');
    row(
      'sink / plain over TLS + SCRAM-SHA-512',
      results.secureThroughputRatio.toFixed(2),
      `report (${o.small} records)`,
    );
    row(`worker peak RSS, ${o.small} backlog`, `${small.sink.peakRssMb.toFixed(0)} MB`, '');
    row(`worker peak RSS, ${o.records} backlog (median)`, `${median(big).toFixed(0)} MB`, '');
    row('peak RSS large / small', results.peakRssRatioLargeToSmall.toFixed(2), '<= 1.20');
    row(`produce→S3 latency p50 at ${o.rate} rec/s`, `${(latency.p50Ms / 1000).toFixed(2)} s`, '');
    row(
      `produce→S3 latency p99 at ${o.rate} rec/s`,
      `${(latency.p99Ms / 1000).toFixed(2)} s`,
      `<= ${(o.rotateMs / 1000 + 5).toFixed(0)} s (rotate + 5 s)`,
    );
    console.log(`\n  full results: ${file}`);
  } finally {
    await ctx.close();
  }
}

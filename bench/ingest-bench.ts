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
import { openBenchContext, rssMb, writeBenchResult, numberOption } from './bench-context';

/**
 * The ingestion bench (issue 4): sink throughput against a plain kafkajs consumer reading the
 * same backlog in the same run, the worker's peak RSS at two backlog sizes, and produce-to-S3
 * latency at a steady rate. Figures are ratios to same-run baselines: these machines are shared.
 */

interface Options {
  records: number;
  small: number;
  rate: number;
  seconds: number;
  rotateMs: number;
  partitions: number;
  maxRecords: number;
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
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;

/**
 * A backlog as the ingest API leaves it (the sink validates every record in full, whoever
 * produced it).
 */
async function produceBacklog(adapters: Adapters, count: number, partitions: number) {
  const pipelineId = randomPipelineId();
  const topic = topicFor(pipelineId, 'pin');
  await adapters.kafka.ensureTopics([{ name: topic, partitions }]);
  let bytes = 0;
  for (let from = 0; from < count; from += 5_000) {
    const batch = [];
    for (let seq = from; seq < Math.min(count, from + 5_000); seq++) {
      const value = JSON.stringify(pinRecord(seq));
      bytes += Buffer.byteLength(value);
      batch.push({ value, partition: seq % partitions });
    }
    await adapters.kafka.produce(topic, batch);
  }
  return { pipelineId, topic, bucket: bucketFor(pipelineId), bytes };
}

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

/** The sink in a worker process of its own: time to drain, and its RSS while draining. */
async function sinkDrain(
  client: Client,
  backlog: { pipelineId: string; bytes: number },
  count: number,
  maxRecords: number,
  env: Record<string, string> = {},
) {
  const taskQueue = uniqueName('bench-sink');
  const worker = await startWorker(taskQueue, env);
  const pid = worker.child.pid!;
  const idleRss = rssMb(pid);
  let peakRss = idleRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(pid))), 100);
  const started = Date.now();
  const handle = await client.workflow.start(ingestTopic, {
    taskQueue,
    workflowId: `ingest-${backlog.pipelineId}-pin`,
    args: [{ pipelineId: backlog.pipelineId, table: 'pin', maxRecords, rotateIntervalMs: 1_000 }],
  });
  let progress;
  for (;;) {
    progress = await handle.query(progressQuery);
    if (progress.totals.recordsWritten >= count && progress.totals.lag === 0) break;
    await sleep(100);
  }
  // Done when the workflow recorded its last object (its ledger says when), not when this
  // loop's next query happened to ask: polling faster would load the worker it measures.
  const finished = Math.max(...progress.partitions.map((p) => Date.parse(p.lastFlushAt ?? '')));
  if (!Number.isFinite(finished)) throw new Error('the workflow reports no flush time');
  const seconds = (finished - started) / 1000;
  clearInterval(sampler);
  await handle.signal(stopSignal);
  await handle.result();
  worker.child.kill('SIGTERM');
  await worker.exited;
  return { seconds, records: count, bytes: backlog.bytes, idleRssMb: idleRss, peakRssMb: peakRss };
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
  const { config, adapters, client } = ctx;
  try {
    console.log(
      `ingest bench: backlog ${o.records} pins, second backlog ${o.small}, ${o.partitions} partitions`,
    );
    const big = await produceBacklog(adapters, o.records, o.partitions);
    console.log(`  produced ${o.records} records (${mb(big.bytes).toFixed(1)} MB)`);
    const plain = await plainConsumer(config, big.topic, o.records);
    console.log(`  plain kafkajs consumer: ${plain.seconds.toFixed(2)} s`);
    const sink = await sinkDrain(client, big, o.records, o.maxRecords);
    console.log(
      `  pinpipe sink:           ${sink.seconds.toFixed(2)} s, peak RSS ${sink.peakRssMb.toFixed(0)} MB`,
    );
    const small = await produceBacklog(adapters, o.small, o.partitions);
    const sinkSmall = await sinkDrain(client, small, o.small, o.maxRecords);
    console.log(
      `  pinpipe sink (${o.small}): ${sinkSmall.seconds.toFixed(2)} s, peak RSS ${sinkSmall.peakRssMb.toFixed(0)} MB`,
    );
    // The same backlog size over TLS + SCRAM: both the baseline and the sink, same listener.
    const secureEnv = secureKafkaEnv();
    const secureConfig = loadConfig({ ...stackEnv(), ...secureEnv });
    const secure = await produceBacklog(adapters, o.small, o.partitions);
    const securePlain = await plainConsumer(secureConfig, secure.topic, o.small);
    const secureSink = await sinkDrain(client, secure, o.small, o.maxRecords, secureEnv);
    console.log(
      `  over TLS + SCRAM (${o.small}): plain ${securePlain.seconds.toFixed(2)} s, sink ${secureSink.seconds.toFixed(2)} s`,
    );
    const latency = await latencyRun(client, adapters, o);

    const results = {
      when: new Date().toISOString(),
      options: o,
      plain: {
        ...plain,
        recordsPerSec: plain.records / plain.seconds,
        mbPerSec: mb(plain.bytes) / plain.seconds,
      },
      sink: {
        ...sink,
        recordsPerSec: sink.records / sink.seconds,
        mbPerSec: mb(sink.bytes) / sink.seconds,
      },
      sinkSmall: { ...sinkSmall, recordsPerSec: sinkSmall.records / sinkSmall.seconds },
      secure: { plain: securePlain, sink: secureSink },
      throughputRatio: plain.seconds / sink.seconds,
      secureThroughputRatio: securePlain.seconds / secureSink.seconds,
      peakRssRatioLargeToSmall: sink.peakRssMb / sinkSmall.peakRssMb,
      latency,
    };
    const file = writeBenchResult('ingest', results);

    const row = (name: string, value: string, target: string) =>
      console.log(`  ${name.padEnd(44)} ${value.padEnd(22)} ${target}`);
    console.log('\n  figure                                       value                  target');
    row(
      'plain kafkajs consumer',
      `${results.plain.recordsPerSec.toFixed(0)} rec/s, ${results.plain.mbPerSec.toFixed(1)} MB/s`,
      'baseline',
    );
    row(
      'pinpipe sink (Kafka → S3 raw zone)',
      `${results.sink.recordsPerSec.toFixed(0)} rec/s, ${results.sink.mbPerSec.toFixed(1)} MB/s`,
      '',
    );
    row('sink / plain throughput', results.throughputRatio.toFixed(2), '>= 0.70');
    row(
      'sink / plain over TLS + SCRAM-SHA-512',
      results.secureThroughputRatio.toFixed(2),
      `(${o.small} records each)`,
    );
    row(`worker peak RSS, ${o.small} backlog`, `${sinkSmall.peakRssMb.toFixed(0)} MB`, '');
    row(`worker peak RSS, ${o.records} backlog`, `${sink.peakRssMb.toFixed(0)} MB`, '');
    row('peak RSS large / small', results.peakRssRatioLargeToSmall.toFixed(2), '<= 1.20');
    row(`produce→S3 latency p50 at ${o.rate} rec/s`, `${(latency.p50Ms / 1000).toFixed(2)} s`, '');
    row(
      `produce→S3 latency p99 at ${o.rate} rec/s`,
      `${(latency.p99Ms / 1000).toFixed(2)} s`,
      `<= ${(o.rotateMs / 1000 + 5).toFixed(0)} s (rotate + 5 s)`,
    );
    console.log(`\n  full results: ${file}`);
    await adapters.kafka.deleteTopics([big.topic, small.topic, secure.topic]);
  } finally {
    await ctx.close();
  }
}

import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { createAdapters, type Adapters } from '../src/adapters/create-adapters';
import { topicFor } from '../src/domain/tables';
import type { OutgoingRecord } from '../src/ports/kafka';
import { pinRecord, randomPipelineId } from '../test/helpers/ingest-fixtures';
import { freePort, spawnEntry, waitForOutput, type Spawned } from '../test/helpers/processes';
import { repoRoot, stackConfig, stackEnv } from '../test/helpers/stack';
import { writeBenchResult, numberOption } from './bench-context';

/**
 * The ingest API bench (issue 3): records/s through the REST Proxy v2 compatible API, batched
 * and one record per request, against the project's own KafkaPort producer (idempotent,
 * acks=all: what the API uses) sending the same records in the same batch sizes with the same
 * number of sends in flight, in the same run. The figure that counts is the ratio.
 */

interface Options {
  /** Records in the direct and the batched API measurements (each). */
  records: number;
  /** Requests (one record each) in the single-record measurement. */
  single: number;
  /** Records per produce call and per batched request (Kafka's 1 MB batch limit: keep ~500). */
  batch: number;
  /** Produce calls / batched requests in flight. */
  concurrency: number;
  /** Single-record requests in flight. */
  singleConcurrency: number;
  partitions: number;
}

function parseOptions(args: string[]): Options {
  const get = (name: string, fallback: number) => numberOption(args, name, fallback, true);
  return {
    records: get('records', 200_000),
    single: get('single', 20_000),
    batch: get('batch', 500),
    concurrency: get('concurrency', 4),
    singleConcurrency: get('single-concurrency', 16),
    partitions: get('partitions', 3),
  };
}

/** Warm-up before each measurement: connections, metadata caches, JIT. Counted in the checks. */
const WARMUP_BATCHES = 10;
const WARMUP_SINGLE = 500;
/** The API's default body limit (DEFAULT_MAX_BODY_BYTES). */
const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = 'application/vnd.kafka.json.v2+json';

const mb = (bytes: number) => bytes / 1024 / 1024;

/** Runs task(0..count-1) with `concurrency` of them in flight; the first failure stops the rest. */
async function inPool(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  // Wait for every lane, so nothing is still in flight when the caller cleans up.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(concurrency, count) }, lane),
  );
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}

/** Times `count` tasks at `concurrency`; returns seconds. */
async function timed(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  await inPool(count, concurrency, task);
  return (performance.now() - started) / 1000;
}

/**
 * Sequence numbers [from, to) as produce records, and their value bytes: the same records the
 * API produces for them (the value as posted), so the ratio measures what the API adds (HTTP,
 * parsing, validation), not a different record.
 */
function outgoing(from: number, to: number): { records: OutgoingRecord[]; bytes: number } {
  const records: OutgoingRecord[] = [];
  let bytes = 0;
  for (let seq = from; seq < to; seq++) {
    const value = JSON.stringify(pinRecord(seq));
    bytes += Buffer.byteLength(value);
    records.push({ value });
  }
  return { records, bytes };
}

/** Sequence numbers [from, to) as one REST Proxy v2 produce body. */
function requestBody(from: number, to: number): Buffer {
  const records = [];
  for (let seq = from; seq < to; seq++) records.push({ value: pinRecord(seq) });
  return Buffer.from(JSON.stringify({ records }));
}

function batchesOf(count: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let from = 0; from < count; from += size) out.push([from, Math.min(count, from + size)]);
  return out;
}

/** Fails loudly unless the topic holds exactly `expected` records (a fresh topic: low is 0). */
async function assertInTopic(adapters: Adapters, topic: string, expected: number): Promise<void> {
  const marks = await adapters.kafka.watermarks(topic);
  const held = marks.reduce((sum, m) => sum + (m.high - m.low), 0);
  if (held !== expected) {
    throw new Error(
      `${topic} holds ${held} records, but ${expected} were acknowledged ` +
        `(watermarks ${JSON.stringify(marks)})`,
    );
  }
}

interface ProduceAnswer {
  offsets?: { partition: number | null; offset: number | null; error_code: number | null }[];
}

/** POSTs one produce request over a keep-alive agent; throws unless every record was produced. */
function postRecords(
  agent: http.Agent,
  port: number,
  topic: string,
  body: Buffer,
  count: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/topics/${topic}`,
        headers: { 'content-type': CONTENT_TYPE, 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) {
            reject(new Error(`API answered ${res.statusCode}: ${text.slice(0, 500)}`));
            return;
          }
          const answer = JSON.parse(text) as ProduceAnswer;
          const offsets = answer.offsets ?? [];
          const bad = offsets.find((o) => o.error_code !== null || o.offset === null);
          if (offsets.length !== count || bad) {
            reject(
              new Error(
                `API answered 200 with ${offsets.length} offsets for ${count} records` +
                  (bad ? `, one failed: ${JSON.stringify(bad)}` : ''),
              ),
            );
            return;
          }
          resolve();
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The baseline: the KafkaPort producer, same batches, same number of sends in flight. */
async function directProducer(adapters: Adapters, topic: string, o: Options) {
  const batches = batchesOf(o.records, o.batch).map(([from, to]) => outgoing(from, to));
  const warm = batches.slice(0, WARMUP_BATCHES);
  await inPool(warm.length, o.concurrency, async (i) => {
    await adapters.kafka.produce(topic, warm[i]!.records);
  });
  const seconds = await timed(batches.length, o.concurrency, async (i) => {
    const produced = await adapters.kafka.produce(topic, batches[i]!.records);
    if (produced.length !== batches[i]!.records.length) {
      throw new Error(
        `produce returned ${produced.length} offsets for ${batches[i]!.records.length}`,
      );
    }
  });
  const warmRecords = warm.reduce((n, b) => n + b.records.length, 0);
  await assertInTopic(adapters, topic, warmRecords + o.records);
  const bytes = batches.reduce((n, b) => n + b.bytes, 0);
  return { records: o.records, seconds, bytes, produceCalls: batches.length };
}

/** The API, `batch` records per request, `concurrency` requests in flight. */
async function apiBatched(adapters: Adapters, port: number, topic: string, o: Options) {
  const ranges = batchesOf(o.records, o.batch);
  const bodies = ranges.map(([from, to]) => requestBody(from, to));
  const largest = Math.max(...bodies.map((b) => b.length));
  if (largest > MAX_BODY_BYTES) {
    throw new Error(`a ${o.batch}-record body is ${largest} bytes, over the API's 1 MiB limit`);
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  try {
    const post = (i: number) =>
      postRecords(agent, port, topic, bodies[i]!, ranges[i]![1] - ranges[i]![0]);
    const warm = Math.min(WARMUP_BATCHES, ranges.length);
    await inPool(warm, o.concurrency, post);
    const seconds = await timed(ranges.length, o.concurrency, post);
    const warmRecords = ranges.slice(0, warm).reduce((n, [from, to]) => n + to - from, 0);
    await assertInTopic(adapters, topic, warmRecords + o.records);
    const bodyBytes = bodies.reduce((n, b) => n + b.length, 0);
    return { records: o.records, seconds, requests: ranges.length, bodyBytes };
  } finally {
    agent.destroy();
  }
}

/** The API, one record per request (the seed's posting script), `singleConcurrency` in flight. */
async function apiSingle(adapters: Adapters, port: number, topic: string, o: Options) {
  const warm = Math.min(WARMUP_SINGLE, o.single);
  const bodies = Array.from({ length: o.single }, (_, seq) => requestBody(seq, seq + 1));
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.singleConcurrency });
  try {
    await inPool(warm, o.singleConcurrency, (i) => postRecords(agent, port, topic, bodies[i]!, 1));
    const latencies: number[] = [];
    const seconds = await timed(o.single, o.singleConcurrency, async (i) => {
      const sent = performance.now();
      await postRecords(agent, port, topic, bodies[i]!, 1);
      latencies.push(performance.now() - sent);
    });
    await assertInTopic(adapters, topic, warm + o.single);
    latencies.sort((a, b) => a - b);
    const pct = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    return { requests: o.single, seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) };
  } finally {
    agent.destroy();
  }
}

/** SIGTERM (the API drains and exits), SIGKILL if it has not exited 15 s later. */
async function stopProcess(p: Spawned): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

export async function runApiBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  execFileSync('bash', [path.join(repoRoot, 'scripts/stack.sh'), 'up'], { stdio: 'ignore' });
  const adapters = createAdapters(stackConfig());
  const topics = {
    direct: topicFor(randomPipelineId(), 'pin'),
    batched: topicFor(randomPipelineId(), 'pin'),
    single: topicFor(randomPipelineId(), 'pin'),
  };
  let api: Spawned | undefined;
  try {
    await adapters.kafka.ensureTopics(
      Object.values(topics).map((name) => ({ name, partitions: o.partitions })),
    );
    const port = await freePort();
    api = spawnEntry('src/api/main.ts', {
      ...stackEnv(),
      PINPIPE_API_PORT: String(port),
      // Served: the API answers 404 for any other pipeline's topics.
      PINPIPE_PIPELINE_IDS: Object.values(topics)
        .map((t) => t.split('.')[0])
        .join(','),
    });
    await waitForOutput(api, /listening on/);
    console.log(
      `api bench: ${o.records} pins direct and batched (${o.batch} per call, ${o.concurrency} in ` +
        `flight), ${o.single} single-record requests (${o.singleConcurrency} in flight), ` +
        `${o.partitions} partitions`,
    );

    const direct = await directProducer(adapters, topics.direct, o);
    console.log(`  direct KafkaPort producer: ${direct.seconds.toFixed(2)} s`);
    const batched = await apiBatched(adapters, port, topics.batched, o);
    console.log(`  API, ${o.batch} per request:   ${batched.seconds.toFixed(2)} s`);
    const single = await apiSingle(adapters, port, topics.single, o);
    console.log(`  API, 1 per request:       ${single.seconds.toFixed(2)} s`);
    const apiExit = await stopProcess(api);
    if (apiExit !== 0) throw new Error(`the API exited with ${apiExit}:\n${api.output()}`);

    const results = {
      when: new Date().toISOString(),
      options: o,
      warmup: { batches: WARMUP_BATCHES, singleRequests: WARMUP_SINGLE },
      direct: {
        ...direct,
        recordsPerSec: direct.records / direct.seconds,
        mbPerSec: mb(direct.bytes) / direct.seconds,
      },
      apiBatched: {
        ...batched,
        recordsPerSec: batched.records / batched.seconds,
        requestsPerSec: batched.requests / batched.seconds,
        bodyMbPerSec: mb(batched.bodyBytes) / batched.seconds,
      },
      apiSingle: { ...single, requestsPerSec: single.requests / single.seconds },
      batchedToDirectRatio: direct.seconds / batched.seconds,
      singleToDirectRatio: single.requests / single.seconds / (direct.records / direct.seconds),
    };
    const file = writeBenchResult('api', results);

    const row = (name: string, value: string, target: string) =>
      console.log(`  ${name.padEnd(44)} ${value.padEnd(26)} ${target}`);
    console.log(
      '\n  figure                                       value                      target',
    );
    row(
      `direct producer (${o.batch}/call, ${o.concurrency} in flight)`,
      `${results.direct.recordsPerSec.toFixed(0)} rec/s, ${results.direct.mbPerSec.toFixed(1)} MB/s`,
      'baseline',
    );
    row(
      `API batched (${o.batch}/request, ${o.concurrency} in flight)`,
      `${results.apiBatched.recordsPerSec.toFixed(0)} rec/s, ${results.apiBatched.requestsPerSec.toFixed(0)} req/s`,
      '',
    );
    row('API batched / direct throughput', results.batchedToDirectRatio.toFixed(2), '>= 0.50');
    row(
      `API single record (${o.singleConcurrency} in flight)`,
      `${results.apiSingle.requestsPerSec.toFixed(0)} req/s`,
      'report',
    );
    row(
      'API single record latency p50 / p99',
      `${single.p50Ms.toFixed(1)} / ${single.p99Ms.toFixed(1)} ms`,
      '',
    );
    row('API single record / direct (rec/s)', results.singleToDirectRatio.toFixed(3), '');
    console.log(`\n  full results: ${file}`);
  } finally {
    if (api) await stopProcess(api);
    await adapters.kafka.deleteTopics(Object.values(topics)).catch((err: unknown) => {
      console.error(`api bench: could not delete the bench topics: ${String(err)}`);
    });
    await adapters.close();
  }
}

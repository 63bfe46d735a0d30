import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { KafkajsKafka } from '../../src/adapters/kafkajs-kafka';
import {
  createIngestServer,
  type IngestServer,
  type IngestServerOptions,
} from '../../src/api/server';
import { topicFor } from '../../src/domain/tables';
import type { KafkaPort } from '../../src/ports/kafka';
import { stackConfig } from '../helpers/stack';

export const PROXY_JSON = 'application/vnd.kafka.json.v2+json';

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

/** A random pipeline id, so parallel and repeated runs never share topics. */
export function randomPipelineId(): string {
  return randomBytes(6).toString('hex');
}

export interface ApiHarness {
  url: string;
  kafka: KafkajsKafka;
  pipelineId: string;
  topics: { pin: string; geo: string; user: string };
  api: IngestServer;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply>;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

export async function request(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/**
 * The API in-process on a free port against the real local Kafka, with the three topics of a
 * fresh pipeline (3 partitions each). `kafka` serves both the server and the test's reads
 * unless the options bring another port.
 */
export async function startApiHarness(
  options: Partial<IngestServerOptions> & {
    partitions?: number;
    /** Pipelines the API serves besides the harness's own (their topics are not created). */
    alsoServe?: string[];
  } = {},
): Promise<ApiHarness> {
  const kafka = KafkajsKafka.fromOptions(stackConfig().kafka);
  const pipelineId = randomPipelineId();
  const topics = {
    pin: topicFor(pipelineId, 'pin'),
    geo: topicFor(pipelineId, 'geo'),
    user: topicFor(pipelineId, 'user'),
  };
  await kafka.ensureTopics(
    Object.values(topics).map((name) => ({ name, partitions: options.partitions ?? 3 })),
  );
  // Like the `api` process: this API serves its own pipeline (tests may widen it).
  const { alsoServe = [], ...rest } = options;
  const serverOptions: Partial<IngestServerOptions> & { partitions?: number } = { ...rest };
  delete serverOptions.partitions;
  const api = createIngestServer({
    kafka,
    pipelines: [pipelineId, ...alsoServe],
    ...serverOptions,
  });
  const address = await api.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    kafka,
    pipelineId,
    topics,
    api,
    post: (path, body, headers = {}) =>
      request(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': PROXY_JSON, ...headers },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
      }),
    get: (path, headers = {}) => request(`${url}${path}`, { headers }),
    async close() {
      await api.close();
      await kafka.deleteTopics(Object.values(topics));
      await kafka.disconnect();
    },
  };
}

export interface OffsetEntry {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
}

/** The `offsets` of a 200 produce reply (asserting its REST Proxy shape on the way). */
export function offsetsOf(reply: Reply): OffsetEntry[] {
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.text}`);
  const body = reply.body as { offsets: OffsetEntry[]; key_schema_id: null; value_schema_id: null };
  if (
    body.key_schema_id !== null ||
    body.value_schema_id !== null ||
    !Array.isArray(body.offsets)
  ) {
    throw new Error(`not a REST Proxy produce response: ${reply.text}`);
  }
  return body.offsets;
}

export interface StoredRecord {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Reads back what Kafka holds at each (partition, offset): one read per partition over the
 * range the entries span.
 */
export async function readBack(
  kafka: KafkaPort,
  topic: string,
  entries: { partition: number; offset: number }[],
): Promise<Map<string, StoredRecord>> {
  const found = new Map<string, StoredRecord>();
  const byPartition = new Map<number, number[]>();
  for (const e of entries)
    byPartition.set(e.partition, [...(byPartition.get(e.partition) ?? []), e.offset]);
  for (const [partition, offsets] of byPartition) {
    const from = Math.min(...offsets);
    const to = Math.max(...offsets);
    const read = await kafka.readPartition({
      topic,
      partition,
      fromOffset: from,
      maxRecords: to - from + 1,
      maxWaitMs: 15_000,
    });
    for (const r of read.records) {
      found.set(`${partition}:${r.offset}`, {
        key: r.key,
        value: r.value ? Buffer.from(r.value).toString('utf8') : null,
        headers: r.headers ?? {},
      });
    }
  }
  return found;
}

/** Total records in a topic (sum of high watermarks; the test topics start empty). */
export async function recordCount(kafka: KafkaPort, topic: string): Promise<number> {
  return (await kafka.watermarks(topic)).reduce((sum, m) => sum + m.high - m.low, 0);
}

/**
 * A request through node:http, for what fetch cannot do: a chunked body written piece by
 * piece (no Content-Length), optionally pausing before the last piece.
 */
export function streamRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    chunks: (string | Buffer)[];
    /** Called (and awaited) before the last chunk is written. */
    beforeLast?: () => Promise<void>;
  },
): Promise<{ status: number; body: unknown; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'POST',
        headers: { 'content-type': PROXY_JSON, ...options.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // keep the text
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    const chunks = [...options.chunks];
    const last = chunks.pop();
    void (async () => {
      for (const chunk of chunks) {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      }
      await options.beforeLast?.();
      req.end(last);
    })().catch(reject);
  });
}

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertPipelineId } from '../domain/tables';
import { apiProduceTimeoutMs } from '../adapters/kafka-produce-timing';
import type { KafkaAdmin, KafkaProducer } from '../ports/kafka';
import { createBearerCheck } from './auth';
import type { ApiContext } from './context';
import { ApiError, ErrorCode, sendError } from './errors';
import { DEFAULT_MAX_BODY_BYTES } from './request-body';
import { matchRoute } from './router';
import { TopicRegistry } from './topic-registry';

export interface IngestServerOptions {
  kafka: KafkaAdmin & KafkaProducer;
  /**
   * The pipeline ids this API serves (PINPIPE_PIPELINE_IDS): a topic that is not
   * `<id>.pin|geo|user` of one of them answers 404 40401, whatever Kafka holds. The `api`
   * process always passes them; unset (embedded servers in tests) serves every pipeline.
   */
  pipelines?: readonly string[];
  /** When set, every route but /healthz requires `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest accepted request body (default 1 MiB, about Kafka's default message limit). */
  maxBodyBytes?: number;
  /** Upper bound on each Kafka metadata call of a request (default 15 s); past it, a 503. */
  kafkaTimeoutMs?: number;
  /**
   * Upper bound on a produce (default apiProduceTimeoutMs(), longer than the producer's queue
   * wait and retries together: src/adapters/kafka-produce-timing.ts). Past it the records may or may not
   * be in Kafka, and the answer says so: 504 50401.
   */
  produceTimeoutMs?: number;
  /** Upper bound on the health check's Kafka call (default 3 s). */
  healthTimeoutMs?: number;
  /** How long a topic's existence is cached (default 5 s). */
  topicCacheMs?: number;
  /** Most topics the cache remembers (default 1,024; least recently used dropped first). */
  topicCacheEntries?: number;
  /** How long close() lets in-flight requests finish before cutting connections (default 10 s). */
  shutdownGraceMs?: number;
  log?: (line: string) => void;
}

export interface IngestServer {
  server: http.Server;
  /** The topic cache (its size is bounded: topicCacheEntries). */
  topics: TopicRegistry;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish, then resolves. Kafka stays the caller's. */
  close(): Promise<void>;
}

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** The REST Proxy v2 compatible ingest API over Kafka (which the caller owns). */
export function createIngestServer(options: IngestServerOptions): IngestServer {
  const log = options.log ?? (() => undefined);
  const topics = new TopicRegistry(options.kafka, {
    ttlMs: options.topicCacheMs ?? 5_000,
    ...(options.topicCacheEntries === undefined ? {} : { maxEntries: options.topicCacheEntries }),
  });
  const ctx: ApiContext = {
    kafka: options.kafka,
    topics,
    pipelines: options.pipelines && new Set(options.pipelines.map((id) => assertPipelineId(id))),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    kafkaTimeoutMs: options.kafkaTimeoutMs ?? 15_000,
    produceTimeoutMs: options.produceTimeoutMs ?? apiProduceTimeoutMs(),
    healthTimeoutMs: options.healthTimeoutMs ?? 3_000,
    log,
  };
  const checkToken = options.token ? createBearerCheck(options.token) : undefined;
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = pathOf(req.url);
    const route = pathname === undefined ? undefined : matchRoute(pathname);
    if (!route?.public) checkToken?.(req.headers);
    if (!route || pathname === undefined) {
      throw new ApiError(404, ErrorCode.notFound, `Not found: ${req.url ?? ''}`);
    }
    const method = req.method ?? 'GET';
    const handler = route.methods[method];
    if (!handler) {
      const allow = Object.keys(route.methods).join(', ');
      const message = `Method ${method} not allowed on ${pathname}`;
      throw new ApiError(405, ErrorCode.methodNotAllowed, message, { allow });
    }
    await handler(ctx, req, res);
  }

  const server = http.createServer((req, res) => {
    inFlight += 1;
    // During shutdown, answer but do not keep the connection for another request.
    if (closing) res.setHeader('connection', 'close');
    res.on('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
    handle(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err);
      log(
        `internal error on ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}`,
      );
      sendError(res, new ApiError(500, ErrorCode.internal, 'Internal server error'));
    });
  });
  // Bound slow or never-ending uploads; the body limit bounds memory, this bounds time.
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;

  return {
    server,
    topics,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    async close() {
      if (!server.listening) return;
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const grace = new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.shutdownGraceMs ?? 10_000);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        await grace;
      }
      // Keep-alive connections that served the last in-flight requests are idle now.
      server.closeAllConnections();
      await stopped;
    },
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './context';
import { handleHealth } from './health-handler';
import { handleProduce } from './produce-handler';
import { handleGetPartitions, handleGetTopic, handleListTopics } from './topic-handlers';

export type Handler = (ctx: ApiContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

export interface Route {
  /** Handlers by HTTP method; any other method on this path is a 405. */
  methods: Partial<Record<string, Handler>>;
  /** Routes that stay open when a token is configured (health probes carry no credentials). */
  public?: boolean;
}

function segmentsOf(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)))
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined; // malformed percent-encoding: no such resource
  }
}

/** The REST Proxy v2 paths pinpipe serves; undefined for any other path. */
export function matchRoute(pathname: string): Route | undefined {
  const s = segmentsOf(pathname);
  if (!s) return undefined;
  const [first, topic, third, partition, ...rest] = s;
  if (rest.length > 0) return undefined;
  if (s.length === 1 && first === 'healthz') {
    return { public: true, methods: { GET: (ctx, _req, res) => handleHealth(ctx, res) } };
  }
  if (first !== 'topics') return undefined;
  if (topic === undefined) {
    return { methods: { GET: (ctx, _req, res) => handleListTopics(ctx, res) } };
  }
  if (third === undefined) {
    return {
      methods: {
        GET: (ctx, _req, res) => handleGetTopic(ctx, res, topic),
        POST: (ctx, req, res) => handleProduce(ctx, req, res, topic),
      },
    };
  }
  if (third !== 'partitions') return undefined;
  if (partition === undefined) {
    return { methods: { GET: (ctx, _req, res) => handleGetPartitions(ctx, res, topic) } };
  }
  if (!/^\d{1,9}$/.test(partition)) return undefined;
  return {
    methods: { POST: (ctx, req, res) => handleProduce(ctx, req, res, topic, Number(partition)) },
  };
}

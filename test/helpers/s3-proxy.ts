import { createHash, createHmac } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stackConfig } from './stack';

/**
 * A tiny HTTP proxy in front of the stack's real S3 server (versitygw), for tests of what the
 * sink does when S3 misbehaves. Path-style requests only (what pinpipe's client sends). It can:
 *  - strip `If-None-Match` from every request, re-signing it (SigV4 covers the header, so a
 *    request merely stripped would be refused): an S3 server that ignores conditional writes;
 *  - answer chosen requests itself with a scripted S3 error (409 ConditionalRequestConflict,
 *    412 PreconditionFailed, 501 NotImplemented…), and optionally forward the refused request
 *    a little later, as the other writer whose write was in flight would land;
 *  - hold chosen requests before forwarding them: an upload that takes that long.
 * Everything else is forwarded unchanged (the client's signature stays valid: same Host).
 */

export interface ProxiedRequest {
  method: string;
  bucket?: string;
  /** The object key, decoded; undefined for bucket-level requests. */
  key?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type ScriptedAnswer =
  | {
      /** Answer this S3 error instead of forwarding. */
      error: { status: number; code: string; message?: string };
      /** Then forward the request itself after this long (another writer's write landing). */
      forwardAfterMs?: number;
    }
  | {
      /** Forward, but only after this long. */
      delayMs: number;
    };

export interface S3ProxyOptions {
  /** The real server; the stack's AWS_ENDPOINT_URL_S3 by default. */
  target?: string;
  /** Remove If-None-Match from every request (and re-sign it with the stack's credentials). */
  stripIfNoneMatch?: boolean;
  /** Consulted for every request; undefined forwards it as usual. */
  answer?: (request: ProxiedRequest) => ScriptedAnswer | undefined;
}

export interface ProxyLogEntry {
  method: string;
  bucket?: string;
  key?: string;
  /** Whether the request carried If-None-Match when it reached the proxy. */
  ifNoneMatch: boolean;
  /** The status the client got. */
  status: number;
  /** Answered by the script rather than by the server. */
  scripted: boolean;
  /** When the request reached the proxy and when its answer was complete (epoch ms). */
  at: number;
  doneAt: number;
}

export interface S3Proxy {
  /** Use as AWS_ENDPOINT_URL_S3 / s3Endpoint. */
  url: string;
  log: ProxyLogEntry[];
  /** Stops listening, drops idle connections, waits for scripted late forwards. */
  close(): Promise<void>;
}

/** A script that answers `answer` to the first request `match` accepts, and forwards the rest. */
export function answerOnce(
  match: (request: ProxiedRequest) => boolean,
  answer: ScriptedAnswer,
): (request: ProxiedRequest) => ScriptedAnswer | undefined {
  let used = false;
  return (request) => {
    if (used || !match(request)) return undefined;
    used = true;
    return answer;
  };
}

/** A conditional PUT of an object whose key matches. */
export const conditionalPut = (pattern: RegExp) => (r: ProxiedRequest) =>
  r.method === 'PUT' && r.key !== undefined && pattern.test(r.key) && 'if-none-match' in r.headers;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'expect', 'transfer-encoding']);

export async function startS3Proxy(options: S3ProxyOptions = {}): Promise<S3Proxy> {
  const config = stackConfig();
  const target = new URL(options.target ?? config.aws.s3Endpoint ?? 'http://127.0.0.1:7070');
  const secret = config.aws.credentials?.secretAccessKey;
  if (options.stripIfNoneMatch && !secret) {
    throw new Error('stripping If-None-Match re-signs requests: the stack credentials are needed');
  }
  const log: ProxyLogEntry[] = [];
  const late = new Set<Promise<void>>();

  const forward = (
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      out['content-length'] = String(body.length);
      const req = http.request(
        { host: target.hostname, port: target.port, method, path: url, headers: out },
        resolve,
      );
      req.on('error', reject);
      req.end(body);
    });

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const method = req.method ?? 'GET';
        const url = req.url ?? '/';
        const { bucket, key } = parsePath(url);
        let headers: IncomingHttpHeaders = { ...req.headers };
        const ifNoneMatch = 'if-none-match' in headers;
        const entry = (status: number, scripted: boolean) =>
          log.push({
            method,
            ...(bucket !== undefined ? { bucket } : {}),
            ...(key !== undefined ? { key } : {}),
            ifNoneMatch,
            status,
            scripted,
            at,
            doneAt: Date.now(),
          });
        const request: ProxiedRequest = {
          method,
          ...(bucket !== undefined ? { bucket } : {}),
          ...(key !== undefined ? { key } : {}),
          headers,
          body,
        };
        const scripted = options.answer?.(request);
        if (scripted && 'error' in scripted) {
          const { status, code, message } = scripted.error;
          const xml =
            method === 'HEAD'
              ? ''
              : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
                `<Message>${message ?? code}</Message><Key>${key ?? ''}</Key>` +
                '<RequestId>pinpipe-test-proxy</RequestId></Error>';
          res.writeHead(status, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(xml),
            'x-amz-request-id': 'pinpipe-test-proxy',
          });
          res.end(xml);
          entry(status, true);
          if (scripted.forwardAfterMs !== undefined) {
            const landing = new Promise<void>((r) => setTimeout(r, scripted.forwardAfterMs))
              .then(() => forward(method, url, headers, body))
              .then((up) => {
                up.resume();
                return new Promise<void>((r) => up.on('end', r));
              })
              .catch(() => undefined)
              .finally(() => late.delete(landing));
            late.add(landing);
          }
          return;
        }
        if (scripted && 'delayMs' in scripted) {
          await new Promise((r) => setTimeout(r, scripted.delayMs));
        }
        if (options.stripIfNoneMatch && ifNoneMatch) {
          headers = resignWithout(method, url, headers, 'if-none-match', secret!);
        }
        try {
          const up = await forward(method, url, headers, body);
          const back: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(up.headers)) {
            if (value !== undefined && name !== 'connection' && name !== 'keep-alive') {
              back[name] = value;
            }
          }
          res.writeHead(up.statusCode ?? 502, back);
          up.pipe(res);
          up.on('end', () => entry(up.statusCode ?? 502, false));
        } catch (err) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${String(err)}`);
          entry(502, false);
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async close() {
      await Promise.all([...late]);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function parsePath(url: string): { bucket?: string; key?: string } {
  const path = url.split('?')[0] ?? '/';
  const slash = path.indexOf('/', 1);
  if (path === '/') return {};
  if (slash < 0) return { bucket: decodeURIComponent(path.slice(1)) };
  const key = path.slice(slash + 1);
  return {
    bucket: decodeURIComponent(path.slice(1, slash)),
    ...(key ? { key: decodeURIComponent(key) } : {}),
  };
}

/** RFC 3986 encoding, as SigV4's canonical query wants it. */
const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

const hmac = (key: Buffer | string, data: string) =>
  createHmac('sha256', key).update(data).digest();

/**
 * The request's AWS Signature V4, recomputed without one header: same credential scope, date
 * and payload hash (S3 sends it in x-amz-content-sha256), the header dropped from the signed
 * list. Path-style S3 signs the path as sent (no second encoding).
 */
function resignWithout(
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
  drop: string,
  secret: string,
): IncomingHttpHeaders {
  const auth = headers.authorization ?? '';
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]+$/.exec(
      auth,
    );
  if (!m) throw new Error(`cannot re-sign a request with authorization ${auth}`);
  const [, accessKey, day, region, service, signedList] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const out: IncomingHttpHeaders = { ...headers };
  delete out[drop];
  const signed = signedList.split(';').filter((h) => h !== drop);
  const value = (name: string) => {
    const v = out[name];
    return (Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ');
  };
  const [path = '/', query = ''] = url.split('?', 2);
  const canonicalQuery = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const [k = '', v = ''] = p.split('=', 2);
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return [rfc3986(decode(k)), rfc3986(decode(v))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [
    method,
    path,
    canonicalQuery,
    ...signed.map((h) => `${h}:${value(h)}`),
    '',
    signed.join(';'),
    value('x-amz-content-sha256') || 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const amzDate = value('x-amz-date');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  out.authorization =
    `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, ` +
    `SignedHeaders=${signed.join(';')}, Signature=${signature}`;
  return out;
}

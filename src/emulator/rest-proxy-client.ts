import { z } from 'zod';

/**
 * One REST Proxy v2 produce request and what its answer means for each record. Works against
 * pinpipe's API and Confluent's proxy alike: per-record error_code 2 is retriable, any other
 * per-record code is a permanent rejection.
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export type RecordOutcome =
  | { status: 'acked'; partition: number; offset: number }
  | { status: 'rejected'; reason: string }
  | { status: 'retriable'; reason: string };

export type PostOutcome =
  /** 200: one outcome per posted record, in order. */
  | { kind: 'records'; records: RecordOutcome[] }
  /** Nothing was acknowledged, and trying again may work (5xx, 408, 429, network, timeout). */
  | { kind: 'retriable'; reason: string; retryAfterMs?: number }
  /** Nothing was acknowledged, and the same request will fail again. */
  | {
      kind: 'failed';
      reason: string;
      /** Every request of the run will fail the same way. */ fatal: boolean;
    };

export interface PostRequest {
  url: string;
  topic: string;
  values: readonly unknown[];
  token?: string;
  timeoutMs: number;
}

const offsetsSchema = z.object({
  offsets: z.array(
    z.object({
      partition: z.number().nullable(),
      offset: z.number().nullable(),
      error_code: z.number().nullable(),
      error: z.string().nullable().optional(),
    }),
  ),
});

/** Statuses that say the whole run is misconfigured (token, topics, URL), not this request. */
const FATAL_STATUSES = new Set([401, 403, 404, 405, 415]);
const RETRIABLE_STATUSES = new Set([408, 425, 429]);

function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: show the text itself
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function retryAfterMs(header: string | null): number | undefined {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

export async function postRecords(fetchFn: FetchLike, req: PostRequest): Promise<PostOutcome> {
  let res: Response;
  let text: string;
  try {
    res = await fetchFn(`${req.url.replace(/\/+$/, '')}/topics/${encodeURIComponent(req.topic)}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/vnd.kafka.json.v2+json',
        accept: 'application/vnd.kafka.v2+json, application/json',
        ...(req.token ? { authorization: `Bearer ${req.token}` } : {}),
      },
      body: JSON.stringify({ records: req.values.map((value) => ({ value })) }),
      signal: AbortSignal.timeout(req.timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    const message = err instanceof Error ? err.message : String(err);
    // No answer in time: the API may have produced the records, and a retry may duplicate them.
    if (err instanceof Error && err.name === 'TimeoutError') {
      return {
        kind: 'failed',
        reason: `outcome unknown: no answer within ${req.timeoutMs} ms (${message})`,
        fatal: false,
      };
    }
    return { kind: 'retriable', reason: cause ? `${message}: ${cause}` : message };
  }
  const reason = `HTTP ${res.status}: ${messageOf(text)}`;
  // pinpipe's API answers 504 when the produce's outcome is unknown: not retried, for the same
  // reason (the records may be in Kafka already). Counted as failed, with the reason.
  if (res.status === 504)
    return { kind: 'failed', reason: `outcome unknown: ${reason}`, fatal: false };
  if (res.status >= 500 || RETRIABLE_STATUSES.has(res.status)) {
    const after = retryAfterMs(res.headers.get('retry-after'));
    return { kind: 'retriable', reason, ...(after === undefined ? {} : { retryAfterMs: after }) };
  }
  if (res.status !== 200) return { kind: 'failed', reason, fatal: FATAL_STATUSES.has(res.status) };

  let parsed: z.infer<typeof offsetsSchema>;
  try {
    parsed = offsetsSchema.parse(JSON.parse(text));
  } catch {
    return {
      kind: 'failed',
      reason: `not a REST Proxy produce response: ${messageOf(text)}`,
      fatal: true,
    };
  }
  if (parsed.offsets.length !== req.values.length) {
    return {
      kind: 'failed',
      reason: `the response has ${parsed.offsets.length} offsets for ${req.values.length} records`,
      fatal: false,
    };
  }
  return {
    kind: 'records',
    records: parsed.offsets.map((o): RecordOutcome => {
      if (o.error_code === null && o.partition !== null && o.offset !== null) {
        return { status: 'acked', partition: o.partition, offset: o.offset };
      }
      const why = `error_code ${o.error_code ?? 'null'}: ${o.error ?? 'no offset returned'}`;
      return o.error_code === 2
        ? { status: 'retriable', reason: why }
        : { status: 'rejected', reason: why };
    }),
  };
}

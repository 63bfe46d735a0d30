import type { ServerResponse } from 'node:http';

/**
 * Errors in the Kafka REST Proxy v2 shape, `{"error_code": ..., "message": ...}`. Clients written
 * for the proxy branch on these codes, so they follow the proxy's scheme: the HTTP status, or the
 * status followed by a two-digit sub-code (40401 = topic not found).
 */
export const ErrorCode = {
  unauthorized: 40101,
  notFound: 404,
  topicNotFound: 40401,
  partitionNotFound: 40402,
  methodNotAllowed: 405,
  bodyTooLarge: 413,
  unsupportedMediaType: 415,
  unprocessable: 422,
  internal: 500,
  /** Kafka failed before any record of the request was sent: nothing produced, retry is safe. */
  kafkaUnavailable: 50301,
  /** The records were handed to Kafka and what became of them is not known. */
  produceOutcomeUnknown: 50401,
} as const;

/** Per-record codes in `offsets` entries, as the proxy uses them. */
export const RecordErrorCode = {
  /** Not produced and never will be as sent: retrying the same record cannot help. */
  nonRetriable: 1,
  /** Not produced because of a transient Kafka problem: the client should retry it. */
  retriable: 2,
} as const;

/** The REST proxy answers, errors included, with its own media type. */
export const PROXY_CONTENT_TYPE = 'application/vnd.kafka.v2+json';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** `hint` follows the proxy's message, for topics this API does not serve. */
export function topicNotFound(topic: string, hint?: string): ApiError {
  return new ApiError(
    404,
    ErrorCode.topicNotFound,
    `Topic ${topic} not found${hint ? `: ${hint}` : ''}`,
  );
}

export function kafkaUnavailable(detail: string): ApiError {
  return new ApiError(
    503,
    ErrorCode.kafkaUnavailable,
    `Kafka is unavailable, retry later: ${detail}`,
    { 'retry-after': '1' },
  );
}

/** The first words of every 504 50401 message; clients and tests match on them. */
export const OUTCOME_UNKNOWN_MESSAGE =
  'the outcome of this produce is unknown: the records may or may not be in Kafka; retrying may duplicate them';

/**
 * A produce whose records reached the producer and whose outcome is not known (the API's deadline
 * passed first, or the send failed after records may have been written). 504 like a gateway
 * whose upstream did not answer in time; no Retry-After: whether to retry is the client's call.
 */
export function produceOutcomeUnknown(detail: string): ApiError {
  return new ApiError(
    504,
    ErrorCode.produceOutcomeUnknown,
    `${OUTCOME_UNKNOWN_MESSAGE} (${detail})`,
  );
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = PROXY_CONTENT_TYPE,
): void {
  // A handler may fail after it answered (or the client left): never answer twice.
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(
    res,
    error.status,
    { error_code: error.errorCode, message: error.message },
    error.headers,
  );
}

import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { ApiError, ErrorCode } from './errors';
import { MAX_LOSSLESS_DEPTH, parseKeepingInexactNumbers, scanNumbers } from './json-numbers';

/** The embedded-JSON produce format of REST Proxy v2, and plain JSON for simple clients. */
const JSON_MEDIA_TYPES = ['application/vnd.kafka.json.v2+json', 'application/json'];

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Throws 415 unless the request carries a JSON body we can decode (UTF-8 only). */
export function assertJsonContentType(header: string | undefined): void {
  const [mediaType = '', ...params] = (header ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length);
  const utf8 = charset === undefined || ['utf-8', 'utf8', '"utf-8"'].includes(charset);
  if (!JSON_MEDIA_TYPES.includes(mediaType) || !utf8) {
    throw new ApiError(
      415,
      ErrorCode.unsupportedMediaType,
      `Unsupported content type ${JSON.stringify(header ?? '')}: expected ${JSON_MEDIA_TYPES.join(' or ')} (UTF-8)`,
    );
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    413,
    ErrorCode.bodyTooLarge,
    `Request body larger than ${maxBytes} bytes: send fewer records per request`,
  );
}

/**
 * Reads the body, failing with 413 as soon as it passes `maxBytes` (declared or streamed), so
 * memory stays bounded. The rest of an oversized body is read and discarded, which lets the
 * client receive the 413 instead of a reset connection; a client that keeps pushing far past
 * the limit is cut off.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (failed) {
        if (size > maxBytes * 8) req.destroy();
        return;
      }
      if (size > maxBytes) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new ApiError(400, 400, 'Request body was cut off'));
    });
  });
}

/**
 * UTF-8 → JSON, or 422 with the reason. Invalid UTF-8 is refused, not silently replaced. A number
 * that a 64-bit float cannot hold exactly comes back as an InexactNumber (json-numbers.ts), for
 * the record that holds it to be refused.
 */
export function decodeJson(body: Buffer): unknown {
  // isUtf8 + toString (both native) rather than a fatal TextDecoder: same verdict, and a
  // third of the decoding cost on the produce hot path.
  if (!isUtf8(body)) {
    throw new ApiError(422, ErrorCode.unprocessable, 'Request body is not valid UTF-8');
  }
  const decoded = body.toString('utf8');
  // A leading byte-order mark is allowed (and dropped), as the TextDecoder did.
  const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  if (text.trim() === '') {
    throw new ApiError(
      422,
      ErrorCode.unprocessable,
      'Request body is empty: expected {"records":[...]}',
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApiError(422, ErrorCode.unprocessable, `Request body is not valid JSON: ${reason}`);
  }
  // JSON.parse has already altered numbers a float cannot hold (json-numbers.ts): find them in
  // the text, and only then parse again keeping them visible, so their records are refused.
  const scan = scanNumbers(text);
  if (!scan.inexact) return parsed;
  if (scan.depth > MAX_LOSSLESS_DEPTH) {
    throw new ApiError(
      422,
      ErrorCode.unprocessable,
      `Request body nests deeper than ${MAX_LOSSLESS_DEPTH} levels and holds a number that ` +
        'cannot be stored exactly: send such numbers as strings',
    );
  }
  try {
    return parseKeepingInexactNumbers(text);
  } catch (err) {
    // JSON.parse accepted the body, so this is the second parser disagreeing: say so plainly.
    const reason = err instanceof Error ? err.message : String(err);
    throw new ApiError(
      422,
      ErrorCode.unprocessable,
      `Request body could not be checked for numbers that cannot be stored exactly: ${reason}`,
    );
  }
}

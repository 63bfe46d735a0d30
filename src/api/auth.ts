import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, ErrorCode } from './errors';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Bearer-token check. Both sides are hashed first so the comparison is constant-time and
 * does not reveal the token's length either.
 */
export function createBearerCheck(token: string): (headers: IncomingHttpHeaders) => void {
  const expected = digest(token);
  return (headers) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError(
        401,
        ErrorCode.unauthorized,
        match
          ? 'Unauthorized: the bearer token is not valid'
          : 'Unauthorized: send "Authorization: Bearer <token>" (PINPIPE_API_TOKEN)',
        { 'www-authenticate': 'Bearer realm="pinpipe"' },
      );
    }
  };
}

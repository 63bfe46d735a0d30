import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MarkSigner, MarkVerifier } from '../domain/raw-zone';

/**
 * The keyed MAC behind the ingest API's "validated" mark (src/domain/raw-zone.ts says what it
 * covers and when the sink trusts it): HMAC-SHA256 with PINPIPE_RECORD_KEY. The API signs with
 * it, the sink's activities verify with it, so both are built from the same key by their
 * composition roots (src/api/main.ts, src/workers/run-worker.ts). Here rather than in the domain
 * because the domain stays free of node:crypto; the domain receives these as plain functions.
 */
export interface RecordMarkKey {
  sign: MarkSigner;
  verify: MarkVerifier;
}

const MAC_BYTES = 32;

export function createRecordMarkKey(secret: string): RecordMarkKey {
  const key = Buffer.from(secret, 'utf8');
  const mac = (preamble: string, value: Uint8Array): Buffer =>
    createHmac('sha256', key).update(preamble, 'utf8').update(value).digest();
  return {
    sign: (preamble, value) => mac(preamble, value).toString('base64url'),
    verify(preamble, value, signature) {
      // Node's base64url decoder skips characters outside the alphabet instead of failing, so
      // a signature is only compared when it decodes to exactly a MAC's length (the domain has
      // checked its form already); timingSafeEqual also requires equal lengths.
      const claimed = Buffer.from(signature, 'base64url');
      if (claimed.length !== MAC_BYTES) return false;
      return timingSafeEqual(mac(preamble, value), claimed);
    },
  };
}

import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions as PlatformaticSasl } from '@platformatic/kafka';
import {
  generateAuthToken,
  generateAuthTokenFromCredentialsProvider,
} from 'aws-msk-iam-sasl-signer-js';
import type { SASLOptions as KafkajsSasl } from 'kafkajs';
import type { KafkaSecurity } from '../kafka-settings';

/**
 * KafkaSecurity (config) as each client library takes it: kafkajs for producing and admin,
 * @platformatic/kafka for reading. One translation, so every connection pinpipe opens (producer,
 * admin, reader, CLI) speaks the same TLS and SASL.
 */

/** A signed token and when it stops being accepted (epoch ms). */
export interface ExpiringToken {
  token: string;
  expiryTime: number;
}

/**
 * A token that is signed once and reused until `refreshBeforeMs` before it expires; concurrent
 * callers share one signing. MSK IAM tokens live 15 minutes; both clients ask for a token at each
 * (re)authentication, which is when a fresh one matters.
 */
export function cachedTokenSource(
  sign: () => Promise<ExpiringToken>,
  options: { now?: () => number; refreshBeforeMs?: number } = {},
): () => Promise<ExpiringToken> {
  const now = options.now ?? Date.now;
  const margin = options.refreshBeforeMs ?? 60_000;
  let current: ExpiringToken | undefined;
  let signing: Promise<ExpiringToken> | undefined;
  return () => {
    if (current && now() < current.expiryTime - margin) return Promise.resolve(current);
    signing ??= sign()
      .then((token) => {
        current = token;
        return token;
      })
      .finally(() => {
        signing = undefined;
      });
    return signing;
  };
}

/**
 * MSK IAM: a SigV4-presigned `kafka-cluster:Connect` request, signed with the AWS SDK's default
 * credential chain (environment, profile, instance role) by AWS's own signer library, unless
 * explicit credentials are given (tests).
 */
export function mskIamTokenSource(o: {
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  now?: () => number;
  refreshBeforeMs?: number;
}): () => Promise<ExpiringToken> {
  const { credentials } = o;
  const sign = credentials
    ? () =>
        generateAuthTokenFromCredentialsProvider({
          region: o.region,
          awsCredentialsProvider: () => Promise.resolve(credentials),
        })
    : () => generateAuthToken({ region: o.region });
  return cachedTokenSource(sign, {
    ...(o.now ? { now: o.now } : {}),
    ...(o.refreshBeforeMs !== undefined ? { refreshBeforeMs: o.refreshBeforeMs } : {}),
  });
}

function tlsOptions(s: KafkaSecurity): TlsOptions | undefined {
  if (!s.ssl) return undefined;
  // `ca` replaces Node's bundled CAs, which is what a private CA (the local stack's) wants;
  // without a file the public CAs apply (MSK, Confluent Cloud).
  return s.caFile ? { ca: [readFileSync(s.caFile, 'utf8')] } : {};
}

/** The token for oauthbearer / aws-msk-iam, or undefined for the other mechanisms. */
function tokenSourceOf(s: KafkaSecurity, region: string): (() => Promise<string>) | undefined {
  if (s.saslMechanism === 'oauthbearer') {
    const token = s.oauthToken ?? '';
    return () => Promise.resolve(token);
  }
  if (s.saslMechanism === 'aws-msk-iam') {
    const source = mskIamTokenSource({ region });
    return async () => (await source()).token;
  }
  return undefined;
}

export function kafkajsSecurity(
  s: KafkaSecurity,
  region: string,
): { ssl?: TlsOptions | boolean; sasl?: KafkajsSasl } {
  const ssl = tlsOptions(s);
  const out: { ssl?: TlsOptions | boolean; sasl?: KafkajsSasl } = ssl ? { ssl } : {};
  const m = s.saslMechanism;
  if (m === 'plain' || m === 'scram-sha-256' || m === 'scram-sha-512') {
    out.sasl = { mechanism: m, username: s.username ?? '', password: s.password ?? '' };
  }
  const token = tokenSourceOf(s, region);
  if (token) {
    out.sasl = {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: await token() }),
    };
  }
  return out;
}

export function platformaticSecurity(
  s: KafkaSecurity,
  region: string,
): { tls?: TlsOptions; sasl?: PlatformaticSasl } {
  const tls = tlsOptions(s);
  const out: { tls?: TlsOptions; sasl?: PlatformaticSasl } = tls ? { tls } : {};
  const m = s.saslMechanism;
  if (m === 'plain' || m === 'scram-sha-256' || m === 'scram-sha-512') {
    const mechanism = (
      {
        plain: 'PLAIN',
        'scram-sha-256': 'SCRAM-SHA-256',
        'scram-sha-512': 'SCRAM-SHA-512',
      } as const
    )[m];
    out.sasl = { mechanism, username: s.username ?? '', password: s.password ?? '' };
  }
  const token = tokenSourceOf(s, region);
  if (token) out.sasl = { mechanism: 'OAUTHBEARER', token };
  return out;
}

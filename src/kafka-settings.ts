/**
 * How pinpipe reaches Kafka: one set of settings for every connection (producer, admin, reader,
 * CLI, health check). Plain data, validated by loadConfig; the adapters turn it into each
 * client library's options (src/adapters/kafka-security.ts).
 */

export const SASL_MECHANISMS = [
  'plain',
  'scram-sha-256',
  'scram-sha-512',
  'oauthbearer',
  'aws-msk-iam',
] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface KafkaSecurity {
  /** TLS to the brokers. */
  ssl: boolean;
  /** A PEM bundle of CAs to trust besides the system's (a private or local CA). */
  caFile?: string;
  saslMechanism?: SaslMechanism;
  /** plain and scram-*. */
  username?: string;
  password?: string;
  /** oauthbearer: a ready token (aws-msk-iam signs its own). */
  oauthToken?: string;
}

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  security: KafkaSecurity;
  /** Codec of the batches pinpipe produces. */
  compression: Compression;
  /** aws-msk-iam signs for this region. */
  region: string;
  /**
   * PINPIPE_SIGNING_KEY: the ingest API signs the records it validated with it, and the sink
   * writes records whose signature verifies without validating them again. Unset: nothing is
   * signed and the sink validates every record.
   */
  signingKey?: string;
}

export const PLAINTEXT: KafkaSecurity = { ssl: false };

/** What is wrong with a combination of settings, one message per problem, naming variables. */
export function kafkaSecurityProblems(s: KafkaSecurity): string[] {
  const problems: string[] = [];
  const m = s.saslMechanism;
  if (s.caFile && !s.ssl) {
    problems.push('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true: set KAFKA_SSL=true');
  }
  const needsPassword = m === 'plain' || m === 'scram-sha-256' || m === 'scram-sha-512';
  if (needsPassword && (!s.username || !s.password)) {
    problems.push(`KAFKA_SASL_MECHANISM=${m} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
  }
  if (!needsPassword && (s.username || s.password)) {
    problems.push(
      'KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD are set but KAFKA_SASL_MECHANISM is ' +
        `${m ?? 'unset'}: set it to plain, scram-sha-256 or scram-sha-512`,
    );
  }
  if (m === 'oauthbearer' && !s.oauthToken) {
    problems.push('KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN');
  }
  if (m !== 'oauthbearer' && s.oauthToken) {
    problems.push(
      'KAFKA_SASL_OAUTHBEARER_TOKEN is set but KAFKA_SASL_MECHANISM is not oauthbearer',
    );
  }
  if (m === 'aws-msk-iam' && !s.ssl) {
    problems.push(
      'KAFKA_SASL_MECHANISM=aws-msk-iam needs KAFKA_SSL=true (MSK IAM listens on TLS only, port 9098)',
    );
  }
  if (m === 'plain' && !s.ssl) {
    problems.push(
      'KAFKA_SASL_MECHANISM=plain without KAFKA_SSL=true would send the password in clear: set KAFKA_SSL=true',
    );
  }
  return problems;
}

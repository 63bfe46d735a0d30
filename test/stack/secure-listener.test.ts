import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { secureKafkaStack, uniqueName, type SecureKafkaStack } from '../helpers/stack';

/** An unsecured JWS (alg none), what Kafka's OAuthBearerUnsecuredValidatorCallbackHandler takes. */
function unsecuredToken(sub: string, lifetimeSeconds: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, iat: now, exp: now + lifetimeSeconds, scope: 'pinpipe' };
  return `${part({ alg: 'none' })}.${part(claims)}.`;
}

describe("the local stack's SASL_SSL Kafka listener", () => {
  let stack: SecureKafkaStack;
  let ca: string;
  const topic = uniqueName('secure-listener');
  const groups: string[] = [];

  function scram(mechanism: 'scram-sha-256' | 'scram-sha-512', password: string): SASLOptions {
    const credentials = { username: stack.username, password };
    // One branch per literal: kafkajs types each mechanism's options separately.
    return mechanism === 'scram-sha-256'
      ? { mechanism, ...credentials }
      : { mechanism, ...credentials };
  }

  // A new object for every client: kafkajs keeps the authenticator it builds, bound to the
  // credentials, on the sasl object it is given, so a copy of a used one keeps the old password.
  const mechanisms: Record<string, () => SASLOptions> = {
    'SCRAM-SHA-256': () => scram('scram-sha-256', stack.password),
    'SCRAM-SHA-512': () => scram('scram-sha-512', stack.password),
    PLAIN: () => ({ mechanism: 'plain', username: stack.username, password: stack.password }),
    OAUTHBEARER: () => ({
      mechanism: 'oauthbearer',
      oauthBearerProvider: () => Promise.resolve({ value: unsecuredToken(stack.username, 3600) }),
    }),
  };

  /** TLS trusting the stack's CA only, unless `options` says otherwise. */
  function client(options: Partial<KafkaConfig>): Kafka {
    return new Kafka({
      clientId: 'secure-listener-test',
      brokers: stack.brokers,
      ssl: { ca: [ca] },
      connectionTimeout: 5000,
      logLevel: logLevel.NOTHING,
      ...options,
    });
  }

  /** One attempt, so a refusal fails at once instead of after kafkajs's retries. */
  async function connectOnce(options: Partial<KafkaConfig>): Promise<void> {
    const admin = client({ ...options, retry: { retries: 0 } }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect();
    }
  }

  let admin: ReturnType<Kafka['admin']> | undefined;

  before(async () => {
    stack = secureKafkaStack();
    ca = readFileSync(stack.caFile, 'utf8');
    const connecting = client({ sasl: mechanisms['SCRAM-SHA-512']!() }).admin();
    await connecting.connect();
    admin = connecting;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  });

  after(async () => {
    if (!admin) return; // before() failed to connect: it reported why
    if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
    if (groups.length > 0) await admin.deleteGroups(groups);
    await admin.disconnect();
  });

  for (const [name, sasl] of Object.entries(mechanisms)) {
    it(`${name} over TLS: produces a record and reads it back`, async () => {
      const kafka = client({ sasl: sasl() });
      const value = uniqueName(name);

      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      try {
        await producer.send({ topic, messages: [{ value }] });
      } finally {
        await producer.disconnect();
      }

      const groupId = uniqueName('secure-listener');
      groups.push(groupId);
      const consumer = kafka.consumer({ groupId });
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${value} not read in 30 s`)), 30_000);
          const done = (error?: Error) => {
            clearTimeout(timer);
            if (error) reject(error);
            else resolve();
          };
          // A crash kafkajs restarts from (e.g. "the coordinator is loading" on a new broker,
          // before its offsets topic is ready) is not a failure; one it gives up on is.
          consumer.on(consumer.events.CRASH, (event) => {
            if (!event.payload.restart) done(event.payload.error);
          });
          consumer
            .run({
              eachMessage: ({ message }) => {
                if (message.value?.toString() === value) done();
                return Promise.resolve();
              },
            })
            .catch(done);
        });
      } finally {
        await consumer.disconnect();
      }
    });
  }

  for (const mechanism of ['scram-sha-256', 'scram-sha-512'] as const) {
    it(`refuses a wrong ${mechanism.toUpperCase()} password`, async () => {
      await assert.rejects(
        connectOnce({ sasl: scram(mechanism, 'not-the-password') }),
        (e: Error) =>
          e.name === 'KafkaJSSASLAuthenticationError' && /invalid credentials/.test(e.message),
      );
    });
  }

  it('refuses an expired OAUTHBEARER token', async () => {
    await assert.rejects(
      connectOnce({
        sasl: {
          mechanism: 'oauthbearer',
          oauthBearerProvider: () => Promise.resolve({ value: unsecuredToken('pinpipe', -60) }),
        },
      }),
    );
  });

  it('refuses a client without TLS', async () => {
    await assert.rejects(
      connectOnce({ ssl: false, sasl: mechanisms['SCRAM-SHA-512']!(), requestTimeout: 5000 }),
      (e: Error) => /closed connection|connection error|timeout/i.test(e.message),
    );
  });

  it("is not trusted by a TLS client without the stack's CA", async () => {
    await assert.rejects(
      connectOnce({ ssl: true, sasl: mechanisms['SCRAM-SHA-512']!() }),
      (e: Error) => /self[- ]signed certificate/.test(e.message),
    );
  });
});

// Health check for the local Kafka broker through kafkajs (a maintained client, not hand-written
// protocol): Admin describeCluster on each listener given, concurrently, one attempt each (no
// retries, short timeouts). A listener passes only when the broker answers and advertises the
// address that was dialled (else clients would be sent elsewhere after bootstrap).
//   --plaintext host:port             the PLAINTEXT listener
//   --sasl-ssl host:port              the SASL_SSL listener: TLS trusting --ca <pem> only, then
//   --ca <pem> --username <name>      SCRAM-SHA-512 as --username, password from KAFKA_PING_PASSWORD
// Exits 0 when every listener given passes, else 1 with one line per failure on stderr.
// scripts/stack.sh runs it; kafkajs comes from the checkout's node_modules.
'use strict';
const { readFileSync } = require('node:fs');
const { parseArgs } = require('node:util');

let Kafka, logLevel;
try {
  ({ Kafka, logLevel } = require('kafkajs'));
} catch (e) {
  console.error(`kafka-ping: cannot load kafkajs (${e.message}); run npm ci in the checkout`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    plaintext: { type: 'string' },
    'sasl-ssl': { type: 'string' },
    ca: { type: 'string' },
    username: { type: 'string' },
  },
});

async function check(address, security) {
  const kafka = new Kafka({
    clientId: 'pinpipe-stack-ping',
    brokers: [address],
    connectionTimeout: 2000,
    authenticationTimeout: 3000,
    requestTimeout: 3000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
    ...security,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const { brokers } = await admin.describeCluster();
    const advertised = brokers.map((b) => `${b.host}:${b.port}`);
    if (!advertised.includes(address)) {
      throw new Error(
        `the broker advertises ${advertised.join(', ') || 'nothing'} on this listener`,
      );
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

const checks = [];
if (values.plaintext) checks.push(['PLAINTEXT', values.plaintext, {}]);
if (values['sasl-ssl']) {
  const { ca, username } = values;
  const password = process.env.KAFKA_PING_PASSWORD;
  if (!ca || !username || !password) {
    console.error('kafka-ping: --sasl-ssl needs --ca, --username and KAFKA_PING_PASSWORD');
    process.exit(2);
  }
  let pem;
  try {
    pem = readFileSync(ca, 'utf8');
  } catch (e) {
    console.error(`kafka not ready: cannot read the CA of the SASL_SSL listener: ${e.message}`);
    process.exit(1);
  }
  checks.push([
    `SASL_SSL (TLS with ${ca}, SCRAM-SHA-512 as ${username})`,
    values['sasl-ssl'],
    // rejectUnauthorized stays on: the broker certificate must chain to the stack's CA and name
    // the address dialled.
    { ssl: { ca: [pem] }, sasl: { mechanism: 'scram-sha-512', username, password } },
  ]);
}
if (checks.length === 0) {
  console.error(
    'usage: kafka-ping.cjs [--plaintext host:port] [--sasl-ssl host:port --ca <pem> --username <name>]',
  );
  process.exit(2);
}

// A broker that accepts the connection and then never answers must not hang `stack.sh up`.
setTimeout(() => {
  console.error('kafka not ready: no answer within 8 s');
  process.exit(1);
}, 8000).unref();

Promise.all(
  checks.map(([name, address, security]) =>
    check(address, security).then(
      () => undefined,
      (e) => `${name} ${address}: ${e.message}`,
    ),
  ),
).then((failures) => {
  const failed = failures.filter(Boolean);
  for (const f of failed) console.error(`kafka not ready: ${f}`);
  process.exit(failed.length ? 1 : 0);
});

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  cachedTokenSource,
  kafkajsSecurity,
  mskIamTokenSource,
  platformaticSecurity,
} from '../../src/adapters/kafka-security';
import type { KafkaSecurity } from '../../src/kafka-settings';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

/** An MSK IAM token is a base64url presigned URL: what it signs is in its query. */
function decodeToken(token: string): URL {
  return new URL(Buffer.from(token, 'base64url').toString('utf8'));
}

describe('Kafka security settings as each client takes them', () => {
  const caFile = path.join(mkdtempSync(path.join(tmpdir(), 'pinpipe-ca-')), 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

  const cases: [string, KafkaSecurity, unknown, unknown][] = [
    ['plaintext', { ssl: false }, {}, {}],
    ['TLS with the public CAs', { ssl: true }, { ssl: {} }, { tls: {} }],
    [
      'TLS with a private CA and SCRAM-SHA-512',
      { ssl: true, caFile, saslMechanism: 'scram-sha-512', username: 'u', password: 'p' },
      {
        ssl: { ca: [`-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`] },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      },
      {
        tls: { ca: [`-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`] },
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
      },
    ],
    [
      'PLAIN over TLS (Confluent Cloud)',
      { ssl: true, saslMechanism: 'plain', username: 'key', password: 'secret' },
      { ssl: {}, sasl: { mechanism: 'plain', username: 'key', password: 'secret' } },
      { tls: {}, sasl: { mechanism: 'PLAIN', username: 'key', password: 'secret' } },
    ],
    [
      'SCRAM-SHA-256 without TLS',
      { ssl: false, saslMechanism: 'scram-sha-256', username: 'u', password: 'p' },
      { sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } },
      { sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' } },
    ],
  ];
  for (const [name, security, kafkajs, platformatic] of cases) {
    it(name, () => {
      assert.deepEqual(kafkajsSecurity(security, 'us-east-1'), kafkajs);
      assert.deepEqual(platformaticSecurity(security, 'us-east-1'), platformatic);
    });
  }

  it('OAUTHBEARER gives both clients the configured token', async () => {
    const security: KafkaSecurity = { ssl: true, saslMechanism: 'oauthbearer', oauthToken: 'jwt' };
    const k = kafkajsSecurity(security, 'us-east-1').sasl;
    assert.ok(k && k.mechanism === 'oauthbearer');
    assert.deepEqual(await k.oauthBearerProvider(), { value: 'jwt' });
    const p = platformaticSecurity(security, 'us-east-1').sasl;
    assert.equal(p?.mechanism, 'OAUTHBEARER');
    assert.ok(typeof p.token === 'function');
    assert.equal(await p.token(), 'jwt');
  });
});

describe('MSK IAM tokens', () => {
  it('sign kafka-cluster:Connect for the region, valid for 15 minutes', async () => {
    const before = Date.now();
    const { token, expiryTime } = await mskIamTokenSource({
      region: 'eu-west-2',
      credentials,
    })();
    const url = decodeToken(token);
    assert.equal(url.host, 'kafka.eu-west-2.amazonaws.com');
    assert.equal(url.searchParams.get('Action'), 'kafka-cluster:Connect');
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    const credential = url.searchParams.get('X-Amz-Credential') ?? '';
    assert.match(
      credential,
      /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-2\/kafka-cluster\/aws4_request$/,
    );
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    assert.match(url.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
    // The secret itself never appears in the token.
    assert.ok(!token.includes(credentials.secretAccessKey));
    assert.ok(!decodeURIComponent(url.href).includes(credentials.secretAccessKey));
    assert.ok(expiryTime >= before + 890_000 && expiryTime <= Date.now() + 900_000);
  });

  it('are signed again with other credentials and region, never mixed', async () => {
    const a = await mskIamTokenSource({ region: 'us-east-1', credentials })();
    const b = await mskIamTokenSource({
      region: 'ap-south-1',
      credentials: { ...credentials, accessKeyId: 'AKIDOTHER' },
    })();
    assert.match(decodeToken(a.token).searchParams.get('X-Amz-Credential')!, /us-east-1/);
    const other = decodeToken(b.token).searchParams.get('X-Amz-Credential')!;
    assert.match(other, /^AKIDOTHER\/\d{8}\/ap-south-1\//);
  });

  it('are reused until a minute before they expire, then refreshed once for all callers', async () => {
    let clock = 1_000_000;
    let signed = 0;
    const source = cachedTokenSource(
      () => {
        signed++;
        return Promise.resolve({ token: `t${signed}`, expiryTime: clock + 900_000 });
      },
      { now: () => clock },
    );
    assert.equal((await source()).token, 't1');
    clock += 838_000; // 62 s before expiry: still good
    assert.equal((await source()).token, 't1');
    clock += 3_000; // 59 s before expiry: refreshed, and concurrent callers share the signing
    const [x, y] = await Promise.all([source(), source()]);
    assert.equal(x.token, 't2');
    assert.equal(y.token, 't2');
    assert.equal(signed, 2);
  });

  it('a failed signing is not cached: the next call signs again', async () => {
    let calls = 0;
    const source = cachedTokenSource(() => {
      calls++;
      return calls === 1
        ? Promise.reject(new Error('no credentials'))
        : Promise.resolve({ token: 'ok', expiryTime: Date.now() + 900_000 });
    });
    await assert.rejects(source(), /no credentials/);
    assert.equal((await source()).token, 'ok');
  });

  it('reach both clients through the aws-msk-iam mechanism', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    try {
      const security: KafkaSecurity = { ssl: true, saslMechanism: 'aws-msk-iam' };
      const k = kafkajsSecurity(security, 'us-west-2').sasl;
      assert.ok(k && k.mechanism === 'oauthbearer');
      const { value } = await k.oauthBearerProvider();
      assert.equal(decodeToken(value).host, 'kafka.us-west-2.amazonaws.com');
      const p = platformaticSecurity(security, 'us-west-2').sasl;
      assert.equal(p?.mechanism, 'OAUTHBEARER');
      assert.ok(typeof p.token === 'function');
      assert.equal(
        decodeToken(await p.token()).searchParams.get('Action'),
        'kafka-cluster:Connect',
      );
    } finally {
      process.env = saved;
    }
  });
});

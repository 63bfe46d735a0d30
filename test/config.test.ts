import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiListenProblem, ConfigError, loadConfig } from '../src/config';

describe('loadConfig', () => {
  const isolated = { HOME: '/nonexistent', TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' };

  it('gives the local defaults of DESIGN.md section 8 for an empty environment', () => {
    const c = loadConfig({ ...isolated });
    assert.equal(c.temporal.connect.connectionOptions.address, '127.0.0.1:7233');
    assert.equal(c.temporal.namespace, 'default');
    assert.equal(c.temporal.taskQueue, 'pinpipe');
    assert.equal(c.temporal.uiUrl, 'http://127.0.0.1:8233');
    assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
    assert.equal(c.aws.region, 'us-east-1');
    assert.equal(c.aws.credentials, undefined, 'default credential chain');
    assert.equal(c.pipelineId, '5eedcafe0001');
    assert.equal(c.api.port, 8082);
    assert.equal(c.api.token, undefined);
    assert.equal(c.metrics.port, 9464);
    assert.deepEqual(c.duckdb, {}, "httpfs from DuckDB's extension directory");
  });

  it('reads the local stack environment', () => {
    const c = loadConfig({
      ...isolated,
      TEMPORAL_ADDRESS: '127.0.0.1:17233',
      TEMPORAL_NAMESPACE: 'pinpipe-dev',
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9094',
      AWS_ACCESS_KEY_ID: 'pinpipe',
      AWS_SECRET_ACCESS_KEY: 'pinpipe-secret',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:7070',
      AWS_ENDPOINT_URL_EC2: 'http://127.0.0.1:5000',
      PINPIPE_PIPELINE_ID: '0a1b2c3d4e5f',
      PINPIPE_API_TOKEN: 'a-long-secret',
    });
    assert.equal(c.temporal.connect.connectionOptions.address, '127.0.0.1:17233');
    assert.equal(c.temporal.namespace, 'pinpipe-dev');
    assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092', '127.0.0.1:9094']);
    assert.deepEqual(c.aws.credentials, {
      accessKeyId: 'pinpipe',
      secretAccessKey: 'pinpipe-secret',
    });
    assert.equal(c.aws.s3Endpoint, 'http://127.0.0.1:7070');
    assert.equal(c.aws.ec2Endpoint, 'http://127.0.0.1:5000');
    assert.equal(c.pipelineId, '0a1b2c3d4e5f');
    assert.equal(c.api.token, 'a-long-secret');
  });

  it('reaches Temporal Cloud through the standard TEMPORAL_* variables (API key implies TLS)', () => {
    const c = loadConfig({
      ...isolated,
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'key-123',
    });
    assert.equal(c.temporal.connect.connectionOptions.address, 'my-ns.a1b2c.tmprl.cloud:7233');
    assert.equal(c.temporal.connect.connectionOptions.apiKey, 'key-123');
    assert.ok(c.temporal.connect.connectionOptions.tls, 'TLS on with an API key');
    assert.equal(c.temporal.namespace, 'my-ns.a1b2c');
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    [
      'broker list',
      { KAFKA_BROKERS: 'not a url' },
      /KAFKA_BROKERS="not a url": expected a comma-separated list of host:port/,
    ],
    [
      'Temporal address',
      { TEMPORAL_ADDRESS: 'localhost' },
      /TEMPORAL_ADDRESS="localhost": expected host:port/,
    ],
    [
      'S3 endpoint',
      { AWS_ENDPOINT_URL_S3: '127.0.0.1:7070' },
      /AWS_ENDPOINT_URL_S3="127.0.0.1:7070": expected an http\(s\) URL/,
    ],
    [
      'pipeline id',
      { PINPIPE_PIPELINE_ID: 'ABC' },
      /PINPIPE_PIPELINE_ID="ABC": expected 12 lowercase hex characters/,
    ],
    ['API port', { PINPIPE_API_PORT: 'abc' }, /PINPIPE_API_PORT="abc": expected a port number/],
    [
      'metrics port',
      { PINPIPE_METRICS_PORT: '70000' },
      /PINPIPE_METRICS_PORT="70000": expected a port number between 1 and 65535/,
    ],
    ['region', { AWS_REGION: 'mars' }, /AWS_REGION="mars": expected an AWS region/],
    ['half the key pair', { AWS_ACCESS_KEY_ID: 'x' }, /set both or neither/],
  ];
  for (const [what, env, message] of bad) {
    it(`rejects a bad ${what} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig({ ...isolated, ...env }),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  describe('PINPIPE_DUCKDB_HTTPFS', () => {
    let dir: string;
    let extension: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'pinpipe-config-test-'));
      extension = path.join(dir, 'httpfs.duckdb_extension');
      writeFileSync(extension, 'not a real extension: loadConfig only checks that it is there');
      writeFileSync(path.join(dir, 'aws.duckdb_extension'), '');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('is the extension file the analytics load, as an absolute path', () => {
      const c = loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: extension });
      assert.deepEqual(c.duckdb, { httpfsExtension: extension });
      const relative = path.relative(process.cwd(), extension);
      assert.equal(
        loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: relative }).duckdb.httpfsExtension,
        extension,
      );
    });

    it('empty means unset', () => {
      assert.deepEqual(loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: ' ' }).duckdb, {});
    });

    it('rejects a file that is not there, saying how to get one', () => {
      const missing = path.join(dir, 'gone', 'httpfs.duckdb_extension');
      assert.throws(
        () => loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: missing }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.includes(`PINPIPE_DUCKDB_HTTPFS=${JSON.stringify(missing)}`) &&
          err.message.includes('does not exist') &&
          err.message.includes('scripts/stack.sh bin duckdb-httpfs'),
      );
    });

    it('rejects a directory and another extension (DuckDB names an extension by its file)', () => {
      for (const value of [dir, path.join(dir, 'aws.duckdb_extension')]) {
        assert.throws(
          () => loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: value }),
          /PINPIPE_DUCKDB_HTTPFS=.*not a file named httpfs\.duckdb_extension/,
        );
      }
      const asDir = path.join(dir, 'nested', 'httpfs.duckdb_extension');
      mkdirSync(asDir, { recursive: true });
      assert.throws(
        () => loadConfig({ ...isolated, PINPIPE_DUCKDB_HTTPFS: asDir }),
        /httpfs\.duckdb_extension is not a file/,
      );
    });
  });

  describe('Kafka security', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pinpipe-kafka-ca-'));
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, 'pem');

    it('is plaintext and uncompressed by default', () => {
      const c = loadConfig({ ...isolated });
      assert.deepEqual(c.kafka.security, { ssl: false });
      assert.equal(c.kafka.compression, 'none');
    });

    it('reads TLS with a CA file, SCRAM credentials and the codec', () => {
      const c = loadConfig({
        ...isolated,
        KAFKA_SSL: 'true',
        KAFKA_SSL_CA_FILE: ca,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'pinpipe',
        KAFKA_SASL_PASSWORD: 'pw',
        KAFKA_COMPRESSION: 'zstd',
      });
      assert.deepEqual(c.kafka.security, {
        ssl: true,
        caFile: ca,
        saslMechanism: 'scram-sha-512',
        username: 'pinpipe',
        password: 'pw',
      });
      assert.equal(c.kafka.compression, 'zstd');
    });

    it('takes MSK IAM with TLS and no credentials (the AWS chain signs)', () => {
      const c = loadConfig({ ...isolated, KAFKA_SSL: '1', KAFKA_SASL_MECHANISM: 'aws-msk-iam' });
      assert.deepEqual(c.kafka.security, { ssl: true, saslMechanism: 'aws-msk-iam' });
    });

    const refused: [string, Record<string, string>, RegExp][] = [
      [
        'an unknown mechanism',
        { KAFKA_SASL_MECHANISM: 'kerberos' },
        /KAFKA_SASL_MECHANISM="kerberos": expected one of plain/,
      ],
      [
        'SSL that is not a boolean',
        { KAFKA_SSL: 'yes' },
        /KAFKA_SSL="yes": expected true or false/,
      ],
      [
        'a CA file that is not there',
        { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: path.join(dir, 'nope.pem') },
        /KAFKA_SSL_CA_FILE=.*does not exist/,
      ],
      [
        'a CA file without TLS',
        { KAFKA_SSL_CA_FILE: ca },
        /KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true/,
      ],
      [
        'SCRAM without a password',
        { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' },
        /scram-sha-256 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
      ],
      [
        'credentials without a mechanism',
        { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
        /KAFKA_SASL_MECHANISM is unset/,
      ],
      [
        'PLAIN in clear',
        { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
        /password in clear/,
      ],
      [
        'MSK IAM without TLS',
        { KAFKA_SASL_MECHANISM: 'aws-msk-iam' },
        /aws-msk-iam needs KAFKA_SSL=true/,
      ],
      [
        'OAUTHBEARER without a token',
        { KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer' },
        /needs KAFKA_SASL_OAUTHBEARER_TOKEN/,
      ],
      [
        'an unknown codec',
        { KAFKA_COMPRESSION: 'brotli' },
        /KAFKA_COMPRESSION="brotli": expected one of none, gzip, snappy, lz4, zstd/,
      ],
    ];
    for (const [what, env, message] of refused) {
      it(`refuses ${what}, saying what to set`, () => {
        assert.throws(() => loadConfig({ ...isolated, ...env }), message);
      });
    }
  });

  describe('apiListenProblem', () => {
    const api = (host: string, token?: string) =>
      loadConfig({
        ...isolated,
        PINPIPE_API_HOST: host,
        ...(token ? { PINPIPE_API_TOKEN: token } : {}),
      }).api;
    const cases: [string, string, string | undefined, boolean][] = [
      ['loopback v4', '127.0.0.1', undefined, true],
      ['another loopback v4', '127.0.0.53', undefined, true],
      ['loopback v6', '::1', undefined, true],
      ['localhost', 'localhost', undefined, true],
      ['every interface, with a token', '0.0.0.0', 'a-long-secret', true],
      ['every interface, no token', '0.0.0.0', undefined, false],
      ['a LAN address, no token', '10.0.3.7', undefined, false],
      ['every v6 interface, no token', '::', undefined, false],
    ];
    for (const [what, host, token, ok] of cases) {
      it(`${ok ? 'allows' : 'refuses'} ${what}`, () => {
        const problem = apiListenProblem(api(host, token));
        if (ok) assert.equal(problem, undefined);
        else assert.match(problem ?? '', /needs PINPIPE_API_TOKEN/);
      });
    }
  });

  it('reports every problem at once', () => {
    assert.throws(
      () => loadConfig({ ...isolated, KAFKA_BROKERS: 'x', PINPIPE_API_PORT: 'y' }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 2,
    );
  });
});

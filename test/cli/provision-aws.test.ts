import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createAdapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import type { IngestServer } from '../../src/api/server';
import { provisionInputFrom, type ProvisionFlags } from '../../src/cli/commands/provision';
import { awsNames } from '../../src/domain/aws-resources';
import { parseProvisionInput } from '../../src/domain/provision-input';
import { AWS_ONLY_STEPS } from '../../src/domain/provision-steps';
import { provisionWorkflowId } from '../../src/domain/workflow-ids';
import {
  abortUpdate,
  progressQuery,
  type ProvisionResult,
  type provisionPipeline,
} from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import {
  AWS_RESOURCE_KINDS,
  AwsAuditor,
  MotoMskWithActivation,
  activitiesWithMskDouble,
  assertOneOfEach,
  assertPlanCreates,
  emptyAudit,
  secureBrokers,
} from '../helpers/aws-target';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { listenIngestApi } from '../helpers/provision-stack';
import { runCli, spawnCli, type CliProcess } from '../helpers/run-cli';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';
import { workflowBundle } from '../helpers/temporal';

/**
 * `pinpipe provision --target aws` and `pinpipe teardown` as processes, against a worker in this
 * process (it needs the MSK double: moto keeps clusters CREATING and has no bootstrap servers)
 * on the stack's Temporal, with moto for EC2, IAM, Secrets Manager, API Gateway and MSK. Every
 * count is taken with plain SDK calls (AwsAuditor).
 */
describe('pinpipe provision --target aws / teardown (CLI processes, worker with the MSK double)', function () {
  this.timeout(300_000);
  const config = stackConfig();
  const taskQueue = uniqueName('provision-aws-cli');
  const env = { ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue };
  const pipelineId = randomPipelineId();
  let dirty = false;
  const adapters = createAdapters(config);
  // ACTIVE only once the test has seen `provision status` show the wait.
  const msk = new MotoMskWithActivation(adapters.aws.msk, secureBrokers());
  let native: NativeConnection;
  let connection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  let api: IngestServer;
  let apiUrl: string;
  let auditor: AwsAuditor;
  let dir: string;
  let inputFile: string;
  let first: CliProcess | undefined;

  before(async () => {
    const options = config.temporal.connect.connectionOptions;
    native = await NativeConnection.connect(options);
    connection = await Connection.connect(options);
    client = new Client({ connection, namespace: config.temporal.namespace });
    worker = await Worker.create({
      connection: native,
      namespace: config.temporal.namespace,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: activitiesWithMskDouble(adapters, new TemporalControl(client), msk),
    });
    running = worker.run();
    ({ api, apiUrl } = await listenIngestApi(adapters.kafka));
    auditor = new AwsAuditor();
    dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-provision-aws-cli-'));
    inputFile = path.join(dir, 'input.json');
    await writeFile(inputFile, JSON.stringify({ aws: { kafka: { pollSeconds: 1 } } }));
  });

  after(async () => {
    first?.child.kill('SIGTERM');
    if (dirty && worker?.getState() === 'RUNNING') {
      await settleProvisioning().catch((err: unknown) => console.error('settle failed:', err));
      await client.workflow
        .execute(teardownPipeline, {
          taskQueue,
          workflowId: `cleanup-${pipelineId}`,
          args: [{ pipelineId, deleteData: true }],
        })
        .catch((err: unknown) => console.error('cleanup failed:', err));
    }
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    auditor?.destroy();
    await api?.close();
    await adapters.close();
    await connection?.close();
    await native?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * After a failed test: lets a provisioning run still open end (the cluster turns ACTIVE; a
   * parked run is aborted), so that its inventory exists and teardown finds what it made.
   */
  async function settleProvisioning(): Promise<void> {
    const handle = client.workflow.getHandle<typeof provisionPipeline>(
      provisionWorkflowId(pipelineId),
    );
    const d = await handle.describe().catch(() => undefined);
    if (d?.status.name !== 'RUNNING') return;
    msk.activate();
    if ((await handle.query(progressQuery)).status === 'awaiting-correction') {
      await handle.executeUpdate(abortUpdate);
    }
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), 120_000);
    try {
      await client.withAbortSignal(stop.signal, () => handle.result());
    } catch {
      await handle.terminate('test cleanup: the run did not end').catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  const provisionArgs = (...extra: string[]) => [
    'provision',
    '--target',
    'aws',
    '--pipeline',
    pipelineId,
    // The stage URL cannot be reached from here: the endpoint step checks this one instead.
    '--endpoint',
    apiUrl,
    '--image-id',
    'ami-12c6146b',
    '--no-ingestion',
    '--no-schedule',
    '--ssh-cidr',
    '203.0.113.7/32',
    '--input',
    inputFile,
    ...extra,
  ];

  it('--plan lists every aws resource as create and creates none', async () => {
    const r = await runCli(provisionArgs('--plan', '--json'), env);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as ProvisionResult;
    assert.equal(plan.status, 'planned');
    assertPlanCreates(plan, AWS_RESOURCE_KINDS);
    assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
  });

  it('provisions: status shows the cluster wait; exit 0, every resource once, the key fetch command', async () => {
    dirty = true;
    first = spawnCli(provisionArgs(), env);
    const waitLine = new RegExp(
      `^\\[~\\] Ensure Kafka cluster \\(MSK\\) +running +\\d+/\\d+ +\\S+ CREATING for \\d+ min \\(looked every 1 s\\)$`,
      'm',
    );
    const deadline = Date.now() + 120_000;
    for (;;) {
      const status = await runCli(['provision', 'status', '--pipeline', pipelineId], env);
      if (waitLine.test(status.stdout)) break;
      if (first.child.exitCode !== null || Date.now() > deadline) {
        assert.fail(`no cluster wait in provision status:\n${status.stdout}\n${first.output()}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    msk.activate();
    const code = await first.exited;
    assert.equal(code, 0, first.output());

    const names = awsNames(pipelineId);
    const stderr = first.stderr();
    assert.ok(
      stderr.includes(
        `(umask 077 && aws secretsmanager get-secret-value --region ${config.aws.region} --secret-id ${names.sshKeySecret} --query SecretString --output text > ${names.keyPair}.pem)`,
      ),
      stderr,
    );
    assert.ok(stderr.includes(`--secret-id ${names.apiTokenSecret} `), stderr);
    assert.match(
      stderr,
      /^Invoke URL \(API Gateway\): https:\/\/[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com\/v1$/m,
    );
    assert.match(first.stdout(), new RegExp(`^pipeline ${pipelineId} completed: `, 'm'));
    assert.doesNotMatch(first.stdout(), /umask|Invoke URL/, 'the hints go to stderr');

    assertOneOfEach(await auditor.audit(pipelineId), pipelineId);
  });

  it('a second run changes nothing: exit 0, every resource exists (--json, nothing else on stdout)', async () => {
    const before = await auditor.audit(pipelineId);
    const r = await runCli(provisionArgs('--json'), env);
    assert.equal(r.code, 0, r.stderr);
    const again = JSON.parse(r.stdout) as ProvisionResult;
    assert.equal(again.status, 'completed');
    for (const step of again.steps)
      if (AWS_ONLY_STEPS.has(step.step)) assert.equal(step.status, 'done', step.step);
    assert.deepEqual(
      again.resources.filter((x) => x.outcome !== 'exists'),
      [],
    );
    assert.doesNotMatch(r.stderr, /Invoke URL/, 'no human hints in --json mode');
    assert.deepEqual(await auditor.audit(pipelineId), before);
  });

  it('teardown --delete-data --yes leaves no aws resource', async () => {
    const r = await runCli(['teardown', '--pipeline', pipelineId, '--delete-data', '--yes'], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
    dirty = false;
  });
});

describe('pinpipe provision: the aws flags map onto the input', () => {
  const id = '0a1b2c3d4e5f';
  const flags = (over: Partial<ProvisionFlags>): ProvisionFlags => ({
    schedule: true,
    ingestion: true,
    apiGateway: true,
    wait: true,
    ...over,
  });
  const settingsOf = async (over: Partial<ProvisionFlags>) => {
    const parsed = parseProvisionInput(await provisionInputFrom(flags(over), id));
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.settings;
  };
  const arn = 'arn:aws:kafka:us-east-1:123456789012:cluster/theirs/0000';

  it('each flag to its setting; without them the defaults stand', async () => {
    const s = await settingsOf({
      target: 'aws',
      sshCidr: '203.0.113.7/32',
      appSource: 's3://b/pinpipe.tgz',
      temporalAddress: 'temporal.internal:7233',
      apiGateway: false,
    });
    assert.equal(s.aws.sshCidr, '203.0.113.7/32');
    assert.equal(s.aws.appSource, 's3://b/pinpipe.tgz');
    assert.equal(s.aws.temporalAddress, 'temporal.internal:7233');
    assert.equal(s.aws.apiGateway.enabled, false);
    assert.equal(s.aws.kafka.mode, 'create');
    const plain = await settingsOf({ target: 'aws' });
    assert.equal(plain.aws.apiGateway.enabled, true);
    assert.equal(plain.aws.sshCidr, undefined);
  });

  it('--cluster-arn implies adopt; --brokers implies brokers on aws only; --kafka-mode as given', async () => {
    const adopt = await settingsOf({ target: 'aws', clusterArn: arn });
    assert.deepEqual([adopt.aws.kafka.mode, adopt.aws.kafka.clusterArn], ['adopt', arn]);
    const brokers = await settingsOf({ target: 'aws', brokers: 'b-1:9098,b-2:9098' });
    assert.deepEqual(
      [brokers.aws.kafka.mode, brokers.clientHost.kafkaBrokers],
      ['brokers', 'b-1:9098,b-2:9098'],
    );
    const local = await settingsOf({ brokers: '10.0.0.1:9092' });
    assert.deepEqual(
      [local.aws.kafka.mode, local.clientHost.kafkaBrokers],
      ['create', '10.0.0.1:9092'],
    );
    assert.equal(
      (await settingsOf({ target: 'aws', kafkaMode: 'brokers' })).aws.kafka.mode,
      'brokers',
    );
  });

  it('contradicting flags are refused, naming them', async () => {
    await assert.rejects(
      provisionInputFrom(flags({ target: 'aws', clusterArn: arn, kafkaMode: 'create' }), id),
      /--cluster-arn adopts a cluster: it cannot go with --kafka-mode create/,
    );
    await assert.rejects(
      provisionInputFrom(flags({ target: 'aws', brokers: 'b:1', kafkaMode: 'create' }), id),
      /--brokers uses those brokers instead of MSK/,
    );
    await assert.rejects(
      provisionInputFrom(flags({ target: 'aws', brokers: 'b:1', clusterArn: arn }), id),
      /--brokers and --cluster-arn/,
    );
  });

  it('a bad aws flag exits 2 naming it, before contacting Temporal', async () => {
    // Nothing listens on port 1: had the command tried Temporal, it would fail another way.
    const nowhere = { ...stackEnv(), TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const cases: Array<[string[], RegExp]> = [
      [['--ssh-cidr', '203.0.113.7'], /aws\.sshCidr: expected an IPv4 CIDR/],
      [['--kafka-mode', 'bogus'], /--kafka-mode <mode>' argument 'bogus' is invalid/],
    ];
    for (const [extra, message] of cases) {
      const r = await runCli(['provision', '--target', 'aws', '--pipeline', id, ...extra], nowhere);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

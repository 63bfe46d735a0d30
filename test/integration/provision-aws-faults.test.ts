import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { DescribeKeyPairsCommand } from '@aws-sdk/client-ec2';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import type { IngestServer } from '../../src/api/server';
import { awsNames, awsTags } from '../../src/domain/aws-resources';
import type { ProvisionStep } from '../../src/domain/provision-steps';
import {
  progressQuery,
  provisionPipeline,
  type ProvisionResult,
} from '../../src/workflows/provision-pipeline';
import { teardownPipeline } from '../../src/workflows/teardown-pipeline';
import {
  AwsAuditor,
  assertOneOfEachWired,
  awsProvisionInput,
  emptyAudit,
} from '../helpers/aws-target';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { freePort, spawnEntry, waitForOutput, type Spawned } from '../helpers/processes';
import { listenIngestApi } from '../helpers/provision-stack';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/**
 * The aws target survives its worker dying: for each activity of the aws steps that creates
 * something (and for the cluster wait), a real worker process SIGKILLs itself inside it, right
 * after the create call returned where there is one (the thing exists, the run never heard of
 * it); a plain worker process then finishes the run. Each run must complete with exactly one of
 * every resource (counted with plain SDK calls, not pinpipe's adapters), and a teardown with
 * deleteData must leave nothing tagged. AWS is moto; moto keeps MSK clusters CREATING and has no
 * GetBootstrapBrokers, so both worker processes answer those two with MotoMskWithActivation
 * (PINPIPE_TEST_MSK_DOUBLE, see fault-worker.ts). The cases run at once, each with its own
 * pipeline and task queue.
 */

interface FaultCase {
  /** The step whose attempt the kill costs. */
  step: ProvisionStep;
  activity: string;
  /** Where inside the activity the kill lands; absent: 0–50 ms in, or just before it returns. */
  afterCall?: string;
  /**
   * Left by an earlier run before this one starts: the SSH key's secret, its key pair since
   * deleted by hand (the value is a private key no key pair in EC2 matches any more).
   */
  staleKeySecret?: true;
}

const CASES: FaultCase[] = [
  {
    step: 'security-group',
    activity: 'ensureSecurityGroups',
    afterCall: 'aws.network.createSecurityGroup',
  },
  { step: 'kafka-cluster', activity: 'ensureKafkaCluster', afterCall: 'aws.msk.createCluster' },
  // The durable wait: a look at the cluster between two workflow timers.
  { step: 'kafka-cluster', activity: 'describeKafkaCluster' },
  { step: 'api-token', activity: 'ensureApiToken', afterCall: 'aws.secrets.createSecret' },
  // The key pair exists, its private key (shown once) was never stored: it must be replaced.
  { step: 'key-pair', activity: 'ensureKeyPair', afterCall: 'aws.network.createKeyPair' },
  // The same with the secret already there (an old key): the new key must still end up in it.
  {
    step: 'key-pair',
    activity: 'ensureKeyPair',
    afterCall: 'aws.network.createKeyPair',
    staleKeySecret: true,
  },
  // The role (with its policy) exists, the profile is empty: the retry must put the role in it.
  { step: 'iam-role', activity: 'ensureIamRole', afterCall: 'aws.iam.createInstanceProfile' },
  { step: 'client-host', activity: 'ensureClientHost', afterCall: 'ec2.runInstance' },
  // The REST API exists without its proxy or stage: the retry must wire and deploy it.
  { step: 'api-gateway', activity: 'ensureRestApi', afterCall: 'aws.apiGateway.createRestApi' },
];

const WORKER_ENTRY = 'test/helpers/fault-worker.ts';
const WITH_DOUBLE = { PINPIPE_TEST_MSK_DOUBLE: '1', PINPIPE_TEST_MSK_ACTIVE_AFTER_LOOKS: '3' };

describe('aws-target provisioning under worker SIGKILLs (real processes, moto)', function () {
  this.timeout(600_000);
  let adapters: Adapters;
  let connection: Connection;
  let client: Client;
  let api: IngestServer;
  let apiUrl: string;
  let auditor: AwsAuditor;
  const processes: Spawned[] = [];
  const outcomes = new Map<FaultCase, Promise<{ error?: Error; log: string[] }>>();

  before(async () => {
    adapters = createAdapters(stackConfig());
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    client = new Client({ connection });
    ({ api, apiUrl } = await listenIngestApi(adapters.kafka));
    auditor = new AwsAuditor();
    // All at once; each `it` below reports its own.
    for (const c of CASES) {
      const log: string[] = [];
      outcomes.set(
        c,
        runCase(c, log).then(
          () => ({ log }),
          (error: unknown) => ({
            error: error instanceof Error ? error : new Error(String(error)),
            log,
          }),
        ),
      );
    }
  });

  after(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited));
    auditor?.destroy();
    await api?.close();
    await adapters?.close();
    await connection?.close();
  });

  /**
   * A worker process (fault-worker.ts, with the MSK double) on the case's queue. Spawned here
   * rather than by startWorkerProcess so one still starting is on the list to be stopped, and
   * with a long wait: nine start at once on a small machine.
   */
  async function worker(
    taskQueue: string,
    env: Record<string, string>,
    workers: Spawned[],
  ): Promise<Spawned> {
    const p = spawnEntry(WORKER_ENTRY, {
      ...stackEnv(),
      ...WITH_DOUBLE,
      ...env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      PINPIPE_METRICS_PORT: String(await freePort()),
    });
    processes.push(p);
    workers.push(p);
    await waitForOutput(p, /pinpipe worker: task queue/, 240_000);
    return p;
  }

  async function runCase(c: FaultCase, log: string[]): Promise<void> {
    const pipelineId = randomPipelineId();
    const taskQueue = uniqueName(`aws-faults-${c.activity}`);
    log.push(`pipeline ${pipelineId}`);
    const workers: Spawned[] = [];
    try {
      await provisionUnderFault(c, pipelineId, taskQueue, workers, log);
    } catch (err) {
      // Nothing left behind in the shared moto: the run stopped, then torn down if it can be.
      await cleanUp(pipelineId, taskQueue, workers).catch((e: unknown) =>
        log.push(`cleanup failed: ${String(e)}`),
      );
      throw err;
    } finally {
      for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  }

  async function cleanUp(pipelineId: string, taskQueue: string, workers: Spawned[]) {
    await client.workflow
      .getHandle(`provision-${pipelineId}-aws-faults`)
      .terminate('test failed')
      .catch(() => undefined);
    // A stale secret is there before any inventory names it.
    await adapters.aws.secrets.deleteSecret(awsNames(pipelineId).sshKeySecret);
    if (!workers.some((w) => w.child.exitCode === null && w.child.signalCode === null))
      await worker(taskQueue, {}, workers);
    await within(
      client.workflow.execute(teardownPipeline, {
        taskQueue,
        workflowId: `cleanup-${pipelineId}-aws-faults`,
        args: [{ pipelineId, deleteData: true }],
      }),
      120_000,
      () => Promise.resolve('cleanup teardown stuck'),
    );
  }

  async function provisionUnderFault(
    c: FaultCase,
    pipelineId: string,
    taskQueue: string,
    workers: Spawned[],
    log: string[],
  ): Promise<void> {
    const started = Date.now();
    const stale = c.staleKeySecret ? await leaveStaleKeySecret(pipelineId) : undefined;
    const fault = await worker(
      taskQueue,
      {
        PINPIPE_FAULT_ACTIVITY: c.activity,
        ...(c.afterCall ? { PINPIPE_FAULT_AFTER_CALL: c.afterCall } : {}),
      },
      workers,
    );
    const handle = await client.workflow.start(provisionPipeline, {
      taskQueue,
      workflowId: `provision-${pipelineId}-aws-faults`,
      args: [awsProvisionInput(pipelineId, apiUrl)],
    });
    await within(fault.exited, 180_000, () => progressOf(handle, 'the fault worker never died'));
    assert.equal(fault.child.signalCode, 'SIGKILL', fault.output());
    assert.match(fault.output(), new RegExp(`fault-worker: ${c.activity} started`));
    if (c.afterCall) {
      assert.match(
        fault.output(),
        new RegExp(`fault-worker: ${c.afterCall.replace(/\./g, '\\.')} returned; SIGKILL now`),
        `the kill landed right after ${c.afterCall}`,
      );
    }
    log.push(`killed after ${Math.round((Date.now() - started) / 1000)} s`);

    const plain = await worker(taskQueue, {}, workers);
    let result: ProvisionResult;
    try {
      result = await within(handle.result(), 180_000, () => progressOf(handle, 'stuck'));
    } catch (err) {
      throw new Error(`${String(err)}\nworker output:\n${plain.output().slice(-3000)}`, {
        cause: err,
      });
    }
    log.push(`completed after ${Math.round((Date.now() - started) / 1000)} s`);
    assert.equal(result.status, 'completed');
    for (const s of result.steps)
      assert.ok(s.status === 'done' || s.status === 'skipped', `${s.step}: ${s.status}`);
    const hit = result.steps.find((s) => s.step === c.step)!;
    assert.ok(hit.attempt >= 2, `the kill cost ${c.step} an attempt (attempts: ${hit.attempt})`);

    const audit = await auditor.audit(pipelineId);
    assertOneOfEachWired(audit, pipelineId);
    await assertKeyStored(pipelineId);
    if (stale !== undefined)
      assert.notEqual(await auditor.secretValue(awsNames(pipelineId).sshKeySecret), stale);
    // What the killed attempt made is on the inventory teardown works from (owned, not adopted).
    const owned = new Set(result.inventory!.owned.map((e) => e.id));
    for (const id of [
      ...audit.securityGroups,
      ...audit.clusters,
      ...audit.restApis,
      ...audit.keyPairs,
      ...audit.roles,
      ...audit.secrets,
      audit.instances[0]!.id,
    ])
      assert.ok(owned.has(id), `${id} is owned: ${[...owned].join(', ')}`);

    const down = await within(
      client.workflow.execute(teardownPipeline, {
        taskQueue,
        workflowId: `teardown-${pipelineId}-aws-faults`,
        args: [{ pipelineId, deleteData: true }],
      }),
      120_000,
      () => Promise.resolve('teardown stuck'),
    );
    assert.equal(down.inventoryFound, true);
    assert.deepEqual(down.refused, []);
    assert.deepEqual(await auditor.audit(pipelineId), emptyAudit());
    log.push(`torn down after ${Math.round((Date.now() - started) / 1000)} s`);
  }

  /** The secret an earlier run stored, whose key pair is gone: returns the (stale) value. */
  async function leaveStaleKeySecret(pipelineId: string): Promise<string> {
    const { privateKey } = generateKeyPairSync('ed25519');
    const value = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await adapters.aws.secrets.createSecret({
      name: awsNames(pipelineId).sshKeySecret,
      value,
      description: 'the private key of a key pair deleted since',
      tags: awsTags(pipelineId, 'ssh'),
    });
    return value;
  }

  /** The secret holds the private key of the key pair EC2 has now (its public half matches). */
  async function assertKeyStored(pipelineId: string): Promise<void> {
    const names = awsNames(pipelineId);
    const key = await auditor.secretValue(names.sshKeySecret);
    assert.match(key ?? '', /PRIVATE KEY/);
    const pairs = await auditor.ec2.send(
      new DescribeKeyPairsCommand({ KeyNames: [names.keyPair], IncludePublicKey: true }),
    );
    assert.equal(pairs.KeyPairs?.length, 1);
    const publicKey = pairs.KeyPairs?.[0]?.PublicKey ?? '';
    assert.equal(
      opensshPublicBlob(key!),
      publicKey.split(' ')[1],
      'the stored private key belongs to the key pair EC2 has',
    );
  }

  for (const c of CASES) {
    it(`${c.activity}${c.afterCall ? ` (killed right after ${c.afterCall})` : ''}${c.staleKeySecret ? ', an old key in the secret' : ''}: one of each, then nothing after teardown`, async () => {
      const outcome = await outcomes.get(c)!;
      console.log(`      ${outcome.log.join(', ')}`);
      if (outcome.error !== undefined) throw outcome.error;
    });
  }
});

/** The public key blob (base64, as in `ssh-ed25519 AAAA…`) of an OpenSSH private key. */
function opensshPublicBlob(pem: string): string {
  const body = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  assert.equal(body.subarray(0, magic.length).toString('latin1'), magic, 'an OpenSSH private key');
  let offset = magic.length;
  const field = () => {
    const n = body.readUInt32BE(offset);
    const value = body.subarray(offset + 4, offset + 4 + n);
    offset += 4 + n;
    return value;
  };
  field(); // cipher
  field(); // kdf
  field(); // kdf options
  offset += 4; // number of keys
  return field().toString('base64');
}

async function progressOf(
  handle: WorkflowHandle<typeof provisionPipeline>,
  what: string,
): Promise<string> {
  const p = await handle.query(progressQuery).catch((err: unknown) => String(err));
  return `${what}: ${typeof p === 'string' ? p : JSON.stringify({ status: p.status, current: p.currentStep, steps: p.steps.filter((s) => s.status !== 'pending').map((s) => [s.step, s.status, s.attempt, s.error]) })}`;
}

async function within<T>(p: Promise<T>, ms: number, why: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void why().then((w) => reject(new Error(`timed out after ${ms / 1000} s: ${w}`)));
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

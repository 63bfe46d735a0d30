import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { PROVISION_STEPS, STEP_TITLES } from '../../src/domain/provision-steps';
import type { ProvisionProgress, ProvisionResult } from '../../src/workflows/provision-pipeline';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import {
  freePort,
  spawnEntry,
  startWorkerProcess,
  waitForOutput,
  type Spawned,
} from '../helpers/processes';
import { auditPipeline, fullyProvisioned, nothingLeft } from '../helpers/provision-audit';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/**
 * `pinpipe provision` / `provision status|retry` / `teardown` as real processes: a worker
 * process on its own task queue, the ingest API as the endpoint, the stack's Temporal, Kafka,
 * S3 and moto. Every claim about resources is checked against the services themselves.
 */
describe('pinpipe provision / teardown (CLI processes, real stack)', function () {
  this.timeout(300_000);
  const taskQueue = uniqueName('provision-cli');
  const env = { ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue };
  const healthy = randomPipelineId();
  const parked = randomPipelineId();
  /** Pipelines that may still have resources: cleaned up in `after` should a test fail. */
  const dirty = new Set([healthy, parked]);
  const adapters = createAdapters(stackConfig());
  let connection: Connection;
  let control: TemporalControl;
  let worker: Spawned;
  let api: Spawned;
  let apiUrl: string;
  let dir: string;
  let inputFile: string;

  before(async () => {
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    control = new TemporalControl(new Client({ connection }));
    const port = await freePort();
    api = spawnEntry('src/api/main.ts', { ...stackEnv(), PINPIPE_API_PORT: String(port) });
    await waitForOutput(api, /listening on/);
    apiUrl = `http://127.0.0.1:${port}`;
    worker = await startWorkerProcess(taskQueue);
    dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-provision-cli-'));
    inputFile = path.join(dir, 'input.json');
    // Idle ingestion batches rotate fast, so teardown's graceful stops return in seconds.
    await writeFile(inputFile, JSON.stringify({ ingestion: { rotateIntervalMs: 2000 } }));
  });

  after(async () => {
    for (const id of dirty) {
      await run(['provision', 'abort', '--pipeline', id]);
      await run(['teardown', '--pipeline', id, '--delete-data']);
    }
    worker?.child.kill('SIGTERM');
    api?.child.kill('SIGTERM');
    await Promise.all([worker?.exited, api?.exited]);
    await connection?.close();
    await adapters.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  interface Run {
    code: number | null;
    /** stdout and stderr as they interleaved. */
    out: string;
    /** stdout alone: where --json goes. */
    stdout: string;
  }

  async function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
    const cli = spawnEntry('src/cli/main.ts', { ...env, ...extraEnv }, args);
    let stdout = '';
    cli.child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await cli.exited;
    return { code, out: cli.output(), stdout };
  }

  const provisionArgs = (id: string, ...extra: string[]) => [
    'provision',
    '--pipeline',
    id,
    '--endpoint',
    apiUrl,
    '--input',
    inputFile,
    ...extra,
  ];

  const audit = (id: string) => auditPipeline(adapters, control, id);

  it('provisions a pipeline: exit 0, --json result completed, every resource there once', async () => {
    const r = await run(provisionArgs(healthy, '--json'));
    assert.equal(r.code, 0, r.out);
    const result = JSON.parse(r.stdout) as ProvisionResult;
    assert.equal(result.status, 'completed');
    assert.deepEqual(
      result.steps.map((s) => s.status),
      PROVISION_STEPS.map(() => 'done'),
    );
    assert.match(
      r.out,
      new RegExp(`provision-${healthy}: http://\\S+/workflows/provision-${healthy}`),
    );
    const a = await audit(healthy);
    assert.equal(a.instances.length, 1);
    assert.deepEqual({ ...a, instances: [] }, { ...fullyProvisioned(healthy), instances: [] });
  });

  it('--plan on the provisioned pipeline: every resource exists, shown as a table', async () => {
    const json = await run(provisionArgs(healthy, '--plan', '--json'));
    assert.equal(json.code, 0, json.out);
    const plan = JSON.parse(json.stdout) as ProvisionResult;
    assert.equal(plan.status, 'planned');
    assert.ok(plan.resources.length >= 10, JSON.stringify(plan.resources));
    assert.deepEqual(
      plan.resources.filter((x) => x.outcome !== 'exists'),
      [],
    );
    const text = await run(provisionArgs(healthy, '--plan'));
    assert.equal(text.code, 0, text.out);
    assert.match(text.stdout, /^step +kind +resource +outcome +detail$/m);
    assert.match(text.stdout, new RegExp(`^bucket +bucket +user-${healthy}-bucket +exists`, 'm'));
    assert.match(
      text.stdout,
      new RegExp(`pipeline ${healthy} planned: ${plan.resources.length} exists`),
    );
  });

  it('provision status shows the completed run and its checklist', async () => {
    const r = await run(['provision', 'status', '--pipeline', healthy]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`provision-${healthy}: COMPLETED`));
    assert.match(r.out, new RegExp(`Provisioning of pipeline ${healthy}: completed`));
    for (const step of PROVISION_STEPS) {
      assert.match(r.out, new RegExp(`^\\[x\\] ${STEP_TITLES[step]} +done +1/5`, 'm'));
    }
  });

  it('a bad AMI parks the run (exit 3, the retry hint); retry --set completes it', async () => {
    const bad = await run(provisionArgs(parked, '--image-id', 'ami-0000dead'));
    assert.equal(bad.code, 3, bad.out);
    assert.match(bad.out, /parked at step client-host/);
    assert.match(bad.out, /AMI ami-0000dead does not exist/);
    assert.match(
      bad.out,
      new RegExp(`pinpipe provision retry --pipeline ${parked} --set clientHost\\.imageId=ami-`),
    );
    assert.match(bad.out, new RegExp(`pinpipe provision abort --pipeline ${parked}`));
    assert.equal((await audit(parked)).instances.length, 0);

    const status = await run(['provision', 'status', '--pipeline', parked, '--json']);
    const parkedAt = JSON.parse(status.stdout) as { status: string; progress: ProvisionProgress };
    assert.equal(parkedAt.status, 'RUNNING', 'the run stays parked');
    assert.equal(parkedAt.progress.status, 'awaiting-correction');
    assert.equal(parkedAt.progress.currentStep, 'client-host');

    const refused = await run([
      'provision',
      'retry',
      '--pipeline',
      parked,
      '--set',
      'clientHost.imageId=nope',
    ]);
    assert.equal(refused.code, 2, refused.out);
    assert.match(refused.out, /invalid correction: clientHost\.imageId/);

    const fixed = await run([
      'provision',
      'retry',
      '--pipeline',
      parked,
      '--step',
      'client-host',
      '--set',
      'clientHost.imageId=ami-03c3da4cfa8e8943a',
      '--json',
    ]);
    assert.equal(fixed.code, 0, fixed.out);
    const result = JSON.parse(fixed.stdout) as ProvisionResult;
    assert.equal(result.status, 'completed');
    assert.match(
      result.resources.find((x) => x.kind === 'instance')?.detail ?? '',
      /ami-03c3da4cfa8e8943a/,
    );
    const a = await audit(parked);
    assert.equal(a.instances.length, 1);
    assert.deepEqual({ ...a, instances: [] }, { ...fullyProvisioned(parked), instances: [] });
  });

  it('teardown --delete-data leaves nothing of either pipeline', async () => {
    for (const id of [healthy, parked]) {
      const r = await run(['teardown', '--pipeline', id, '--delete-data']);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, new RegExp(`^bucket +user-${id}-bucket +deleted$`, 'm'));
      assert.deepEqual(await audit(id), nothingLeft(id));
      dirty.delete(id);
    }
  });

  it('an invalid --pipeline exits 2 naming the field, before contacting Temporal', async () => {
    // Nothing listens on port 1: had the command tried Temporal, it would fail another way.
    const nowhere = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    for (const args of [
      ['provision', '--pipeline', 'NOTHEX'],
      ['provision', 'status', '--pipeline', 'NOTHEX'],
      ['teardown', '--pipeline', 'NOTHEX'],
    ]) {
      const r = await run(args, nowhere);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
      assert.match(r.out, /pipelineId: expected 12 lowercase hex characters/);
    }
    const r = await run(
      ['provision', '--pipeline', randomPipelineId(), '--partitions', '0'],
      nowhere,
    );
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /topics\.partitions: /);
  });
});

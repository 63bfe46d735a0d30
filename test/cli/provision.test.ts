import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import { TemporalControl } from '../../src/adapters/temporal-control';
import { INVENTORY_KEY } from '../../src/domain/inventory';
import { AWS_ONLY_STEPS, PROVISION_STEPS, STEP_TITLES } from '../../src/domain/provision-steps';
import { bucketFor, topicFor } from '../../src/domain/tables';
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
import { repoRoot, stackConfig, stackEnv, uniqueName } from '../helpers/stack';

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
  /** Another pipeline's topic, named in `parked`'s inventory by hand. */
  const foreignTopic = topicFor(randomPipelineId(), 'pin');
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
      await run(['teardown', '--pipeline', id, '--delete-data', '--yes']);
    }
    await adapters.kafka.deleteTopics([foreignTopic]).catch(() => undefined);
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
    // The local target skips the aws target's own steps.
    assert.deepEqual(
      result.steps.map((s) => s.status),
      PROVISION_STEPS.map((s) => (AWS_ONLY_STEPS.has(s) ? 'skipped' : 'done')),
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
      const title = STEP_TITLES[step].replace(/[()]/g, '\\$&');
      const line = AWS_ONLY_STEPS.has(step)
        ? `^\\[-\\] ${title} +skipped +aws target only$`
        : `^\\[x\\] ${title} +done +1/5`;
      assert.match(r.out, new RegExp(line, 'm'));
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

  /**
   * `pinpipe <args>` on a terminal (util-linux `script` gives it a pty): `answer` is typed once
   * the confirmation prompt shows. stdout and stderr arrive merged, as on a terminal.
   */
  async function runOnTerminal(args: string[], answer: string): Promise<Run> {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, '--require', 'tsx/cjs', 'src/cli/main.ts', ...args]
      .map(quote)
      .join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: repoRoot,
      env: { ...env, NODE_NO_WARNINGS: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let typed = false;
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!typed && /Type the pipeline id/.test(out)) {
        typed = true;
        child.stdin.write(`${answer}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.destroy();
    return { code, out, stdout: out };
  }

  const hasScript = spawnSync('script', ['--version']).status === 0;

  it('teardown --delete-data without a terminal and without --yes refuses, removing nothing', async () => {
    const r = await run(['teardown', '--pipeline', healthy, '--delete-data']);
    assert.equal(r.code, 2, r.out);
    assert.match(
      r.out,
      new RegExp(
        `--delete-data deletes the topics and empties the bucket user-${healthy}-bucket of pipeline ${healthy}; without a terminal to confirm on, pass --yes as well`,
      ),
    );
    const a = await audit(healthy);
    assert.deepEqual({ ...a, instances: [] }, { ...fullyProvisioned(healthy), instances: [] });
    assert.equal(a.instances.length, 1);
  });

  it('teardown --delete-data on a terminal asks: another answer removes nothing, the pipeline id proceeds', async function () {
    if (!hasScript) this.skip(); // no `script` (util-linux) to give the command a terminal
    const no = await runOnTerminal(['teardown', '--pipeline', healthy, '--delete-data'], 'yes');
    assert.equal(no.code, 1, no.out);
    assert.match(no.out, new RegExp(`deletes the topics ${healthy}\\.pin, ${healthy}\\.geo`));
    assert.match(no.out, /not confirmed; nothing was removed/);
    const a = await audit(healthy);
    assert.deepEqual({ ...a, instances: [] }, { ...fullyProvisioned(healthy), instances: [] });

    const yes = await runOnTerminal(['teardown', '--pipeline', healthy, '--delete-data'], healthy);
    assert.equal(yes.code, 0, yes.out);
    assert.match(yes.out, new RegExp(`bucket +user-${healthy}-bucket +deleted`));
    assert.deepEqual(await audit(healthy), nothingLeft(healthy));
    dirty.delete(healthy);
  });

  it('teardown --delete-data --yes proceeds without asking; a foreign topic in the inventory is refused (exit 1)', async () => {
    // The inventory edited by hand to name another pipeline's topic.
    await adapters.kafka.ensureTopics([{ name: foreignTopic, partitions: 1 }]);
    const bucket = bucketFor(parked);
    const bytes = await adapters.store.get({ bucket, key: INVENTORY_KEY });
    const inventory = JSON.parse(Buffer.from(bytes!).toString('utf8')) as { owned: unknown[] };
    inventory.owned.push({ kind: 'topic', id: foreignTopic });
    await adapters.store.put({ bucket, key: INVENTORY_KEY, body: JSON.stringify(inventory) });

    const r = await run(['teardown', '--pipeline', parked, '--delete-data', '--yes']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.stdout, new RegExp(`^bucket +user-${parked}-bucket +deleted$`, 'm'));
    assert.match(r.stdout, new RegExp(`^topic +${foreignTopic.replace('.', '\\.')} +refused`, 'm'));
    assert.match(
      r.out,
      new RegExp(
        `refused: topic ${foreignTopic.replace('.', '\\.')} is not named ${parked}\\.<table>`,
      ),
    );
    assert.equal(await adapters.kafka.partitionCount(foreignTopic), 1, 'the foreign topic stays');
    assert.deepEqual(await audit(parked), nothingLeft(parked));
    dirty.delete(parked);
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

import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { createAdapters } from '../../src/adapters/create-adapters';
import { bucketFor } from '../../src/domain/tables';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { spawnEntry, startWorkerProcess, type Spawned } from '../helpers/processes';
import { stackConfig, stackEnv, uniqueName } from '../helpers/stack';

/** `pinpipe schedule apply` on the stack's Temporal server, three times, then a triggered run. */
describe('pinpipe schedule apply / trigger', function () {
  this.timeout(180_000);
  const pipelineId = randomPipelineId();
  const taskQueue = uniqueName('schedule-test');
  const env = { ...stackEnv(), TEMPORAL_TASK_QUEUE: taskQueue, PINPIPE_PIPELINE_ID: pipelineId };
  let worker: Spawned;
  let connection: Connection;
  let client: Client;
  const adapters = createAdapters(stackConfig());

  before(async () => {
    await adapters.store.ensureBucket(bucketFor(pipelineId));
    worker = await startWorkerProcess(taskQueue, env);
    connection = await Connection.connect(stackConfig().temporal.connect.connectionOptions);
    client = new Client({ connection });
  });

  after(async () => {
    await client?.schedule
      .getHandle(`nightly-${pipelineId}`)
      .delete()
      .catch(() => undefined);
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await connection?.close();
    await adapters.close();
  });

  async function run(args: string[]): Promise<{ code: number | null; out: string }> {
    const cli = spawnEntry('src/cli/main.ts', env, args);
    const code = await cli.exited;
    return { code, out: cli.output() };
  }

  it('creates the schedule, updates it in place, then leaves it unchanged', async () => {
    const first = await run(['schedule', 'apply', '--cron', '0 3 * * *']);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /: created \(0 3 \* \* \* UTC\)/);
    const second = await run(['schedule', 'apply']);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /: updated \(0 2 \* \* \* UTC\)/);
    const third = await run(['schedule', 'apply']);
    assert.equal(third.code, 0, third.out);
    assert.match(third.out, /: unchanged \(0 2 \* \* \* UTC\)/);
    const description = await client.schedule.getHandle(`nightly-${pipelineId}`).describe();
    assert.equal(
      description.spec.calendars?.[0]?.hour?.[0]?.start,
      2,
      'the default 02:00 after the update',
    );
    assert.equal(description.action.type, 'startWorkflow');
    assert.equal(description.policies.overlap, 'BUFFER_ONE');
  });

  it('a triggered run processes the day before its nominal time and completes', async () => {
    const handle = client.schedule.getHandle(`nightly-${pipelineId}`);
    const triggered = await run(['schedule', 'trigger']);
    assert.equal(triggered.code, 0, triggered.out);
    let runId: string | undefined;
    let workflowId: string | undefined;
    for (let i = 0; i < 100 && !workflowId; i++) {
      const d = await handle.describe();
      const action = d.info.recentActions[0]?.action;
      if (action) {
        workflowId = action.workflow.workflowId;
        runId = action.workflow.firstExecutionRunId;
      } else await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(workflowId, 'the trigger started a workflow');
    const result = (await client.workflow.getHandle(workflowId, runId).result()) as {
      date: string;
    };
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    assert.equal(result.date, yesterday);
  });
});

import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { rootMessage } from '../../workflows/failure-message';
import { teardownPipeline, type TeardownResult } from '../../workflows/teardown-pipeline';
import { connectTemporal, webUiLink } from '../temporal-client';
import { formatTextTable } from '../text-table';
import { EXIT_FAILED, configOrUsage, pipelineIdOrUsage } from '../usage';
import { provisionWorkflowId, teardownWorkflowId } from '../../domain/workflow-ids';

export function registerTeardownCommand(program: Command): void {
  program
    .command('teardown')
    .description(
      'undo provisioning from its inventory: ingestion stopped, schedule deleted, client host ' +
        'terminated; topics and bucket only with --delete-data',
    )
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--delete-data', 'also delete the topics and the bucket with everything in it')
    .option('--json', 'print the result as JSON on stdout')
    .action((flags: { pipeline?: string; deleteData?: boolean; json?: boolean }) =>
      teardownAction(flags),
    );
}

async function teardownAction(flags: {
  pipeline?: string;
  deleteData?: boolean;
  json?: boolean;
}): Promise<void> {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flags.pipeline, config);
  if (!config || !pipelineId) return;
  const workflowId = teardownWorkflowId(pipelineId);
  const { client, close } = await connectTemporal(config);
  try {
    // Tearing down under a live provisioning run would race it: it may create what we delete.
    const provisioning = await client.workflow
      .getHandle(provisionWorkflowId(pipelineId))
      .describe()
      .catch(() => undefined);
    if (provisioning?.status.name === 'RUNNING') {
      console.error(
        `pinpipe teardown: ${provisionWorkflowId(pipelineId)} is still running; let it finish, or ` +
          `\`pinpipe provision abort --pipeline ${pipelineId}\` if it is parked`,
      );
      process.exitCode = EXIT_FAILED;
      return;
    }
    let result: TeardownResult;
    try {
      const handle = await client.workflow.start(teardownPipeline, {
        taskQueue: config.temporal.taskQueue,
        workflowId,
        args: [{ pipelineId, deleteData: Boolean(flags.deleteData) }],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      console.error(`${workflowId}: ${webUiLink(config, workflowId)}`);
      result = await handle.result();
    } catch (err) {
      const message =
        err instanceof WorkflowExecutionAlreadyStartedError
          ? `${workflowId} is already running (${webUiLink(config, workflowId)})`
          : rootMessage(err);
      console.error(`pinpipe teardown: ${message}`);
      process.exitCode = EXIT_FAILED;
      return;
    }
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    else console.log(teardownText(result));
  } finally {
    await close();
  }
}

function teardownText(r: TeardownResult): string {
  const rows = [
    ...r.removed.map((x) => ({ kind: x.kind, resource: x.id, result: x.result })),
    ...r.kept.map((x) => ({ kind: x.kind, resource: x.id, result: 'kept (holds data)' })),
  ];
  return [
    ...(r.inventoryFound ? [] : [`no inventory for pipeline ${r.pipelineId}: nothing on record`]),
    ...(rows.length ? [formatTextTable(['kind', 'resource', 'result'], rows)] : []),
    ...(r.sweptInstances.length
      ? [`terminated client hosts not in the inventory: ${r.sweptInstances.join(', ')}`]
      : []),
    ...(r.kept.length
      ? [`kept data stays on record: pinpipe teardown --delete-data --pipeline ${r.pipelineId}`]
      : []),
  ].join('\n');
}

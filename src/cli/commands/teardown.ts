import { createInterface } from 'node:readline/promises';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Command } from 'commander';
import { rootMessage } from '../../workflows/failure-message';
import { teardownPipeline, type TeardownResult } from '../../workflows/teardown-pipeline';
import { connectTemporal, webUiLink } from '../temporal-client';
import { formatTextTable } from '../text-table';
import { EXIT_FAILED, configOrUsage, pipelineIdOrUsage, usage } from '../usage';
import { TABLES, bucketFor, topicFor } from '../../domain/tables';
import { provisionWorkflowId, teardownWorkflowId } from '../../domain/workflow-ids';

interface TeardownFlags {
  pipeline?: string;
  deleteData?: boolean;
  yes?: boolean;
  includeAdopted?: string[];
  json?: boolean;
}

export function registerTeardownCommand(program: Command): void {
  program
    .command('teardown')
    .description(
      "undo provisioning from its inventory, removing only what is provably the pipeline's own: " +
        'ingestion stopped, schedule deleted, client host terminated; topics and bucket only ' +
        'with --delete-data; resources there before provisioning (adopted) only when named',
    )
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option(
      '--delete-data',
      'also delete the topics and empty and delete the bucket (asks on a terminal; --yes elsewhere)',
    )
    .option('--yes', 'confirm --delete-data without asking (scripts, CI: no terminal to ask on)')
    .option(
      '--include-adopted <name>',
      'also remove this adopted resource (one found there by provisioning), by its name; ' +
        'repeatable; a topic or bucket needs --delete-data too',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--json', 'print the result as JSON on stdout')
    .addHelpText(
      'after',
      [
        '',
        'A resource the inventory names is removed only if its own tag (an instance, a bucket',
        'under another name: pinpipe:pipeline=<id>) or its name (<id>.<table>, user-<id>-bucket)',
        "proves it is the pipeline's; otherwise it is refused, with the reason (exit status 1).",
        '',
      ].join('\n'),
    )
    .action((flags: TeardownFlags) => teardownAction(flags));
}

async function teardownAction(flags: TeardownFlags): Promise<void> {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flags.pipeline, config);
  if (!config || !pipelineId) return;
  const includeAdopted = flags.includeAdopted ?? [];
  if (flags.deleteData && !flags.yes) {
    // Deleting data cannot be undone: a person confirms it on a terminal; anything else (a
    // script, CI, a pipe) must say --yes, so a default pipeline id never deletes by surprise.
    if (!process.stdin.isTTY) {
      return usage(
        `--delete-data deletes the topics and empties the bucket ${bucketFor(pipelineId)} of pipeline ` +
          `${pipelineId}; without a terminal to confirm on, pass --yes as well`,
      );
    }
    if (!(await confirmDeleteData(pipelineId, includeAdopted))) {
      console.error('pinpipe teardown: not confirmed; nothing was removed');
      process.exitCode = EXIT_FAILED;
      return;
    }
  }
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
        args: [
          {
            pipelineId,
            deleteData: Boolean(flags.deleteData),
            ...(includeAdopted.length ? { includeAdopted } : {}),
          },
        ],
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
    else console.log(teardownText(result, includeAdopted));
    // Refusals mean the inventory names what is not the pipeline's: a person should look.
    if (result.refused.length > 0 || result.unmatched.length > 0) {
      for (const r of result.refused) console.error(`pinpipe teardown: refused: ${r.reason}`);
      for (const n of result.unmatched) {
        console.error(
          `pinpipe teardown: --include-adopted ${n}: the inventory holds no such resource`,
        );
      }
      process.exitCode = EXIT_FAILED;
    }
  } finally {
    await close();
  }
}

/** Asks on the terminal; the pipeline id must be typed back (the default id may surprise). */
async function confirmDeleteData(pipelineId: string, named: readonly string[]): Promise<boolean> {
  const topics = TABLES.map((t) => topicFor(pipelineId, t)).join(', ');
  const also = named.length ? `, and the adopted ${named.join(', ')}` : '';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(
      `--delete-data deletes the topics ${topics} and empties and deletes the bucket ` +
        `${bucketFor(pipelineId)}, as far as the inventory holds them as the pipeline's own${also}.\n` +
        `Type the pipeline id (${pipelineId}) to delete its data: `,
    );
    return answer.trim() === pipelineId;
  } catch {
    // Ctrl-D (end of input) before an answer: not confirmed.
    return false;
  } finally {
    rl.close();
  }
}

function teardownText(r: TeardownResult, named: readonly string[]): string {
  const isNamed = (id: string, kind: string) =>
    named.includes(id) || named.includes(`${kind}:${id}`);
  const rows = [
    ...r.removed.map((x) => ({ kind: x.kind, resource: x.id, result: x.result })),
    ...r.kept.map((x) => ({ kind: x.kind, resource: x.id, result: 'kept (holds data)' })),
    ...r.adopted.map((x) => ({
      kind: x.kind,
      resource: x.id,
      result: isNamed(x.id, x.kind) ? 'adopted, kept (holds data)' : 'adopted, left alone',
    })),
    ...r.refused.map((x) => ({ kind: x.kind, resource: x.id, result: 'refused (not its own)' })),
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
    ...(r.adopted.length
      ? [
          `adopted resources were there before provisioning and stay; to remove one: ` +
            `pinpipe teardown --delete-data --include-adopted <name> --pipeline ${r.pipelineId}`,
        ]
      : []),
  ].join('\n');
}

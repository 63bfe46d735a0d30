import { readFile } from 'node:fs/promises';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { Option, type Command } from 'commander';
import {
  mergeCorrection,
  parseProvisionInput,
  type ProvisionInput,
} from '../../domain/provision-input';
import { createdByRun, isProvisionStep, PROVISION_STEPS } from '../../domain/provision-steps';
import {
  abortUpdate,
  progressQuery,
  provisionPipeline,
  retryStepUpdate,
  type RetryStepRequest,
} from '../../workflows/provision-pipeline';
import {
  awsAccessLines,
  buildSettings,
  checklistLines,
  isObject,
  outcomeCounts,
  parkedHint,
  resourceRows,
  setPath,
  type JsonObject,
} from '../provision-render';
import { QUERY_TIMEOUT_MS, follow, type Followed, type ProvisionHandle } from '../provision-follow';
import { connectTemporal, webUiLink } from '../temporal-client';
import { formatTextTable } from '../text-table';
import {
  EXIT_FAILED,
  EXIT_PARKED,
  EXIT_USAGE,
  configOrUsage,
  pipelineIdOrUsage,
  usage,
} from '../usage';
import { rootMessage } from '../../workflows/failure-message';
import { planWorkflowId, provisionWorkflowId } from '../../domain/workflow-ids';

export interface ProvisionFlags {
  pipeline?: string;
  plan?: boolean;
  target?: string;
  region?: string;
  endpoint?: string;
  imageId?: string;
  instanceType?: string;
  partitions?: string;
  cron?: string;
  schedule: boolean;
  ingestion: boolean;
  input?: string;
  kafkaMode?: 'create' | 'adopt' | 'brokers';
  clusterArn?: string;
  brokers?: string;
  sshCidr?: string;
  appSource?: string;
  temporalAddress?: string;
  apiGateway: boolean;
  wait: boolean;
  json?: boolean;
}

interface FollowFlags {
  pipeline?: string;
  wait: boolean;
  json?: boolean;
}

export function registerProvisionCommands(program: Command): void {
  const provision = program
    .command('provision')
    .description(
      'set a pipeline up (bucket, topics, EC2 client host, endpoint, ingestion, schedule) as one ' +
        'visible, resumable workflow; a step that keeps failing parks the run for a correction',
    )
    .addHelpText(
      'after',
      '\n`provision [options]` runs `provision apply`: see `pinpipe provision apply --help`.\n' +
        'Exit status: 0 completed or planned, 1 failed or aborted, 2 invalid input, ' +
        '3 parked in awaiting-correction (see `provision retry` / `provision abort`).',
    );
  // The run itself is the default subcommand, so `provision status --pipeline x` reaches
  // `status` instead of being swallowed by options the parent would otherwise define too.
  provision
    .command('apply', { isDefault: true })
    .description(
      '(default) start, or follow the running, provision-<id> workflow and show its checklist',
    )
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--plan', 'change nothing: report create / exists / differs per resource')
    .option('--target <target>', 'local (the local stack, moto for EC2) or aws')
    .option('--region <region>', 'AWS region, e.g. us-east-1')
    .option('--endpoint <url>', 'the ingest API base URL to check (/healthz)')
    .option('--image-id <ami>', 'AMI of the client host (default: newest Amazon Linux 2023)')
    .option('--instance-type <type>', 'instance type of the client host, e.g. t3.micro')
    .option('--partitions <n>', 'partitions per topic')
    .option('--cron <expr>', 'nightly schedule (cron, 5 fields)')
    .option('--no-schedule', 'do not create the nightly schedule')
    .option('--no-ingestion', 'do not start the ingestion workflows')
    .option('--input <file>', 'a JSON ProvisionInput to start from; flags override it')
    .option(
      '--brokers <host:port,...>',
      "the client host's Kafka brokers (aws: implies --kafka-mode brokers)",
    )
    .addOption(
      new Option(
        '--kafka-mode <mode>',
        'aws: create an MSK cluster, adopt one, or use --brokers',
      ).choices(['create', 'adopt', 'brokers']),
    )
    .option('--cluster-arn <arn>', 'aws: the MSK cluster to adopt (implies --kafka-mode adopt)')
    .option('--ssh-cidr <cidr>', 'aws: allow SSH to the client host from this CIDR (default: none)')
    .option('--app-source <url>', 'aws: s3:// or https:// URL of the app tarball the host installs')
    .option(
      '--temporal-address <host:port>',
      "aws: Temporal for the host's worker (default: API only)",
    )
    .option('--no-api-gateway', 'aws: no API Gateway proxy in front of the host')
    .option('--no-wait', 'print the workflow id and link, do not follow the run')
    .option('--json', 'print the result (or the parked progress) as JSON on stdout')
    .action((flags: ProvisionFlags) => provisionAction(flags));

  provision
    .command('status')
    .description("the provisioning run's checklist and workflow status (open or closed runs)")
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--json', 'print {workflowId, status, progress} as JSON')
    .action((flags: { pipeline?: string; json?: boolean }) => statusAction(flags));

  provision
    .command('retry')
    .description('retry the parked step, optionally with corrected settings, and follow the run')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--step <step>', `the parked step, checked (${PROVISION_STEPS.join('|')})`)
    .option(
      '--set <key.path=value>',
      'a corrected setting, e.g. clientHost.imageId=ami-…; repeatable; values parse as JSON when they can',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--settings <json>', 'corrections as one JSON object (--set pairs apply on top)')
    .option('--no-wait', 'return once the retry is accepted')
    .option('--json', 'print the result (or the parked progress) as JSON on stdout')
    .action((flags: FollowFlags & { step?: string; set: string[]; settings?: string }) =>
      retryAction(flags),
    );

  provision
    .command('abort')
    .description('give up on a parked run: remove what it created, newest first')
    .option('--pipeline <id>', 'pipeline id (default PINPIPE_PIPELINE_ID)')
    .option('--json', 'print the result as JSON on stdout')
    .action((flags: { pipeline?: string; json?: boolean }) => abortAction(flags));
}

async function provisionAction(flags: ProvisionFlags): Promise<void> {
  const config = configOrUsage();
  if (!config) return;
  // Checked apart from the rest of the input so that the message names the flag.
  if (flags.pipeline !== undefined && !pipelineIdOrUsage(flags.pipeline, config)) return;
  let input: JsonObject;
  try {
    input = await provisionInputFrom(flags, config.pipelineId);
  } catch (err) {
    return usage((err as Error).message);
  }
  // Validated here too so a typo fails at once, before a workflow exists.
  const parsed = parseProvisionInput(input);
  if (!parsed.ok) return usage(`invalid input: ${parsed.reason}`);
  const { pipelineId, mode, target } = parsed.settings;
  const ignored = target === 'aws' ? [] : awsOnlyFlags(flags);
  if (ignored.length > 0) {
    console.error(
      `pinpipe: ${ignored.join(', ')}: for --target aws only; ignored (target ${target})`,
    );
  }
  const workflowId = mode === 'plan' ? planWorkflowId(pipelineId) : provisionWorkflowId(pipelineId);
  const { client, close } = await connectTemporal(config);
  try {
    const running = await client.workflow
      .getHandle(workflowId)
      .describe()
      .then((d) => d.status.name === 'RUNNING')
      .catch(() => false);
    const handle = await client.workflow.start(provisionPipeline, {
      taskQueue: config.temporal.taskQueue,
      workflowId,
      args: [input as ProvisionInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    if (running) {
      console.error(
        `${workflowId} is already running: following it (it keeps its own settings; these flags do not apply)`,
      );
    }
    console.error(`${workflowId}: ${webUiLink(config, workflowId)}`);
    if (!flags.wait) {
      if (flags.json) {
        const url = webUiLink(config, workflowId);
        console.log(JSON.stringify({ workflowId, runId: handle.firstExecutionRunId, url }));
      }
      return;
    }
    process.exitCode = report(await follow(client, handle, config), flags.json, false);
  } finally {
    await close();
  }
}

/** The `--input` file as the base, each flag given on top (objects merge, scalars replace). */
export async function provisionInputFrom(
  flags: ProvisionFlags,
  defaultId: string,
): Promise<JsonObject> {
  let base: unknown = {};
  if (flags.input !== undefined) {
    try {
      base = JSON.parse(await readFile(flags.input, 'utf8'));
    } catch (err) {
      throw new Error(`--input ${flags.input}: ${(err as Error).message}`, { cause: err });
    }
    if (!isObject(base)) throw new Error(`--input ${flags.input}: expected a JSON object`);
  }
  const over: JsonObject = {};
  const set = (path: string, value: unknown) => value !== undefined && setPath(over, path, value);
  set('pipelineId', flags.pipeline);
  set('mode', flags.plan ? 'plan' : undefined);
  set('target', flags.target);
  set('region', flags.region);
  set('endpoint.url', flags.endpoint);
  set('clientHost.imageId', flags.imageId);
  set('clientHost.instanceType', flags.instanceType);
  // A number when it looks like one; anything else goes to the schema, which names the field.
  const partitions = flags.partitions;
  set(
    'topics.partitions',
    partitions && /^\s*-?\d+\s*$/.test(partitions) ? Number(partitions) : partitions,
  );
  set('schedule.cron', flags.cron);
  // --no-x only ever turns a step off; without it, the --input file decides.
  set('schedule.enabled', flags.schedule === false ? false : undefined);
  set('ingestion.start', flags.ingestion === false ? false : undefined);
  set('clientHost.kafkaBrokers', flags.brokers);
  const target = flags.target ?? (isObject(base) ? base.target : undefined);
  set('aws.kafka.mode', kafkaModeOf(flags, target));
  set('aws.kafka.clusterArn', flags.clusterArn);
  set('aws.sshCidr', flags.sshCidr);
  set('aws.appSource', flags.appSource);
  set('aws.temporalAddress', flags.temporalAddress);
  set('aws.apiGateway.enabled', flags.apiGateway === false ? false : undefined);
  const merged = mergeCorrection(base as ProvisionInput, over) as JsonObject;
  return merged.pipelineId === undefined ? { ...merged, pipelineId: defaultId } : merged;
}

/**
 * `aws.kafka.mode` from the flags: as given, else implied by --cluster-arn (adopt) or, on the
 * aws target, by --brokers (brokers); undefined leaves it to the --input file. Flags that
 * contradict each other are refused rather than one silently winning.
 */
function kafkaModeOf(flags: ProvisionFlags, target: unknown): string | undefined {
  const { kafkaMode, clusterArn, brokers } = flags;
  if (clusterArn !== undefined && kafkaMode !== undefined && kafkaMode !== 'adopt') {
    throw new Error(`--cluster-arn adopts a cluster: it cannot go with --kafka-mode ${kafkaMode}`);
  }
  const aws = target === 'aws';
  if (aws && brokers !== undefined && clusterArn !== undefined) {
    throw new Error(
      '--brokers and --cluster-arn: use the given brokers or adopt a cluster, not both',
    );
  }
  if (aws && brokers !== undefined && kafkaMode !== undefined && kafkaMode !== 'brokers') {
    throw new Error(
      `--brokers uses those brokers instead of MSK: it cannot go with --kafka-mode ${kafkaMode}`,
    );
  }
  if (kafkaMode !== undefined) return kafkaMode;
  if (clusterArn !== undefined) return 'adopt';
  return aws && brokers !== undefined ? 'brokers' : undefined;
}

/** The aws-only flags given for another target, which ignores them. */
function awsOnlyFlags(flags: ProvisionFlags): string[] {
  return [
    flags.kafkaMode !== undefined && '--kafka-mode',
    flags.clusterArn !== undefined && '--cluster-arn',
    flags.sshCidr !== undefined && '--ssh-cidr',
    flags.appSource !== undefined && '--app-source',
    flags.temporalAddress !== undefined && '--temporal-address',
    flags.apiGateway === false && '--no-api-gateway',
  ].filter((f): f is string => f !== false);
}

async function statusAction(flags: { pipeline?: string; json?: boolean }): Promise<void> {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flags.pipeline, config);
  if (!config || !pipelineId) return;
  const workflowId = provisionWorkflowId(pipelineId);
  const { client, close } = await connectTemporal(config);
  try {
    const handle = client.workflow.getHandle<typeof provisionPipeline>(workflowId);
    const description = await handle.describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (!description) {
      console.error(`no provisioning run for pipeline ${pipelineId} (${workflowId})`);
      process.exitCode = EXIT_FAILED;
      return;
    }
    // A closed run answers queries too, as long as a worker is up; without one, status only.
    let queryError: string | undefined;
    const progress = await client
      .withDeadline(Date.now() + QUERY_TIMEOUT_MS, () => handle.query(progressQuery))
      .catch((err: unknown) => void (queryError = rootMessage(err)));
    const status = description.status.name;
    if (flags.json) {
      const runId = description.runId;
      console.log(JSON.stringify({ workflowId, runId, status, progress }, null, 2));
      return;
    }
    console.log(`${workflowId}: ${status} (${webUiLink(config, workflowId)})`);
    if (!progress) {
      console.log(
        `no checklist: the progress query failed (${queryError}); is a worker polling task queue ${config.temporal.taskQueue}?`,
      );
      return;
    }
    for (const line of checklistLines(progress)) console.log(line);
    if (progress.status === 'awaiting-correction') {
      for (const line of parkedHint(progress)) console.log(line);
    }
  } finally {
    await close();
  }
}

async function retryAction(
  flags: FollowFlags & { step?: string; set: string[]; settings?: string },
): Promise<void> {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flags.pipeline, config);
  if (!config || !pipelineId) return;
  if (flags.step !== undefined && !isProvisionStep(flags.step)) {
    return usage(`--step: expected one of ${PROVISION_STEPS.join(', ')}, got ${flags.step}`);
  }
  let settings: JsonObject;
  try {
    settings = buildSettings(flags.set, flags.settings);
  } catch (err) {
    return usage((err as Error).message);
  }
  const request: RetryStepRequest = {
    ...(flags.step !== undefined && isProvisionStep(flags.step) ? { step: flags.step } : {}),
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
  };
  const { client, close } = await connectTemporal(config);
  try {
    const handle = client.workflow.getHandle<typeof provisionPipeline>(
      provisionWorkflowId(pipelineId),
    );
    let step: string;
    try {
      ({ step } = await handle.executeUpdate(retryStepUpdate, { args: [request] }));
    } catch (err) {
      const message = await rejection(handle, err, 'retry');
      // A correction the workflow's validator refused is the caller's input: as for provision.
      process.exitCode = /^(invalid correction|pipelineId cannot)/.test(message)
        ? EXIT_USAGE
        : EXIT_FAILED;
      console.error(`pinpipe provision retry: ${message}`);
      return;
    }
    const wth = request.settings ? ` with ${JSON.stringify(request.settings)}` : '';
    console.error(`retrying step ${step}${wth}: ${webUiLink(config, handle.workflowId)}`);
    if (!flags.wait) return;
    process.exitCode = report(await follow(client, handle, config), flags.json, false);
  } finally {
    await close();
  }
}

async function abortAction(flags: { pipeline?: string; json?: boolean }): Promise<void> {
  const config = configOrUsage();
  const pipelineId = config && pipelineIdOrUsage(flags.pipeline, config);
  if (!config || !pipelineId) return;
  const { client, close } = await connectTemporal(config);
  try {
    const handle = client.workflow.getHandle<typeof provisionPipeline>(
      provisionWorkflowId(pipelineId),
    );
    let removing: number;
    try {
      ({ removing } = await handle.executeUpdate(abortUpdate));
    } catch (err) {
      console.error(`pinpipe provision abort: ${await rejection(handle, err, 'abort')}`);
      process.exitCode = EXIT_FAILED;
      return;
    }
    console.error(`aborting ${handle.workflowId}: removing ${removing} resources it created`);
    process.exitCode = report(await follow(client, handle, config), flags.json, true);
  } finally {
    await close();
  }
}

/** Prints how a followed run ended and returns the exit code. */
function report(f: Followed, json: boolean | undefined, aborting: boolean): number {
  if (f.kind === 'failed') {
    if (json)
      console.log(JSON.stringify({ workflowId: f.workflowId, status: 'failed', error: f.message }));
    console.error(`${f.workflowId} failed: ${f.message}`);
    return EXIT_FAILED;
  }
  if (f.kind === 'parked') {
    if (json) console.log(JSON.stringify(f.progress, null, 2));
    for (const line of parkedHint(f.progress)) console.error(line);
    return EXIT_PARKED;
  }
  const r = f.result;
  if (json) console.log(JSON.stringify(r, null, 2));
  else if (r.status === 'aborted') {
    const removed = createdByRun(r.steps);
    console.log(`aborted; removed ${removed.length} resources the run had created:`);
    for (const x of removed) console.log(`  ${x.kind} ${x.id}`);
  } else {
    console.log(
      formatTextTable(['step', 'kind', 'resource', 'outcome', 'detail'], resourceRows(r.steps)),
    );
    console.log(`pipeline ${r.pipelineId} ${r.status}: ${outcomeCounts(r.resources)}`);
    for (const line of awsAccessLines(r)) console.error(line);
  }
  if (r.status === 'aborted') return aborting ? 0 : EXIT_FAILED;
  return 0;
}

/** Why an update was refused, in words: not found and closed runs are told apart. */
async function rejection(handle: ProvisionHandle, err: unknown, what: string): Promise<string> {
  if (err instanceof WorkflowUpdateFailedError) return rootMessage(err);
  if (!(err instanceof WorkflowNotFoundError)) throw err;
  const d = await handle.describe().catch(() => undefined);
  return d
    ? `${handle.workflowId} is ${d.status.name}: nothing to ${what}`
    : `no provisioning run ${handle.workflowId}`;
}

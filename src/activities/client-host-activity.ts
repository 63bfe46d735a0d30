import { ApplicationFailure, Context } from '@temporalio/activity';
import { PIPELINE_TAG } from '../domain/inventory';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { Ec2Port, InstanceInfo } from '../ports/ec2';

export interface EnsureClientHostInput {
  pipelineId: string;
  mode: 'apply' | 'plan';
  imageId?: string;
  instanceType: string;
  subnetId?: string;
  securityGroupIds?: string[];
  keyName?: string;
  instanceProfile?: string;
  userData: string;
  readyTimeoutSeconds: number;
  /** Same token on every attempt of one run, so AWS itself dedupes a launch it already did. */
  clientToken: string;
}

// One definition of the tag, shared with teardown's ownership proofs.
export { PIPELINE_TAG };
export const ROLE_TAG = 'pinpipe:role';
export const CLIENT_ROLE = 'client';
/** Amazon Linux 2023 on x86_64, the image the seed's client host ran. */
const DEFAULT_IMAGE = { name: 'al2023-ami-2023.*-kernel-6.1-x86_64', owner: 'amazon' };
const POLL_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pipeline's client hosts (not terminated), oldest first. */
export async function findClientHosts(ec2: Ec2Port, pipelineId: string): Promise<InstanceInfo[]> {
  const tagged = await ec2.findInstancesByTag(PIPELINE_TAG, pipelineId);
  return tagged
    .filter((i) => i.tags[ROLE_TAG] === CLIENT_ROLE)
    .sort(
      (a, b) =>
        (a.launchTime ?? '').localeCompare(b.launchTime ?? '') ||
        a.instanceId.localeCompare(b.instanceId),
    );
}

/**
 * Ensure exactly one EC2 client host carries the pipeline's tags, running with passing status
 * checks. Find-by-tag comes first on every attempt: moto ignores ClientToken, and a worker that
 * died after RunInstances must adopt the instance on retry, never launch a second.
 */
export function createClientHostActivity(ec2: Ec2Port) {
  return async function ensureClientHost(input: EnsureClientHostInput): Promise<StepResult> {
    const ctx = Context.current();
    ctx.heartbeat('finding');
    const deleteHow = (id: string) => `aws ec2 terminate-instances --instance-ids ${id}`;
    const found = await findClientHosts(ec2, input.pipelineId);
    const [keep, ...extra] = found;

    if (input.mode === 'plan') {
      if (!keep)
        return result({
          kind: 'instance',
          id: '(new)',
          outcome: 'create',
          detail: input.instanceType,
        });
      const problems = [
        keep.state !== 'running' ? `instance ${keep.instanceId} is ${keep.state}` : '',
        extra.length ? `${extra.length} extra instance(s) carry the tags` : '',
      ].filter(Boolean);
      return result(
        {
          kind: 'instance',
          id: keep.instanceId,
          outcome: problems.length ? 'differs' : 'exists',
          detail: problems.join('; ') || `${keep.state}, ${keep.instanceType ?? ''}`,
          deleteHow: deleteHow(keep.instanceId),
        },
        keep,
      );
    }

    // Two instances can only exist if someone launched one by hand: keep the oldest.
    if (extra.length > 0) await ec2.terminateInstances(extra.map((i) => i.instanceId));

    let instance: InstanceInfo;
    let outcome: ResourceRecord['outcome'];
    if (keep) {
      instance = keep;
      outcome = 'exists';
      if (keep.state === 'stopped' || keep.state === 'stopping') {
        await ec2.startInstances([keep.instanceId]);
        outcome = 'updated';
      }
    } else {
      const imageId = await resolveImage(ec2, input.imageId);
      instance = await ec2.runInstance({
        imageId,
        instanceType: input.instanceType,
        ...(input.subnetId ? { subnetId: input.subnetId } : {}),
        ...(input.securityGroupIds ? { securityGroupIds: input.securityGroupIds } : {}),
        ...(input.keyName ? { keyName: input.keyName } : {}),
        ...(input.instanceProfile ? { instanceProfile: input.instanceProfile } : {}),
        userData: input.userData,
        clientToken: input.clientToken,
        tags: {
          Name: `pinpipe-${input.pipelineId}-client`,
          [PIPELINE_TAG]: input.pipelineId,
          [ROLE_TAG]: CLIENT_ROLE,
        },
      });
      outcome = 'created';
    }
    ctx.heartbeat({ instanceId: instance.instanceId });

    const ready = await waitUntilReady(ec2, instance.instanceId, input.readyTimeoutSeconds);
    return result(
      {
        kind: 'instance',
        id: ready.instanceId,
        outcome,
        detail: `${ready.state}, status checks ok, ${ready.instanceType ?? input.instanceType}, ${ready.imageId ?? ''}`,
        deleteHow: deleteHow(ready.instanceId),
      },
      ready,
    );
  };
}

async function resolveImage(ec2: Ec2Port, imageId: string | undefined): Promise<string> {
  if (imageId === undefined) {
    const latest = await ec2.latestImage(DEFAULT_IMAGE.name, DEFAULT_IMAGE.owner);
    if (!latest) {
      throw ApplicationFailure.nonRetryable(
        `no Amazon Linux 2023 image found in this region: set clientHost.imageId`,
        'InvalidConfig',
      );
    }
    return latest;
  }
  if (!(await ec2.describeImage(imageId))) {
    throw ApplicationFailure.nonRetryable(
      `AMI ${imageId} does not exist in this region: correct clientHost.imageId (retryStep) or abort`,
      'InvalidConfig',
    );
  }
  return imageId;
}

/** Polls (heartbeating) until running with passing status checks; retryable on timeout. */
async function waitUntilReady(
  ec2: Ec2Port,
  instanceId: string,
  timeoutSeconds: number,
): Promise<InstanceInfo> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const info = await ec2.describeInstance(instanceId);
    Context.current().heartbeat({ instanceId, state: info?.state });
    if (!info || info.state === 'terminated' || info.state === 'shutting-down') {
      // Retryable: the next attempt finds no tagged host and launches a new one.
      throw new Error(`instance ${instanceId} is ${info?.state ?? 'gone'}`);
    }
    if (info.state === 'running' && (await ec2.statusChecksPassed(instanceId))) return info;
    if (Date.now() > deadline) {
      throw new Error(
        `instance ${instanceId} is ${info.state} without passing status checks after ${timeoutSeconds} s`,
      );
    }
    await sleep(POLL_MS);
  }
}

function result(resource: ResourceRecord, instance?: InstanceInfo): StepResult {
  return {
    resources: [resource],
    summary: `${resource.id} ${resource.outcome}${resource.detail ? ` (${resource.detail})` : ''}`,
    outputs: {
      ...(instance ? { instanceId: instance.instanceId } : {}),
      ...(instance?.publicIp ? { publicIp: instance.publicIp } : {}),
    },
  };
}

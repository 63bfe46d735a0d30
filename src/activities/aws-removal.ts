import { ApplicationFailure, Context } from '@temporalio/activity';
import { awsNames, ownedBy } from '../domain/aws-resources';
import { refusalByTags } from '../domain/inventory';
import type { AwsResourceKind } from '../domain/provision-steps';
import type { ApiGatewayPort } from '../ports/api-gateway';
import type { IamPort } from '../ports/iam';
import type { MskPort } from '../ports/msk';
import type { NetworkPort } from '../ports/network';
import type { SecretsPort } from '../ports/secrets';

/**
 * Removal of the aws target's own resources, one at a time, each proven by the pipeline's tag
 * first (teardown-activities.ts calls this for these kinds). Idempotent: a resource already gone
 * is `absent`. A dependent still holding one (a terminating instance its security group) is a
 * retryable error, so Temporal's retries wait for it.
 */

const CLUSTER_DELETE_WAIT_MS = 25 * 60_000;
const CLUSTER_POLL_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AwsRemovalPorts {
  network: NetworkPort;
  iam: IamPort;
  secrets: SecretsPort;
  msk: MskPort;
  apiGateway: ApiGatewayPort;
}

export type AwsRemoval = { result: 'deleted' | 'absent' } | { result: 'refused'; reason: string };

export async function removeAwsResource(
  ports: AwsRemovalPorts | undefined,
  kind: AwsResourceKind,
  id: string,
  pipelineId: string,
): Promise<AwsRemoval> {
  if (!ports) {
    throw ApplicationFailure.nonRetryable(
      `${kind} ${id}: this worker has no AWS control-plane clients (set AWS_REGION and credentials)`,
      'InvalidConfig',
    );
  }
  const refuse = (tags: Record<string, string>): AwsRemoval | undefined => {
    const why = ownedBy(tags, pipelineId) ? undefined : refusalByTags(kind, id, pipelineId, tags);
    return why === undefined ? undefined : { result: 'refused', reason: why };
  };
  const { network, iam, secrets, msk, apiGateway } = ports;
  switch (kind) {
    case 'security-group':
    case 'kafka-security-group': {
      const group = await network.describeSecurityGroup(id);
      if (!group) return { result: 'absent' };
      const no = refuse(group.tags);
      if (no) return no;
      try {
        await network.deleteSecurityGroup(id);
      } catch (err) {
        if ((err as { name?: string }).name === 'DependencyViolation') {
          // Retryable: an instance or cluster still using it is on its way out.
          throw new Error(
            `security group ${id} is still in use (an instance or cluster is going away); retried`,
            { cause: err },
          );
        }
        throw err;
      }
      return { result: 'deleted' };
    }
    case 'kafka-cluster': {
      const cluster = await msk.describeCluster(id);
      if (!cluster) return { result: 'absent' };
      const no = refuse(cluster.tags);
      if (no) return no;
      if (cluster.state !== 'DELETING') await msk.deleteCluster(id);
      // MSK takes minutes to delete a cluster; its security group can go only after. Wait here
      // (heartbeating), so the group's removal does not spend its retries on a cluster in the way.
      const deadline = Date.now() + CLUSTER_DELETE_WAIT_MS;
      while (await msk.describeCluster(id)) {
        Context.current().heartbeat({ clusterDeleting: id });
        if (Date.now() > deadline) {
          throw new Error(
            `MSK cluster ${id} is still deleting after ${CLUSTER_DELETE_WAIT_MS / 60_000} min; retried`,
          );
        }
        await sleep(CLUSTER_POLL_MS);
      }
      return { result: 'deleted' };
    }
    case 'secret': {
      const secret = await secrets.describeSecret(id);
      if (!secret) return { result: 'absent' };
      const no = refuse(secret.tags);
      if (no) return no;
      await secrets.deleteSecret(id);
      return { result: 'deleted' };
    }
    case 'key-pair': {
      const pair = await network.describeKeyPair(id);
      if (!pair) return { result: 'absent' };
      const no = refuse(pair.tags);
      if (no) return no;
      await network.deleteKeyPair(id);
      return { result: 'deleted' };
    }
    case 'instance-profile': {
      const profile = await iam.getInstanceProfile(id);
      if (!profile) return { result: 'absent' };
      const no = refuse(profile.tags);
      if (no) return no;
      for (const role of profile.roleNames) await iam.removeRoleFromInstanceProfile(id, role);
      await iam.deleteInstanceProfile(id);
      return { result: 'deleted' };
    }
    case 'iam-role': {
      const role = await iam.getRole(id);
      if (!role) return { result: 'absent' };
      const no = refuse(role.tags);
      if (no) return no;
      // Its profile first (named for it), then every inline policy: IAM refuses otherwise.
      const profile = await iam.getInstanceProfile(awsNames(pipelineId).instanceProfile);
      if (profile?.roleNames.includes(id))
        await iam.removeRoleFromInstanceProfile(profile.name, id);
      for (const policy of await iam.listRolePolicies(id)) await iam.deleteRolePolicy(id, policy);
      await iam.deleteRole(id);
      return { result: 'deleted' };
    }
    case 'rest-api': {
      const api = await apiGateway.getRestApi(id);
      if (!api) return { result: 'absent' };
      const no = refuse(api.tags);
      if (no) return no;
      await apiGateway.deleteRestApi(id);
      return { result: 'deleted' };
    }
  }
}

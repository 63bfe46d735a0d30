import { ApplicationFailure, Context } from '@temporalio/activity';
import { awsNames, awsTags, ownedBy } from '../domain/aws-resources';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { KafkaClusterInfo, MskPort } from '../ports/msk';
import type { NetworkPort } from '../ports/network';
import { invalid, summaryOf, type Mode } from './aws-step-helpers';

/**
 * The MSK cluster of the aws target: created (TLS + IAM) or found by name and tag, or adopted by
 * ARN; one look at its state for the workflow's durable wait; its TLS + IAM bootstrap servers.
 */

export interface EnsureKafkaClusterInput {
  pipelineId: string;
  mode: Mode;
  kafka:
    | { mode: 'adopt'; clusterArn: string }
    | {
        mode: 'create';
        kafkaVersion: string;
        brokerCount: number;
        instanceType: string;
        volumeGiB: number;
        subnetIds?: string[];
      };
  /** The cluster's security group (from the security-group step). */
  securityGroupId?: string;
  vpcId?: string;
}

export interface KafkaClusterState {
  arn: string;
  state: string;
  creationTime?: string;
}

export function createMskSteps(ports: { network: NetworkPort; msk: MskPort }) {
  const { network, msk } = ports;

  /**
   * MSK takes the client subnets of two or three zones (two in some regions) and the same number
   * of brokers in each: three zones when the broker count divides by three, else two.
   */
  async function defaultSubnets(vpcId: string, brokerCount: number): Promise<string[]> {
    const count = brokerCount % 3 === 0 ? 3 : 2;
    const subnets = (await network.subnetsOfVpc(vpcId)).filter((s) => s.defaultForAz);
    const byZone = new Map<string, string>();
    for (const s of subnets.sort((a, b) => a.availabilityZone.localeCompare(b.availabilityZone)))
      if (!byZone.has(s.availabilityZone)) byZone.set(s.availabilityZone, s.subnetId);
    let picked = [...byZone.values()].slice(0, count);
    if (picked.length === 2 && brokerCount % 2 !== 0) picked = [];
    if (picked.length < 2) {
      throw invalid(
        `VPC ${vpcId} has no default subnets in ${count} zones for ${brokerCount} brokers (MSK puts as many in each zone): set aws.kafka.subnetIds, or a broker count that divides by the zones`,
      );
    }
    return picked;
  }

  const clusterRecord = (
    c: KafkaClusterInfo,
    outcome: ResourceRecord['outcome'],
    pipelineId: string,
  ): ResourceRecord => ({
    kind: 'kafka-cluster',
    id: c.arn,
    outcome,
    detail: `${c.name} ${c.state}${c.iamAuth === false ? ', IAM authentication off' : ''}`,
    deleteHow: `aws kafka delete-cluster --cluster-arn ${c.arn}`,
    ...(ownedBy(c.tags, pipelineId) ? { ownedByTag: true } : {}),
  });

  /**
   * Creates (or finds by name and tag) the pipeline's cluster, or looks at the one adopted;
   * returns at once with its state. The workflow waits for ACTIVE between durable timers.
   */
  async function ensureKafkaCluster(input: EnsureKafkaClusterInput): Promise<StepResult> {
    Context.current().heartbeat();
    const k = input.kafka;
    if (k.mode === 'adopt') {
      const c = await msk.describeCluster(k.clusterArn);
      if (!c) throw invalid(`no MSK cluster ${k.clusterArn}: correct aws.kafka.clusterArn`);
      if (c.iamAuth === false) {
        throw invalid(
          `MSK cluster ${c.name} does not have IAM client authentication on; pinpipe's hosts authenticate with IAM: turn it on or use aws.kafka.mode "brokers"`,
        );
      }
      const r = clusterRecord(c, 'exists', input.pipelineId);
      return {
        resources: [r],
        summary: summaryOf([r]),
        outputs: { clusterArn: c.arn, clusterState: c.state },
      };
    }
    const name = awsNames(input.pipelineId).cluster;
    const found = (await msk.findClustersByName(name)).filter((c) => c.state !== 'DELETING');
    const foreign = found.find((c) => !ownedBy(c.tags, input.pipelineId));
    if (foreign) {
      throw invalid(
        `MSK cluster ${foreign.arn} is named ${name} but not tagged for pipeline ${input.pipelineId}: adopt it (aws.kafka.mode "adopt") or remove it`,
      );
    }
    const oldest = found.sort((a, b) =>
      (a.creationTime ?? '').localeCompare(b.creationTime ?? ''),
    )[0];
    if (oldest) {
      // The listing's state may lag; the cluster's own description is what the wait follows.
      const c = (await msk.describeCluster(oldest.arn)) ?? oldest;
      const r = clusterRecord(c, 'exists', input.pipelineId);
      return {
        resources: [r],
        summary: summaryOf([r]),
        outputs: { clusterArn: c.arn, clusterState: c.state },
      };
    }
    if (input.mode === 'plan') {
      const r: ResourceRecord = {
        kind: 'kafka-cluster',
        id: name,
        outcome: 'create',
        detail: `${k.brokerCount} × ${k.instanceType}, Kafka ${k.kafkaVersion}, TLS + IAM`,
      };
      return { resources: [r], summary: summaryOf([r]) };
    }
    if (!input.securityGroupId || !input.vpcId) {
      throw new Error('the security-group step has not produced the cluster group yet');
    }
    const subnetIds = k.subnetIds ?? (await defaultSubnets(input.vpcId, k.brokerCount));
    if (subnetIds.length > 3) {
      throw invalid(
        `aws.kafka.subnetIds: MSK takes the subnets of two or three zones, not ${subnetIds.length}`,
      );
    }
    if (k.brokerCount % subnetIds.length !== 0) {
      throw invalid(
        `aws.kafka.brokerCount ${k.brokerCount} is not a multiple of the ${subnetIds.length} subnets: MSK puts the same number of brokers in each`,
      );
    }
    const created = await msk.createCluster({
      name,
      kafkaVersion: k.kafkaVersion,
      brokerCount: k.brokerCount,
      instanceType: k.instanceType,
      subnetIds,
      securityGroupIds: [input.securityGroupId],
      volumeGiB: k.volumeGiB,
      tags: awsTags(input.pipelineId, 'kafka'),
    });
    const r = clusterRecord(created, 'created', input.pipelineId);
    return {
      resources: [r],
      summary: summaryOf([r]),
      outputs: { clusterArn: created.arn, clusterState: created.state },
    };
  }

  /** One look at the cluster, between the workflow's timers. */
  async function describeKafkaCluster(input: { arn: string }): Promise<KafkaClusterState> {
    const c = await msk.describeCluster(input.arn);
    if (!c)
      throw ApplicationFailure.nonRetryable(`MSK cluster ${input.arn} is gone`, 'ClusterGone');
    return {
      arn: c.arn,
      state: c.state,
      ...(c.creationTime ? { creationTime: c.creationTime } : {}),
    };
  }

  /** The cluster's TLS + IAM bootstrap servers (port 9098). */
  async function kafkaBootstrapBrokers(input: { arn: string }): Promise<{ brokers: string }> {
    const b = await msk.bootstrapBrokers(input.arn);
    if (!b.saslIam) {
      throw invalid(
        `MSK cluster ${input.arn} offers no TLS + IAM bootstrap servers (IAM authentication is off?)`,
      );
    }
    return { brokers: b.saslIam };
  }

  return { ensureKafkaCluster, describeKafkaCluster, kafkaBootstrapBrokers };
}

/**
 * The Amazon MSK calls of the aws target. A cluster takes 15–40 minutes to become ACTIVE, so
 * the workflow polls `describeCluster` between durable timers instead of holding an activity.
 * moto keeps clusters CREATING forever and has no GetBootstrapBrokers: tests that need either
 * use a double for those two calls alone (and say so in their names).
 */

import type { Tags } from './network';

/** MSK's cluster states (ACTIVE, CREATING, DELETING, FAILED, HEALING, MAINTENANCE, REBOOTING_BROKER, UPDATING). */
export type ClusterState = string;

export interface KafkaClusterInfo {
  arn: string;
  name: string;
  state: ClusterState;
  tags: Tags;
  /** ISO time. */
  creationTime?: string;
  /** Whether IAM client authentication is on (provisioned clusters' ClientAuthentication.Sasl.Iam). */
  iamAuth?: boolean;
}

export interface CreateClusterInput {
  name: string;
  kafkaVersion: string;
  brokerCount: number;
  instanceType: string;
  subnetIds: string[];
  securityGroupIds: string[];
  /** Volume per broker, GiB. */
  volumeGiB: number;
  tags: Tags;
}

export interface BootstrapBrokers {
  /** TLS + IAM (port 9098): what pinpipe uses. */
  saslIam?: string;
  tls?: string;
  plaintext?: string;
}

export interface MskPort {
  /** Clusters whose name is exactly `name` (ListClustersV2 filters by prefix; exact match here). */
  findClustersByName(name: string): Promise<KafkaClusterInfo[]>;
  /** The cluster, or undefined when there is no cluster of that ARN. */
  describeCluster(arn: string): Promise<KafkaClusterInfo | undefined>;
  /** Creates a provisioned cluster with TLS in transit and IAM client authentication. */
  createCluster(input: CreateClusterInput): Promise<KafkaClusterInfo>;
  bootstrapBrokers(arn: string): Promise<BootstrapBrokers>;
  /** An absent cluster is not an error. */
  deleteCluster(arn: string): Promise<void>;
}

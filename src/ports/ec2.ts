/** The EC2 calls provisioning needs. moto answers them locally; AWS in production. */

export interface InstanceInfo {
  instanceId: string;
  state: string;
  imageId?: string;
  instanceType?: string;
  privateIp?: string;
  publicIp?: string;
  tags: Record<string, string>;
}

export interface RunInstanceInput {
  imageId: string;
  instanceType: string;
  subnetId?: string;
  securityGroupIds?: string[];
  keyName?: string;
  userData?: string;
  tags: Record<string, string>;
  /** Sent to EC2, but callers must still find-by-tag first: moto ignores it. */
  clientToken?: string;
}

export interface Ec2Port {
  /** Instances carrying the tag, excluding terminated ones. */
  findInstancesByTag(key: string, value: string): Promise<InstanceInfo[]>;
  runInstance(input: RunInstanceInput): Promise<InstanceInfo>;
  describeInstance(instanceId: string): Promise<InstanceInfo | undefined>;
  terminateInstances(instanceIds: string[]): Promise<void>;
  describeRegions(): Promise<string[]>;
}

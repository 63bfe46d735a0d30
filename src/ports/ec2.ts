/** The EC2 calls provisioning needs. moto answers them locally; AWS in production. */

export interface InstanceInfo {
  instanceId: string;
  state: string;
  imageId?: string;
  instanceType?: string;
  privateIp?: string;
  publicIp?: string;
  tags: Record<string, string>;
  /** ISO time; orders duplicates so the oldest is kept. */
  launchTime?: string;
}

export interface RunInstanceInput {
  imageId: string;
  instanceType: string;
  subnetId?: string;
  securityGroupIds?: string[];
  keyName?: string;
  /** The IAM instance profile's name (its role's credentials reach the host's processes). */
  instanceProfile?: string;
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
  startInstances(instanceIds: string[]): Promise<void>;
  /** True when the instance is running and both its system and instance status checks pass. */
  statusChecksPassed(instanceId: string): Promise<boolean>;
  describeRegions(): Promise<string[]>;
  /** The image, or undefined when the region has no such AMI (EC2 would reject a launch). */
  describeImage(imageId: string): Promise<{ imageId: string; name?: string } | undefined>;
  /** The newest image whose name matches the pattern (`*` wildcards), e.g. Amazon Linux 2023. */
  latestImage(namePattern: string, owner: string): Promise<string | undefined>;
}

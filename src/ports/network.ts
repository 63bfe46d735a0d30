/**
 * The EC2 network and access calls of the aws target: the VPC and subnets a pipeline lands in,
 * its security groups and its SSH key pair. moto answers them locally; AWS in production.
 * Apart from ./ec2.ts (instances) so each step's activity receives only what it uses.
 */

export type Tags = Record<string, string>;

/** One ingress rule: TCP to `port` from a CIDR block or from another security group. */
export type IngressRule =
  | { protocol: 'tcp'; port: number; cidr: string }
  | { protocol: 'tcp'; port: number; sourceGroupId: string };

export interface SecurityGroupInfo {
  groupId: string;
  groupName: string;
  vpcId: string;
  description?: string;
  tags: Tags;
  /** Only TCP single-port rules are reported; others appear as `other` so a diff can name them. */
  ingress: IngressRule[];
  /** Ingress permissions that are not single-port TCP (e.g. all traffic), described. */
  otherIngress: string[];
}

export interface SubnetInfo {
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  defaultForAz: boolean;
}

export interface KeyPairInfo {
  keyName: string;
  keyPairId: string;
  fingerprint?: string;
  tags: Tags;
}

export interface NetworkPort {
  /** The region's default VPC, or undefined when it has none. */
  defaultVpcId(): Promise<string | undefined>;
  /** The VPC's primary IPv4 CIDR block, or undefined when there is no such VPC. */
  vpcCidr(vpcId: string): Promise<string | undefined>;
  /** The subnet, or undefined when there is no such subnet. */
  describeSubnet(subnetId: string): Promise<SubnetInfo | undefined>;
  /** Every subnet of the VPC. */
  subnetsOfVpc(vpcId: string): Promise<SubnetInfo[]>;

  /** The security group of that name in that VPC, or undefined. */
  findSecurityGroup(vpcId: string, groupName: string): Promise<SecurityGroupInfo | undefined>;
  describeSecurityGroup(groupId: string): Promise<SecurityGroupInfo | undefined>;
  /** Creates the group with its tags (in one call) and no ingress rules; returns its id. */
  createSecurityGroup(input: {
    vpcId: string;
    groupName: string;
    description: string;
    tags: Tags;
  }): Promise<string>;
  /** Adds rules; rules already present are not an error. */
  authorizeIngress(groupId: string, rules: IngressRule[]): Promise<void>;
  /** Removes rules; rules already absent are not an error. */
  revokeIngress(groupId: string, rules: IngressRule[]): Promise<void>;
  /** Deletes the group; an absent group is not an error. Throws while something still uses it. */
  deleteSecurityGroup(groupId: string): Promise<void>;

  /** The key pair of that name, or undefined. */
  describeKeyPair(keyName: string): Promise<KeyPairInfo | undefined>;
  /**
   * Creates an ED25519 key pair with its tags. The private key (PEM / OpenSSH text) is returned
   * once: the caller stores it at once and never logs or returns it.
   */
  createKeyPair(input: { keyName: string; tags: Tags }): Promise<{
    info: KeyPairInfo;
    privateKey: string;
  }>;
  /** Deletes the key pair; an absent one is not an error. */
  deleteKeyPair(keyName: string): Promise<void>;
}

import { randomBytes } from 'node:crypto';
import type { ApiGatewayPort, ProxyWiring, RestApiInfo } from '../../src/ports/api-gateway';
import type { IamPort, InstanceProfileInfo, RoleInfo } from '../../src/ports/iam';
import type {
  BootstrapBrokers,
  CreateClusterInput,
  KafkaClusterInfo,
  MskPort,
} from '../../src/ports/msk';
import type {
  IngressRule,
  KeyPairInfo,
  NetworkPort,
  SecurityGroupInfo,
  SubnetInfo,
  Tags,
} from '../../src/ports/network';
import type { SecretInfo, SecretsPort } from '../../src/ports/secrets';
import { awsError, Faults, omit } from './faults';

/**
 * The aws target's control-plane ports in memory (network, IAM, Secrets Manager, MSK, API
 * Gateway), with the AWS behaviours the activities depend on: resources found by name carry
 * their tags, creating what exists fails as AWS does, IAM can lag (a profile's role shows up
 * only after a few reads), a security group in use cannot be deleted, a secret scheduled for
 * deletion takes no new value until restored, MSK clusters stay CREATING until `activate` and
 * a deleted one is DELETING for `deleteLooks` describes, then gone.
 */

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const clone = <T>(v: T): T => structuredClone(v);
const ruleKey = (r: IngressRule) =>
  `${r.protocol}/${r.port}/${'cidr' in r ? r.cidr : r.sourceGroupId}`;

let ids = 0;
const nextId = (prefix: string, width = 17) =>
  `${prefix}${(++ids).toString(16).padStart(width, '0')}`;

export class MemoryNetwork implements NetworkPort {
  readonly faults = new Faults<keyof NetworkPort>();
  vpcs = new Map<string, string>([['vpc-0default0000000', '172.31.0.0/16']]);
  defaultVpc: string | undefined = 'vpc-0default0000000';
  subnets: SubnetInfo[] = ['a', 'b', 'c'].map((z, i) => ({
    subnetId: `subnet-0default000000${i}`,
    vpcId: 'vpc-0default0000000',
    availabilityZone: `${REGION}${z}`,
    defaultForAz: true,
  }));
  readonly groups = new Map<string, SecurityGroupInfo>();
  readonly keyPairs = new Map<string, KeyPairInfo & { privateKey: string }>();
  /** Groups something still uses: deleting them fails with DependencyViolation. */
  readonly inUse = new Set<string>();

  defaultVpcId(): Promise<string | undefined> {
    return this.faults.run('defaultVpcId', () => this.defaultVpc);
  }
  vpcCidr(vpcId: string): Promise<string | undefined> {
    return this.faults.run('vpcCidr', () => this.vpcs.get(vpcId));
  }
  describeSubnet(subnetId: string): Promise<SubnetInfo | undefined> {
    return this.faults.run('describeSubnet', () =>
      clone(this.subnets.find((s) => s.subnetId === subnetId)),
    );
  }
  subnetsOfVpc(vpcId: string): Promise<SubnetInfo[]> {
    return this.faults.run('subnetsOfVpc', () =>
      clone(this.subnets.filter((s) => s.vpcId === vpcId)),
    );
  }

  findSecurityGroup(vpcId: string, groupName: string): Promise<SecurityGroupInfo | undefined> {
    return this.faults.run('findSecurityGroup', () =>
      clone([...this.groups.values()].find((g) => g.vpcId === vpcId && g.groupName === groupName)),
    );
  }
  describeSecurityGroup(groupId: string): Promise<SecurityGroupInfo | undefined> {
    return this.faults.run('describeSecurityGroup', () => clone(this.groups.get(groupId)));
  }
  createSecurityGroup(input: {
    vpcId: string;
    groupName: string;
    description: string;
    tags: Tags;
  }): Promise<string> {
    return this.faults.run('createSecurityGroup', () => {
      const taken = [...this.groups.values()].some(
        (g) => g.vpcId === input.vpcId && g.groupName === input.groupName,
      );
      if (taken) throw awsError('InvalidGroup.Duplicate', `group ${input.groupName} exists`);
      const groupId = nextId('sg-');
      this.groups.set(groupId, {
        groupId,
        groupName: input.groupName,
        vpcId: input.vpcId,
        description: input.description,
        tags: { ...input.tags },
        ingress: [],
        otherIngress: [],
      });
      return groupId;
    });
  }
  authorizeIngress(groupId: string, rules: IngressRule[]): Promise<void> {
    return this.faults.run('authorizeIngress', () => {
      const g = this.groupOf(groupId);
      for (const r of rules)
        if (!g.ingress.some((x) => ruleKey(x) === ruleKey(r))) g.ingress.push({ ...r });
    });
  }
  revokeIngress(groupId: string, rules: IngressRule[]): Promise<void> {
    return this.faults.run('revokeIngress', () => {
      const g = this.groupOf(groupId);
      const gone = new Set(rules.map(ruleKey));
      g.ingress = g.ingress.filter((x) => !gone.has(ruleKey(x)));
    });
  }
  deleteSecurityGroup(groupId: string): Promise<void> {
    return this.faults.run('deleteSecurityGroup', () => {
      if (this.inUse.has(groupId)) throw awsError('DependencyViolation', `${groupId} is in use`);
      this.groups.delete(groupId);
    });
  }

  describeKeyPair(keyName: string): Promise<KeyPairInfo | undefined> {
    return this.faults.run('describeKeyPair', () => {
      const k = this.keyPairs.get(keyName);
      if (!k) return undefined;
      return clone(omit(k, 'privateKey'));
    });
  }
  createKeyPair(input: {
    keyName: string;
    tags: Tags;
  }): Promise<{ info: KeyPairInfo; privateKey: string }> {
    return this.faults.run('createKeyPair', () => {
      if (this.keyPairs.has(input.keyName))
        throw awsError('InvalidKeyPair.Duplicate', `key pair ${input.keyName} exists`);
      const info: KeyPairInfo = {
        keyName: input.keyName,
        keyPairId: nextId('key-'),
        fingerprint: randomBytes(16).toString('hex'),
        tags: { ...input.tags },
      };
      const privateKey = `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
      this.keyPairs.set(input.keyName, { ...info, privateKey });
      return { info: clone(info), privateKey };
    });
  }
  deleteKeyPair(keyName: string): Promise<void> {
    return this.faults.run('deleteKeyPair', () => void this.keyPairs.delete(keyName));
  }

  private groupOf(groupId: string): SecurityGroupInfo {
    const g = this.groups.get(groupId);
    if (!g) throw awsError('InvalidGroup.NotFound', `no security group ${groupId}`);
    return g;
  }
}

export class MemoryIam implements IamPort {
  readonly faults = new Faults<keyof IamPort>();
  readonly roles = new Map<string, RoleInfo & { policies: Map<string, unknown> }>();
  readonly profiles = new Map<string, InstanceProfileInfo>();
  /**
   * IAM's eventual consistency: after a role is added to a profile, this many reads of the
   * profile still show it without the role.
   */
  profileLagLooks = 0;
  private readonly lagging = new Map<string, { role: string; looks: number }>();

  getRole(roleName: string): Promise<RoleInfo | undefined> {
    return this.faults.run('getRole', () => {
      const r = this.roles.get(roleName);
      if (!r) return undefined;
      return clone(omit(r, 'policies'));
    });
  }
  createRole(input: {
    roleName: string;
    trustPolicy: unknown;
    description: string;
    tags: Tags;
  }): Promise<RoleInfo> {
    return this.faults.run('createRole', () => {
      if (this.roles.has(input.roleName))
        throw awsError('EntityAlreadyExistsException', `role ${input.roleName} exists`);
      const role = {
        roleName: input.roleName,
        arn: `arn:aws:iam::${ACCOUNT}:role/${input.roleName}`,
        trustPolicy: clone(input.trustPolicy),
        tags: { ...input.tags },
      };
      this.roles.set(input.roleName, { ...role, policies: new Map() });
      return clone(role);
    });
  }
  updateTrustPolicy(roleName: string, trustPolicy: unknown): Promise<void> {
    return this.faults.run('updateTrustPolicy', () => {
      this.roleOf(roleName).trustPolicy = clone(trustPolicy);
    });
  }
  getRolePolicy(roleName: string, policyName: string): Promise<unknown> {
    return this.faults.run('getRolePolicy', () =>
      clone(this.roles.get(roleName)?.policies.get(policyName)),
    );
  }
  putRolePolicy(roleName: string, policyName: string, document: unknown): Promise<void> {
    return this.faults.run('putRolePolicy', () => {
      this.roleOf(roleName).policies.set(policyName, clone(document));
    });
  }
  listRolePolicies(roleName: string): Promise<string[]> {
    return this.faults.run('listRolePolicies', () => [...this.roleOf(roleName).policies.keys()]);
  }
  deleteRolePolicy(roleName: string, policyName: string): Promise<void> {
    return this.faults.run('deleteRolePolicy', () => {
      this.roles.get(roleName)?.policies.delete(policyName);
    });
  }
  deleteRole(roleName: string): Promise<void> {
    return this.faults.run('deleteRole', () => {
      const r = this.roles.get(roleName);
      if (!r) return;
      const inProfile = [...this.profiles.values()].some((p) => p.roleNames.includes(roleName));
      if (r.policies.size > 0 || inProfile)
        throw awsError('DeleteConflictException', `role ${roleName} has policies or profiles`);
      this.roles.delete(roleName);
    });
  }

  getInstanceProfile(name: string): Promise<InstanceProfileInfo | undefined> {
    return this.faults.run('getInstanceProfile', () => {
      const p = clone(this.profiles.get(name));
      const lag = this.lagging.get(name);
      if (p && lag && lag.looks-- > 0) p.roleNames = p.roleNames.filter((r) => r !== lag.role);
      return p;
    });
  }
  createInstanceProfile(input: { name: string; tags: Tags }): Promise<InstanceProfileInfo> {
    return this.faults.run('createInstanceProfile', () => {
      if (this.profiles.has(input.name))
        throw awsError('EntityAlreadyExistsException', `profile ${input.name} exists`);
      const p = {
        name: input.name,
        arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${input.name}`,
        roleNames: [],
        tags: { ...input.tags },
      };
      this.profiles.set(input.name, p);
      return clone(p);
    });
  }
  addRoleToInstanceProfile(profileName: string, roleName: string): Promise<void> {
    return this.faults.run('addRoleToInstanceProfile', () => {
      const p = this.profileOf(profileName);
      this.roleOf(roleName);
      if (p.roleNames.includes(roleName)) return;
      if (p.roleNames.length > 0) throw awsError('LimitExceededException', 'one role per profile');
      p.roleNames.push(roleName);
      this.lagging.set(profileName, { role: roleName, looks: this.profileLagLooks });
    });
  }
  removeRoleFromInstanceProfile(profileName: string, roleName: string): Promise<void> {
    return this.faults.run('removeRoleFromInstanceProfile', () => {
      const p = this.profiles.get(profileName);
      if (p) p.roleNames = p.roleNames.filter((r) => r !== roleName);
    });
  }
  deleteInstanceProfile(name: string): Promise<void> {
    return this.faults.run('deleteInstanceProfile', () => {
      const p = this.profiles.get(name);
      if (p && p.roleNames.length > 0)
        throw awsError('DeleteConflictException', `profile ${name} still has a role`);
      this.profiles.delete(name);
    });
  }

  private roleOf(roleName: string) {
    const r = this.roles.get(roleName);
    if (!r) throw awsError('NoSuchEntityException', `no role ${roleName}`);
    return r;
  }
  private profileOf(name: string) {
    const p = this.profiles.get(name);
    if (!p) throw awsError('NoSuchEntityException', `no instance profile ${name}`);
    return p;
  }
}

export class MemorySecrets implements SecretsPort {
  readonly faults = new Faults<keyof SecretsPort>();
  readonly secrets = new Map<string, SecretInfo & { value?: string }>();

  /** A secret as found in the account (e.g. left by a run that died half way). */
  add(name: string, tags: Tags, options: { value?: string; deleted?: boolean } = {}): void {
    this.secrets.set(name, {
      name,
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${randomBytes(3).toString('hex')}`,
      tags: { ...tags },
      deleted: options.deleted ?? false,
      hasValue: options.value !== undefined,
      ...(options.value !== undefined ? { value: options.value } : {}),
    });
  }

  describeSecret(name: string): Promise<SecretInfo | undefined> {
    return this.faults.run('describeSecret', () => {
      const s = this.secrets.get(name);
      if (!s) return undefined;
      return clone(omit(s, 'value'));
    });
  }
  createSecret(input: {
    name: string;
    value: string;
    description: string;
    tags: Tags;
  }): Promise<SecretInfo> {
    return this.faults.run('createSecret', () => {
      if (this.secrets.has(input.name))
        throw awsError('ResourceExistsException', `secret ${input.name} exists`);
      this.add(input.name, input.tags, { value: input.value });
      return clone(omit(this.secrets.get(input.name)!, 'value'));
    });
  }
  putSecretValue(name: string, value: string): Promise<void> {
    return this.faults.run('putSecretValue', () => {
      const s = this.secretOf(name);
      if (s.deleted) throw awsError('InvalidRequestException', `${name} is scheduled for deletion`);
      s.value = value;
      s.hasValue = true;
    });
  }
  restoreSecret(name: string): Promise<void> {
    return this.faults.run('restoreSecret', () => {
      this.secretOf(name).deleted = false;
    });
  }
  getSecretValue(name: string): Promise<string | undefined> {
    return this.faults.run('getSecretValue', () => {
      const s = this.secrets.get(name);
      if (s?.deleted)
        throw awsError('InvalidRequestException', `${name} is scheduled for deletion`);
      return s?.value;
    });
  }
  deleteSecret(name: string): Promise<void> {
    return this.faults.run('deleteSecret', () => void this.secrets.delete(name));
  }

  private secretOf(name: string) {
    const s = this.secrets.get(name);
    if (!s) throw awsError('ResourceNotFoundException', `no secret ${name}`);
    return s;
  }
}

export class MemoryMsk implements MskPort {
  readonly faults = new Faults<keyof MskPort>();
  readonly clusters = new Map<string, KafkaClusterInfo & { input?: CreateClusterInput }>();
  /** Describes a DELETING cluster still answers before it is gone (MSK takes minutes). */
  deleteLooks = 0;
  private readonly deleting = new Map<string, number>();
  private clock = Date.parse('2025-01-01T00:00:00Z');

  /** A cluster as found in the account; returns its ARN. */
  add(name: string, tags: Tags, state = 'ACTIVE', iamAuth = true): string {
    const arn = `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/${name}/${randomBytes(8).toString('hex')}`;
    this.clock += 60_000;
    this.clusters.set(arn, {
      arn,
      name,
      state,
      tags: { ...tags },
      creationTime: new Date(this.clock).toISOString(),
      iamAuth,
    });
    if (state === 'DELETING') this.deleting.set(arn, this.deleteLooks);
    return arn;
  }

  /** What MSK does 15–40 minutes after CreateCluster. */
  activate(arn: string): void {
    this.clusters.get(arn)!.state = 'ACTIVE';
  }

  findClustersByName(name: string): Promise<KafkaClusterInfo[]> {
    return this.faults.run('findClustersByName', () =>
      [...this.clusters.values()].filter((c) => c.name === name).map((c) => this.info(c)),
    );
  }
  describeCluster(arn: string): Promise<KafkaClusterInfo | undefined> {
    return this.faults.run('describeCluster', () => {
      const c = this.clusters.get(arn);
      if (c?.state === 'DELETING') {
        const left = this.deleting.get(arn) ?? 0;
        if (left <= 0) {
          this.clusters.delete(arn);
          return undefined;
        }
        this.deleting.set(arn, left - 1);
      }
      return c ? this.info(c) : undefined;
    });
  }
  createCluster(input: CreateClusterInput): Promise<KafkaClusterInfo> {
    return this.faults.run('createCluster', () => {
      const arn = this.add(input.name, input.tags, 'CREATING');
      const c = this.clusters.get(arn)!;
      c.input = clone(input);
      return this.info(c);
    });
  }
  bootstrapBrokers(arn: string): Promise<BootstrapBrokers> {
    return this.faults.run('bootstrapBrokers', () => {
      const c = this.clusters.get(arn);
      if (!c) throw awsError('NotFoundException', `no cluster ${arn}`);
      if (c.state !== 'ACTIVE') throw awsError('BadRequestException', `cluster is ${c.state}`);
      const hosts = [1, 2].map((b) => `b-${b}.${c.name}.kafka.${REGION}.amazonaws.com`);
      return {
        tls: hosts.map((h) => `${h}:9094`).join(','),
        ...(c.iamAuth !== false ? { saslIam: hosts.map((h) => `${h}:9098`).join(',') } : {}),
      };
    });
  }
  deleteCluster(arn: string): Promise<void> {
    return this.faults.run('deleteCluster', () => {
      const c = this.clusters.get(arn);
      if (!c || c.state === 'DELETING') return;
      c.state = 'DELETING';
      this.deleting.set(arn, this.deleteLooks);
    });
  }

  private info(c: KafkaClusterInfo & { input?: CreateClusterInput }): KafkaClusterInfo {
    return clone(omit(c, 'input'));
  }
}

interface MemoryApi extends RestApiInfo {
  wiring: ProxyWiring;
  stages: Map<string, string>;
  deployments: string[];
}

export class MemoryApiGateway implements ApiGatewayPort {
  readonly faults = new Faults<keyof ApiGatewayPort>();
  readonly apis = new Map<string, MemoryApi>();
  private clock = Date.parse('2025-01-01T00:00:00Z');

  findRestApisByName(name: string): Promise<RestApiInfo[]> {
    return this.faults.run('findRestApisByName', () =>
      [...this.apis.values()].filter((a) => a.name === name).map((a) => this.info(a)),
    );
  }
  getRestApi(apiId: string): Promise<RestApiInfo | undefined> {
    return this.faults.run('getRestApi', () => {
      const a = this.apis.get(apiId);
      return a ? this.info(a) : undefined;
    });
  }
  createRestApi(input: { name: string; description: string; tags: Tags }): Promise<RestApiInfo> {
    return this.faults.run('createRestApi', () => {
      const id = randomBytes(5).toString('hex');
      this.clock += 1000;
      const api: MemoryApi = {
        id,
        name: input.name,
        tags: { ...input.tags },
        createdDate: new Date(this.clock).toISOString(),
        wiring: { rootResourceId: `root${id}`, anyMethod: false },
        stages: new Map(),
        deployments: [],
      };
      this.apis.set(id, api);
      return this.info(api);
    });
  }
  proxyWiring(apiId: string): Promise<ProxyWiring> {
    return this.faults.run('proxyWiring', () => clone(this.apiOf(apiId).wiring));
  }
  putProxy(apiId: string, baseUrl: string): Promise<void> {
    return this.faults.run('putProxy', () => {
      const a = this.apiOf(apiId);
      const base = baseUrl.replace(/\/+$/, '');
      a.wiring = {
        rootResourceId: a.wiring.rootResourceId,
        proxyResourceId: a.wiring.proxyResourceId ?? `proxy${apiId}`,
        anyMethod: true,
        integration: { type: 'HTTP_PROXY', uri: `${base}/{proxy}` },
        rootIntegration: { type: 'HTTP_PROXY', uri: `${base}/` },
      };
    });
  }
  stageDeployment(apiId: string, stageName: string): Promise<string | undefined> {
    return this.faults.run('stageDeployment', () => this.apiOf(apiId).stages.get(stageName));
  }
  deploy(apiId: string, stageName: string, _description: string): Promise<string> {
    return this.faults.run('deploy', () => {
      const a = this.apiOf(apiId);
      const id = randomBytes(3).toString('hex');
      a.deployments.push(id);
      a.stages.set(stageName, id);
      return id;
    });
  }
  deleteRestApi(apiId: string): Promise<void> {
    return this.faults.run('deleteRestApi', () => void this.apis.delete(apiId));
  }

  private apiOf(apiId: string): MemoryApi {
    const a = this.apis.get(apiId);
    if (!a) throw awsError('NotFoundException', `no REST API ${apiId}`);
    return a;
  }
  private info(a: MemoryApi): RestApiInfo {
    return { id: a.id, name: a.name, tags: { ...a.tags }, createdDate: a.createdDate! };
  }
}

/** The five aws ports together, as createAwsProvisionActivities and teardown take them. */
export function memoryAws() {
  return {
    network: new MemoryNetwork(),
    iam: new MemoryIam(),
    secrets: new MemorySecrets(),
    msk: new MemoryMsk(),
    apiGateway: new MemoryApiGateway(),
  };
}
export type MemoryAws = ReturnType<typeof memoryAws>;

/** Every resource of the five, for "plan changed nothing" comparisons. */
export function awsSnapshot(aws: MemoryAws): unknown {
  const dump = (m: Map<string, unknown>) =>
    [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v]);
  return clone({
    groups: dump(aws.network.groups),
    keyPairs: dump(aws.network.keyPairs),
    roles: [...aws.iam.roles.values()].map((r) => ({ ...r, policies: [...r.policies] })),
    profiles: dump(aws.iam.profiles),
    secrets: dump(aws.secrets.secrets),
    clusters: dump(aws.msk.clusters),
    apis: [...aws.apiGateway.apis.values()].map((a) => ({
      ...a,
      stages: [...a.stages],
    })),
  });
}

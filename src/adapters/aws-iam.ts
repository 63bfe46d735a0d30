import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  UpdateAssumeRolePolicyCommand,
  type InstanceProfile,
  type Role,
  type Tag,
} from '@aws-sdk/client-iam';
import type { AwsConfig } from '../config';
import type { InstanceProfileInfo, IamPort, RoleInfo } from '../ports/iam';
import type { Tags } from '../ports/network';

/** IAM is global; AWS_ENDPOINT_URL (moto on the local stack) replaces its endpoint. */
export function createIamClient(aws: AwsConfig): IAMClient {
  return new IAMClient({
    region: aws.region,
    ...(aws.controlEndpoint ? { endpoint: aws.controlEndpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 3,
  });
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? '';
}

/** IAM's "not found" (an absent role, policy or instance profile, or a role not in a profile). */
function isNoSuchEntity(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NoSuchEntityException' || name === 'NoSuchEntity';
}

function toTags(tags: Tag[] | undefined): Tags {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

function fromTags(tags: Tags): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * A policy document as IAM returns it: URL-encoded (RFC 3986, spaces as %20) by AWS and by
 * moto 5.2.5 in CreateRole, GetRole and GetRolePolicy; moto returns the roles nested in
 * GetInstanceProfile unencoded, and older mocks never encode. JSON text starts with `{` and
 * an encoded document never does (`{` is %7B), so plain JSON is parsed as it is: decoding it
 * could fail on, or change, a literal `%` inside it.
 */
export function parsePolicyDocument(document: string): unknown {
  const text = document.trim();
  return JSON.parse(text.startsWith('{') ? text : decodeURIComponent(text));
}

function toRoleInfo(role: Role, fallbackTags?: Tags): RoleInfo {
  if (!role.RoleName || !role.Arn) throw new Error('IAM returned a role without a name or ARN');
  return {
    roleName: role.RoleName,
    arn: role.Arn,
    trustPolicy: role.AssumeRolePolicyDocument
      ? parsePolicyDocument(role.AssumeRolePolicyDocument)
      : undefined,
    tags: role.Tags ? toTags(role.Tags) : (fallbackTags ?? {}),
  };
}

function toProfileInfo(profile: InstanceProfile, fallbackTags?: Tags): InstanceProfileInfo {
  if (!profile.InstanceProfileName || !profile.Arn) {
    throw new Error('IAM returned an instance profile without a name or ARN');
  }
  return {
    name: profile.InstanceProfileName,
    arn: profile.Arn,
    roleNames: (profile.Roles ?? []).map((r) => r.RoleName ?? '').filter(Boolean),
    tags: profile.Tags ? toTags(profile.Tags) : (fallbackTags ?? {}),
  };
}

export class AwsIam implements IamPort {
  constructor(private readonly iam: IAMClient) {}

  async getRole(roleName: string): Promise<RoleInfo | undefined> {
    try {
      const out = await this.iam.send(new GetRoleCommand({ RoleName: roleName }));
      return out.Role ? toRoleInfo(out.Role) : undefined;
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw err;
    }
  }

  async createRole(input: {
    roleName: string;
    trustPolicy: unknown;
    description: string;
    tags: Tags;
  }): Promise<RoleInfo> {
    const out = await this.iam.send(
      new CreateRoleCommand({
        RoleName: input.roleName,
        AssumeRolePolicyDocument: JSON.stringify(input.trustPolicy),
        Description: input.description,
        Tags: fromTags(input.tags),
      }),
    );
    if (!out.Role) throw new Error(`CreateRole ${input.roleName} returned no role`);
    // The response carries the tags on AWS and moto; the input's are the same if it does not.
    return toRoleInfo(out.Role, input.tags);
  }

  async updateTrustPolicy(roleName: string, trustPolicy: unknown): Promise<void> {
    await this.iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: roleName,
        PolicyDocument: JSON.stringify(trustPolicy),
      }),
    );
  }

  /** Undefined when the policy or the role is absent. */
  async getRolePolicy(roleName: string, policyName: string): Promise<unknown> {
    try {
      const out = await this.iam.send(
        new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
      );
      return out.PolicyDocument ? parsePolicyDocument(out.PolicyDocument) : undefined;
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw err;
    }
  }

  async putRolePolicy(roleName: string, policyName: string, document: unknown): Promise<void> {
    await this.iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: policyName,
        PolicyDocument: JSON.stringify(document),
      }),
    );
  }

  /** An absent role has no policies: [] (so a cleanup that lists first stays idempotent). */
  async listRolePolicies(roleName: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.iam.send(
          new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }),
        );
        names.push(...(page.PolicyNames ?? []));
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (err) {
      if (isNoSuchEntity(err)) return [];
      throw err;
    }
    return names;
  }

  async deleteRolePolicy(roleName: string, policyName: string): Promise<void> {
    try {
      await this.iam.send(
        new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
      );
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
  }

  /** A role that still has inline policies or is in a profile fails with DeleteConflict. */
  async deleteRole(roleName: string): Promise<void> {
    try {
      await this.iam.send(new DeleteRoleCommand({ RoleName: roleName }));
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
  }

  async getInstanceProfile(name: string): Promise<InstanceProfileInfo | undefined> {
    try {
      const out = await this.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
      return out.InstanceProfile ? toProfileInfo(out.InstanceProfile) : undefined;
    } catch (err) {
      if (isNoSuchEntity(err)) return undefined;
      throw err;
    }
  }

  async createInstanceProfile(input: { name: string; tags: Tags }): Promise<InstanceProfileInfo> {
    const out = await this.iam.send(
      new CreateInstanceProfileCommand({
        InstanceProfileName: input.name,
        Tags: fromTags(input.tags),
      }),
    );
    if (!out.InstanceProfile) {
      throw new Error(`CreateInstanceProfile ${input.name} returned no instance profile`);
    }
    return toProfileInfo(out.InstanceProfile, input.tags);
  }

  async addRoleToInstanceProfile(profileName: string, roleName: string): Promise<void> {
    try {
      await this.iam.send(
        new AddRoleToInstanceProfileCommand({
          InstanceProfileName: profileName,
          RoleName: roleName,
        }),
      );
    } catch (err) {
      // A profile holds one role, so adding it again fails with LimitExceeded (AWS and moto
      // 5.2.5 alike); EntityAlreadyExists is accepted too. Either is fine when the role is the
      // one already there; a different role in the profile is still an error.
      const name = errorName(err);
      if (name !== 'LimitExceededException' && name !== 'EntityAlreadyExistsException') throw err;
      const profile = await this.getInstanceProfile(profileName);
      if (!profile?.roleNames.includes(roleName)) throw err;
    }
  }

  /** Also not an error: an absent profile or an absent role. */
  async removeRoleFromInstanceProfile(profileName: string, roleName: string): Promise<void> {
    try {
      await this.iam.send(
        new RemoveRoleFromInstanceProfileCommand({
          InstanceProfileName: profileName,
          RoleName: roleName,
        }),
      );
    } catch (err) {
      if (isNoSuchEntity(err)) return;
      // moto 5.2.5 answers an HTML 500 (not NoSuchEntity, as AWS does) when both exist but the
      // role is not in the profile; so on any other error, look: not there is success.
      const profile = await this.getInstanceProfile(profileName);
      if (profile && profile.roleNames.includes(roleName)) throw err;
    }
  }

  /** A profile that still holds a role fails with DeleteConflict. */
  async deleteInstanceProfile(name: string): Promise<void> {
    try {
      await this.iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name }));
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
  }
}

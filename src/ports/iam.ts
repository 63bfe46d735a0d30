/**
 * The IAM calls of the aws target: the client host's role, its inline policy and its instance
 * profile. IAM is global and eventually consistent: a profile just created may not be usable
 * by EC2 for seconds, which is why `getInstanceProfile` is polled by the step that makes it.
 */

import type { Tags } from './network';

export interface RoleInfo {
  roleName: string;
  arn: string;
  /** The trust (assume-role) policy, parsed JSON. */
  trustPolicy: unknown;
  tags: Tags;
}

export interface InstanceProfileInfo {
  name: string;
  arn: string;
  roleNames: string[];
  tags: Tags;
}

export interface IamPort {
  getRole(roleName: string): Promise<RoleInfo | undefined>;
  createRole(input: {
    roleName: string;
    trustPolicy: unknown;
    description: string;
    tags: Tags;
  }): Promise<RoleInfo>;
  /** Replaces the role's trust policy. */
  updateTrustPolicy(roleName: string, trustPolicy: unknown): Promise<void>;
  /** The inline policy's document, parsed JSON (IAM returns it URL-encoded), or undefined. */
  getRolePolicy(roleName: string, policyName: string): Promise<unknown>;
  /** Creates or replaces the inline policy. */
  putRolePolicy(roleName: string, policyName: string, document: unknown): Promise<void>;
  listRolePolicies(roleName: string): Promise<string[]>;
  /** An absent policy is not an error. */
  deleteRolePolicy(roleName: string, policyName: string): Promise<void>;
  /** An absent role is not an error. Inline policies and profiles must be removed first. */
  deleteRole(roleName: string): Promise<void>;

  getInstanceProfile(name: string): Promise<InstanceProfileInfo | undefined>;
  createInstanceProfile(input: { name: string; tags: Tags }): Promise<InstanceProfileInfo>;
  /** Adding a role already in the profile is not an error. */
  addRoleToInstanceProfile(profileName: string, roleName: string): Promise<void>;
  /** Removing a role not in the profile is not an error. */
  removeRoleFromInstanceProfile(profileName: string, roleName: string): Promise<void>;
  /** An absent profile is not an error. */
  deleteInstanceProfile(name: string): Promise<void>;
}

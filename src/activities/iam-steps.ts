import { Context } from '@temporalio/activity';
import {
  awsNames,
  awsTags,
  ec2TrustPolicy,
  leastPrivilegePolicy,
  sameJson,
} from '../domain/aws-resources';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import type { IamPort } from '../ports/iam';
import { summaryOf, sleep, alreadyExistsIsFine, type Mode, requireOwned } from './aws-step-helpers';

/**
 * The client host's IAM role (least privilege), its inline policy and its instance profile.
 */

export interface EnsureIamRoleInput {
  pipelineId: string;
  mode: Mode;
  bucket: string;
  clusterArn?: string;
  secretArns: string[];
}

export function createIamSteps(ports: { iam: IamPort; profileWaitMs?: number }) {
  const { iam } = ports;
  const profileWaitMs = ports.profileWaitMs ?? 120_000;

  /**
   * The client host's role (EC2 may assume it), its least-privilege inline policy and its
   * instance profile; waits until the profile shows the role, since EC2 refuses a profile IAM
   * has not spread yet. A profile still not visible after the wait fails the attempt (retried).
   */
  async function ensureIamRole(input: EnsureIamRoleInput): Promise<StepResult> {
    const ctx = Context.current();
    ctx.heartbeat();
    const names = awsNames(input.pipelineId);
    const policy = leastPrivilegePolicy({
      pipelineId: input.pipelineId,
      bucket: input.bucket,
      ...(input.clusterArn ? { clusterArn: input.clusterArn } : {}),
      secretArns: input.secretArns,
    });
    const trust = ec2TrustPolicy();
    const role = await iam.getRole(names.role);
    requireOwned(role, `IAM role ${names.role}`, input.pipelineId);
    const profile = await iam.getInstanceProfile(names.instanceProfile);
    requireOwned(profile, `instance profile ${names.instanceProfile}`, input.pipelineId);
    const roleDeleteHow = `aws iam delete-role-policy --role-name ${names.role} --policy-name ${names.policy} && aws iam delete-role --role-name ${names.role}`;
    const profileDeleteHow = `aws iam remove-role-from-instance-profile --instance-profile-name ${names.instanceProfile} --role-name ${names.role} && aws iam delete-instance-profile --instance-profile-name ${names.instanceProfile}`;
    const currentPolicy = role ? await iam.getRolePolicy(names.role, names.policy) : undefined;
    const roleDiffs = role
      ? [
          sameJson(role.trustPolicy, trust) ? '' : 'trust policy differs',
          currentPolicy === undefined
            ? 'inline policy missing'
            : sameJson(currentPolicy, policy)
              ? ''
              : 'inline policy differs',
        ].filter(Boolean)
      : [];
    // A profile holds one role: another one in ours (tag-proven) is replaced by the pipeline's.
    const strangers = profile ? profile.roleNames.filter((r) => r !== names.role) : [];
    const profileDiff = [
      profile && !profile.roleNames.includes(names.role)
        ? `role ${names.role} not in the profile`
        : '',
      strangers.length ? `holds role ${strangers.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (input.mode === 'plan') {
      const resources: ResourceRecord[] = [
        role
          ? {
              kind: 'iam-role',
              id: names.role,
              outcome: roleDiffs.length ? 'differs' : 'exists',
              detail: roleDiffs.join('; '),
              deleteHow: roleDeleteHow,
            }
          : {
              kind: 'iam-role',
              id: names.role,
              outcome: 'create',
              detail: 'least privilege: its bucket, topics, groups and secret',
            },
        profile
          ? {
              kind: 'instance-profile',
              id: names.instanceProfile,
              outcome: profileDiff ? 'differs' : 'exists',
              detail: profileDiff,
              deleteHow: profileDeleteHow,
            }
          : { kind: 'instance-profile', id: names.instanceProfile, outcome: 'create' },
      ];
      return { resources, summary: summaryOf(resources) };
    }
    const roleOutcome: ResourceRecord['outcome'] = role
      ? roleDiffs.length
        ? 'updated'
        : 'exists'
      : 'created';
    if (!role) {
      await alreadyExistsIsFine(
        iam.createRole({
          roleName: names.role,
          trustPolicy: trust,
          description: `pinpipe ${input.pipelineId} client host`,
          tags: awsTags(input.pipelineId, 'client'),
        }),
      );
    } else if (!sameJson(role.trustPolicy, trust)) {
      await iam.updateTrustPolicy(names.role, trust);
    }
    if (!role || currentPolicy === undefined || !sameJson(currentPolicy, policy)) {
      await iam.putRolePolicy(names.role, names.policy, policy);
    }
    // Inline policies pinpipe did not write would widen the role: reported, not removed.
    const others = (await iam.listRolePolicies(names.role)).filter((p) => p !== names.policy);
    const profileOutcome: ResourceRecord['outcome'] = profile
      ? profileDiff
        ? 'updated'
        : 'exists'
      : 'created';
    if (!profile) {
      await alreadyExistsIsFine(
        iam.createInstanceProfile({
          name: names.instanceProfile,
          tags: awsTags(input.pipelineId, 'client'),
        }),
      );
    }
    for (const other of strangers)
      await iam.removeRoleFromInstanceProfile(names.instanceProfile, other);
    if (!profile || !profile.roleNames.includes(names.role))
      await iam.addRoleToInstanceProfile(names.instanceProfile, names.role);
    // IAM is eventually consistent: wait (heartbeating) until the profile shows its role.
    const deadline = Date.now() + profileWaitMs;
    for (let look = 1; ; look++) {
      const seen = await iam.getInstanceProfile(names.instanceProfile);
      ctx.heartbeat({ look });
      if (seen?.roleNames.includes(names.role)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `instance profile ${names.instanceProfile} does not show role ${names.role} yet after ${Math.round(profileWaitMs / 1000)} s (IAM is eventually consistent; retried)`,
        );
      }
      await sleep(Math.min(5_000, 250 * 2 ** look));
    }
    const resources: ResourceRecord[] = [
      {
        kind: 'iam-role',
        id: names.role,
        outcome: roleOutcome,
        detail: `least privilege${others.length ? `; other inline policies on it: ${others.join(', ')}` : ''}`,
        deleteHow: roleDeleteHow,
      },
      {
        kind: 'instance-profile',
        id: names.instanceProfile,
        outcome: profileOutcome,
        deleteHow: profileDeleteHow,
      },
    ];
    return {
      resources,
      summary: summaryOf(resources),
      outputs: { instanceProfile: names.instanceProfile },
    };
  }

  return { ensureIamRole };
}

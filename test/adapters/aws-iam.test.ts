import assert from 'node:assert/strict';
import { AwsIam, createIamClient, parsePolicyDocument } from '../../src/adapters/aws-iam';
import { stackConfig, uniqueName } from '../helpers/stack';

const trustPolicy = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'ec2.amazonaws.com' },
      Action: 'sts:AssumeRole',
    },
  ],
};

/** A document whose JSON holds characters URL-encoding changes: space, +, %, /, :, *. */
function s3Policy(bucket: string, prefix: string): unknown {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadWrite',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject'],
        Resource: `arn:aws:s3:::${bucket}/${prefix}/*`,
        Condition: { StringLike: { 's3:prefix': ['a b+c%20d/*'] } },
      },
    ],
  };
}

describe('parsePolicyDocument', () => {
  const doc = s3Policy('b', 'p');

  it('parses a URL-encoded document (as IAM returns it)', () => {
    assert.deepEqual(parsePolicyDocument(encodeURIComponent(JSON.stringify(doc))), doc);
  });

  it('parses plain JSON as it is, even with a literal % in it', () => {
    assert.deepEqual(parsePolicyDocument(` ${JSON.stringify(doc, null, 2)}\n`), doc);
  });
});

describe('AwsIam against moto', () => {
  const client = createIamClient(stackConfig().aws);
  const iam = new AwsIam(client);
  const role = uniqueName('pinpipe-iam-test');
  const otherRole = `${role}-b`;
  const profile = `${role}-profile`;

  after(async () => {
    // Best effort, whatever a failed test left behind.
    for (const r of [role, otherRole]) {
      await iam.removeRoleFromInstanceProfile(profile, r).catch(() => undefined);
      for (const p of await iam.listRolePolicies(r).catch(() => [])) {
        await iam.deleteRolePolicy(r, p).catch(() => undefined);
      }
    }
    await iam.deleteInstanceProfile(profile).catch(() => undefined);
    for (const r of [role, otherRole]) await iam.deleteRole(r).catch(() => undefined);
    client.destroy();
  });

  it('absent things are undefined or empty', async () => {
    assert.ok(role.length <= 64 && profile.length <= 64);
    assert.equal(await iam.getRole(role), undefined);
    assert.equal(await iam.getRolePolicy(role, 'nope'), undefined);
    assert.deepEqual(await iam.listRolePolicies(role), []);
    assert.equal(await iam.getInstanceProfile(profile), undefined);
  });

  it('creates a role with tags and a trust policy that round trip', async () => {
    const tags = { PipelineId: 'abc123', Name: `pinpipe client ${role}`, Odd: 'a+b=c/d:e@f' };
    const created = await iam.createRole({
      roleName: role,
      trustPolicy,
      description: 'pinpipe test role',
      tags,
    });
    assert.equal(created.roleName, role);
    assert.match(created.arn, new RegExp(`^arn:aws:iam::\\d{12}:role/${role}$`));
    assert.deepEqual(created.trustPolicy, trustPolicy);
    assert.deepEqual(created.tags, tags);

    const got = await iam.getRole(role);
    assert.deepEqual(got, created);

    await assert.rejects(
      iam.createRole({ roleName: role, trustPolicy, description: 'again', tags: {} }),
      { name: 'EntityAlreadyExistsException' },
    );
  });

  it('replaces the trust policy', async () => {
    const updated = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: ['ec2.amazonaws.com', 'ssm.amazonaws.com'] },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
        },
      ],
    };
    await iam.updateTrustPolicy(role, updated);
    assert.deepEqual((await iam.getRole(role))?.trustPolicy, updated);
    await iam.updateTrustPolicy(role, trustPolicy);
    assert.deepEqual((await iam.getRole(role))?.trustPolicy, trustPolicy);
    await assert.rejects(iam.updateTrustPolicy(`${role}-zz`, trustPolicy), {
      name: 'NoSuchEntityException',
    });
  });

  it('puts, gets, replaces, lists and deletes inline policies', async () => {
    assert.equal(await iam.getRolePolicy(role, 'data'), undefined);
    assert.deepEqual(await iam.listRolePolicies(role), []);

    const first = s3Policy('bucket-one', 'raw');
    await iam.putRolePolicy(role, 'data', first);
    assert.deepEqual(await iam.getRolePolicy(role, 'data'), first);

    const second = s3Policy('bucket-two', 'clean');
    await iam.putRolePolicy(role, 'data', second);
    assert.deepEqual(await iam.getRolePolicy(role, 'data'), second);
    assert.deepEqual(await iam.listRolePolicies(role), ['data']);

    const secrets = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinpipe/*',
        },
      ],
    };
    await iam.putRolePolicy(role, 'secrets', secrets);
    assert.deepEqual((await iam.listRolePolicies(role)).sort(), ['data', 'secrets']);
    assert.deepEqual(await iam.getRolePolicy(role, 'secrets'), secrets);

    // The contract: a role with inline policies cannot be deleted (moto enforces it like AWS).
    await assert.rejects(iam.deleteRole(role), { name: 'DeleteConflictException' });

    await iam.deleteRolePolicy(role, 'data');
    assert.equal(await iam.getRolePolicy(role, 'data'), undefined);
    assert.deepEqual(await iam.listRolePolicies(role), ['secrets']);
    await iam.deleteRolePolicy(role, 'data'); // absent policy
    await iam.deleteRolePolicy(`${role}-zz`, 'data'); // absent role
    await iam.deleteRolePolicy(role, 'secrets');
    assert.deepEqual(await iam.listRolePolicies(role), []);
  });

  it('creates an instance profile with tags and holds one role', async () => {
    const tags = { PipelineId: 'abc123', Name: `pinpipe client ${role}` };
    const created = await iam.createInstanceProfile({ name: profile, tags });
    assert.equal(created.name, profile);
    assert.match(created.arn, new RegExp(`^arn:aws:iam::\\d{12}:instance-profile/${profile}$`));
    assert.deepEqual(created.roleNames, []);
    assert.deepEqual(created.tags, tags);
    assert.deepEqual(await iam.getInstanceProfile(profile), created);

    await iam.addRoleToInstanceProfile(profile, role);
    await iam.addRoleToInstanceProfile(profile, role); // already there: not an error
    const withRole = await iam.getInstanceProfile(profile);
    assert.deepEqual(withRole?.roleNames, [role]);
    assert.deepEqual(withRole?.tags, tags);

    // A second, different role does not fit: still an error.
    await iam.createRole({ roleName: otherRole, trustPolicy, description: 'other', tags: {} });
    await assert.rejects(iam.addRoleToInstanceProfile(profile, otherRole), {
      name: 'LimitExceededException',
    });
    await assert.rejects(iam.addRoleToInstanceProfile(`${profile}-zz`, role), {
      name: 'NoSuchEntityException',
    });

    // Neither the role nor the profile can be deleted while the one holds the other.
    await assert.rejects(iam.deleteRole(role), { name: 'DeleteConflictException' });
    await assert.rejects(iam.deleteInstanceProfile(profile), { name: 'DeleteConflictException' });

    // Removing a role that exists but is not in the profile (moto: an HTML 500), an absent role
    // and an absent profile: none is an error, and the role in it stays.
    await iam.removeRoleFromInstanceProfile(profile, otherRole);
    await iam.removeRoleFromInstanceProfile(profile, `${role}-zz`);
    await iam.removeRoleFromInstanceProfile(`${profile}-zz`, role);
    assert.deepEqual((await iam.getInstanceProfile(profile))?.roleNames, [role]);

    await iam.removeRoleFromInstanceProfile(profile, role);
    assert.deepEqual((await iam.getInstanceProfile(profile))?.roleNames, []);
    await iam.removeRoleFromInstanceProfile(profile, role); // no longer in it
  });

  it('deletes the profile and the roles; deleting them again is not an error', async () => {
    await iam.deleteInstanceProfile(profile);
    assert.equal(await iam.getInstanceProfile(profile), undefined);
    await iam.deleteInstanceProfile(profile);

    await iam.deleteRole(role);
    await iam.deleteRole(otherRole);
    assert.equal(await iam.getRole(role), undefined);
    assert.equal(await iam.getRole(otherRole), undefined);
    await iam.deleteRole(role);
    assert.deepEqual(await iam.listRolePolicies(role), []);
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateSecretCommand, DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { AwsSecrets, createSecretsClient } from '../../src/adapters/aws-secrets';
import { stackConfig, uniqueName } from '../helpers/stack';

/** A throwaway value, multi-line like the SSH key this will hold. */
function fakeValue(): string {
  return `-----BEGIN TEST-----\n${randomBytes(24).toString('base64')}\n-----END TEST-----\n`;
}

describe('AwsSecrets against moto', () => {
  const client = createSecretsClient(stackConfig().aws);
  const secrets = new AwsSecrets(client, { deleteWaitMs: 5_000, pollMs: 200 });
  const name = `pinpipe/${uniqueName('secrets-test')}/ssh-key`;
  const noValue = `${name}-novalue`;
  const tags = { PipelineId: 'abc123', Name: `pinpipe client key ${name}` };

  after(async () => {
    for (const n of [name, noValue]) await secrets.deleteSecret(n).catch(() => undefined);
    client.destroy();
  });

  it('absent: describe and get are undefined, delete is not an error, restore is', async () => {
    assert.equal(await secrets.describeSecret(name), undefined);
    assert.equal(await secrets.getSecretValue(name), undefined);
    await secrets.deleteSecret(name);
    await assert.rejects(secrets.restoreSecret(name), { name: 'ResourceNotFoundException' });
    await assert.rejects(secrets.putSecretValue(name, 'x'), { name: 'ResourceNotFoundException' });
  });

  it('creates a secret with tags, describes it, reads and replaces its value', async () => {
    const v1 = fakeValue();
    const created = await secrets.createSecret({
      name,
      value: v1,
      description: 'pinpipe test secret',
      tags,
    });
    assert.equal(created.name, name);
    assert.match(created.arn, /^arn:aws:secretsmanager:us-east-1:\d{12}:secret:/);
    assert.deepEqual(created, { name, arn: created.arn, tags, deleted: false, hasValue: true });
    assert.deepEqual(await secrets.describeSecret(name), created);
    assert.equal(await secrets.getSecretValue(name), v1);

    const v2 = fakeValue();
    await secrets.putSecretValue(name, v2);
    assert.equal(await secrets.getSecretValue(name), v2);
    assert.deepEqual(await secrets.describeSecret(name), created);

    await assert.rejects(
      secrets.createSecret({ name, value: fakeValue(), description: 'dup', tags: {} }),
      { name: 'ResourceExistsException' },
    );
  });

  it('a secret scheduled for deletion is described as deleted and can be restored', async () => {
    const before = await secrets.getSecretValue(name);
    // The port never schedules a deletion; someone else (the console, the CLI) may have.
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    const scheduled = await secrets.describeSecret(name);
    assert.equal(scheduled?.deleted, true);
    assert.equal(scheduled?.hasValue, true);
    assert.deepEqual(scheduled?.tags, tags);
    // Still there, so not undefined: reading it is refused until it is restored.
    await assert.rejects(secrets.getSecretValue(name), { name: 'InvalidRequestException' });

    await secrets.restoreSecret(name);
    assert.equal((await secrets.describeSecret(name))?.deleted, false);
    assert.equal(await secrets.getSecretValue(name), before);
    await secrets.restoreSecret(name); // not scheduled for deletion: a no-op
  });

  it('deleteSecret deletes at once, also a secret scheduled for deletion', async () => {
    await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    await secrets.deleteSecret(name);
    assert.equal(await secrets.describeSecret(name), undefined);
    assert.equal(await secrets.getSecretValue(name), undefined);
    await secrets.deleteSecret(name); // absent now
  });

  it('a secret deleted by deleteSecret can be created again under the same name', async () => {
    const v3 = fakeValue();
    const again = await secrets.createSecret({ name, value: v3, description: 'again', tags });
    assert.equal(again.name, name);
    assert.deepEqual(await secrets.describeSecret(name), again);
    assert.equal(await secrets.getSecretValue(name), v3);
    await secrets.deleteSecret(name);
    assert.equal(await secrets.describeSecret(name), undefined);
  });

  it('a secret without a value: hasValue false, getSecretValue undefined', async () => {
    // The port always creates with a value; a secret made elsewhere may have none.
    await client.send(new CreateSecretCommand({ Name: noValue, Description: 'no value' }));
    const info = await secrets.describeSecret(noValue);
    assert.equal(info?.hasValue, false);
    assert.equal(info?.deleted, false);
    assert.deepEqual(info?.tags, {});
    assert.equal(await secrets.getSecretValue(noValue), undefined);

    const v = fakeValue();
    await secrets.putSecretValue(noValue, v);
    assert.equal((await secrets.describeSecret(noValue))?.hasValue, true);
    assert.equal(await secrets.getSecretValue(noValue), v);
    await secrets.deleteSecret(noValue);
    assert.equal(await secrets.describeSecret(noValue), undefined);
  });
});

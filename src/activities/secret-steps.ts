import { randomBytes } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { awsNames, awsTags } from '../domain/aws-resources';
import type { ResourceRecord, StepResult } from '../domain/provision-steps';
import { withHeartbeatClock } from './heartbeat-clock';
import type { NetworkPort } from '../ports/network';
import type { SecretsPort } from '../ports/secrets';
import { requireOwned, summaryOf, type Mode } from './aws-step-helpers';

/**
 * The aws target's secrets: the ingest API's token, the record signing key and the client host's
 * SSH key pair, whose private key lives in Secrets Manager only. No secret value leaves these functions.
 */

export interface EnsureSecretInput {
  pipelineId: string;
  mode: Mode;
}

export function createSecretSteps(ports: { network: NetworkPort; secrets: SecretsPort }) {
  const { network, secrets } = ports;

  /** A secret holding a value made here; an existing one (tag-proven) is kept as it is. */
  async function ensureSecret(
    pipelineId: string,
    mode: Mode,
    name: string,
    description: string,
    makeValue: () => string,
  ): Promise<ResourceRecord & { arn?: string }> {
    const deleteHow = `aws secretsmanager delete-secret --force-delete-without-recovery --secret-id ${name}`;
    const found = await secrets.describeSecret(name);
    requireOwned(found, `secret ${name}`, pipelineId);
    if (mode === 'plan') {
      return found
        ? {
            kind: 'secret',
            id: name,
            outcome: found.deleted || !found.hasValue ? 'differs' : 'exists',
            detail: found.deleted ? 'scheduled for deletion' : found.hasValue ? '' : 'no value',
            deleteHow,
            arn: found.arn,
          }
        : { kind: 'secret', id: name, outcome: 'create' };
    }
    if (!found) {
      const made = await secrets.createSecret({
        name,
        value: makeValue(),
        description,
        tags: awsTags(pipelineId, 'secret'),
      });
      return { kind: 'secret', id: name, outcome: 'created', deleteHow, arn: made.arn };
    }
    let outcome: ResourceRecord['outcome'] = 'exists';
    if (found.deleted) {
      await secrets.restoreSecret(name);
      outcome = 'updated';
    }
    if (!found.hasValue) {
      await secrets.putSecretValue(name, makeValue());
      outcome = 'updated';
    }
    return { kind: 'secret', id: name, outcome, deleteHow, arn: found.arn };
  }

  /**
   * The ingest API's bearer token and the key it signs validated records with (shared with the
   * host's worker), 32 random bytes each, made here, never returned.
   */
  async function ensureApiToken(input: EnsureSecretInput): Promise<StepResult> {
    Context.current().heartbeat();
    const names = awsNames(input.pipelineId);
    const { arn, ...record } = await ensureSecret(
      input.pipelineId,
      input.mode,
      names.apiTokenSecret,
      `pinpipe ${input.pipelineId}: the ingest API's bearer token (PINPIPE_API_TOKEN)`,
      () => randomBytes(32).toString('base64url'),
    );
    const { arn: keyArn, ...keyRecord } = await ensureSecret(
      input.pipelineId,
      input.mode,
      names.signingKeySecret,
      `pinpipe ${input.pipelineId}: the key the ingest API signs validated records with and the ` +
        'sink verifies them with (PINPIPE_SIGNING_KEY)',
      () => randomBytes(32).toString('hex'),
    );
    return {
      resources: [record, keyRecord],
      summary: `${summaryOf([record, keyRecord])}; read the token with: aws secretsmanager get-secret-value --secret-id ${names.apiTokenSecret} --query SecretString --output text`,
      outputs: {
        ...(arn ? { apiTokenSecretArn: arn } : {}),
        ...(keyArn ? { signingKeySecretArn: keyArn } : {}),
      },
    };
  }

  /**
   * The key pair and the secret holding its private key. A key pair whose key was lost (a
   * worker died between CreateKeyPair and storing it) is replaced: EC2 never shows a key twice.
   */
  async function ensureKeyPair(input: EnsureSecretInput): Promise<StepResult> {
    Context.current().heartbeat();
    const names = awsNames(input.pipelineId);
    const keyDeleteHow = `aws ec2 delete-key-pair --key-name ${names.keyPair}`;
    const secretDeleteHow = `aws secretsmanager delete-secret --force-delete-without-recovery --secret-id ${names.sshKeySecret}`;
    const pair = await network.describeKeyPair(names.keyPair);
    requireOwned(pair, `key pair ${names.keyPair}`, input.pipelineId);
    const secret = await secrets.describeSecret(names.sshKeySecret);
    requireOwned(secret, `secret ${names.sshKeySecret}`, input.pipelineId);
    const keyStored = secret !== undefined && !secret.deleted && secret.hasValue;
    const fetchHow = `aws secretsmanager get-secret-value --secret-id ${names.sshKeySecret} --query SecretString --output text > ${names.keyPair}.pem && chmod 600 ${names.keyPair}.pem`;
    if (input.mode === 'plan') {
      const resources: ResourceRecord[] = [
        pair
          ? {
              kind: 'key-pair',
              id: names.keyPair,
              outcome: keyStored ? 'exists' : 'differs',
              detail: keyStored ? '' : 'its private key is not in Secrets Manager',
              deleteHow: keyDeleteHow,
            }
          : { kind: 'key-pair', id: names.keyPair, outcome: 'create' },
        secret
          ? {
              kind: 'secret',
              id: names.sshKeySecret,
              outcome: keyStored ? 'exists' : 'differs',
              deleteHow: secretDeleteHow,
            }
          : { kind: 'secret', id: names.sshKeySecret, outcome: 'create' },
      ];
      return { resources, summary: summaryOf(resources) };
    }
    let keyOutcome: ResourceRecord['outcome'] = 'exists';
    let secretOutcome: ResourceRecord['outcome'] = 'exists';
    let secretArn = secret?.arn;
    if (!pair || !keyStored) {
      if (pair) {
        await network.deleteKeyPair(names.keyPair);
        keyOutcome = 'updated';
      } else keyOutcome = 'created';
      // A secret still holding an older key goes first: left in place, it would pass for the
      // new pair's if the worker died between CreateKeyPair and storing the new key.
      if (secret) {
        await withHeartbeatClock(
          () => undefined,
          () => secrets.deleteSecret(names.sshKeySecret),
        );
      }
      const made = await network.createKeyPair({
        keyName: names.keyPair,
        tags: awsTags(input.pipelineId, 'ssh'),
      });
      const s = await secrets.createSecret({
        name: names.sshKeySecret,
        value: made.privateKey,
        description: `pinpipe ${input.pipelineId}: private key of EC2 key pair ${names.keyPair}`,
        tags: awsTags(input.pipelineId, 'ssh'),
      });
      secretArn = s.arn;
      secretOutcome = secret ? 'updated' : 'created';
    }
    const resources: ResourceRecord[] = [
      {
        kind: 'key-pair',
        id: names.keyPair,
        outcome: keyOutcome,
        detail: 'private key in Secrets Manager',
        deleteHow: keyDeleteHow,
      },
      {
        kind: 'secret',
        id: names.sshKeySecret,
        outcome: secretOutcome,
        deleteHow: secretDeleteHow,
      },
    ];
    return {
      resources,
      summary: `${summaryOf(resources)}; fetch the key with: ${fetchHow}`,
      outputs: { keyName: names.keyPair, ...(secretArn ? { sshKeySecretArn: secretArn } : {}) },
    };
  }

  return { ensureApiToken, ensureKeyPair };
}

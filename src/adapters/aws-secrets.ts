import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  type DescribeSecretResponse,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import type { AwsConfig } from '../config';
import type { Tags } from '../ports/network';
import type { SecretInfo, SecretsPort } from '../ports/secrets';

/** AWS_ENDPOINT_URL (moto on the local stack) replaces Secrets Manager's endpoint. */
export function createSecretsClient(aws: AwsConfig): SecretsManagerClient {
  return new SecretsManagerClient({
    region: aws.region,
    ...(aws.controlEndpoint ? { endpoint: aws.controlEndpoint } : {}),
    ...(aws.credentials ? { credentials: aws.credentials } : {}),
    maxAttempts: 3,
  });
}

function isNotFound(err: unknown): boolean {
  return (err as { name?: string }).name === 'ResourceNotFoundException';
}

function toTags(tags: Tag[] | undefined): Tags {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

function toInfo(s: DescribeSecretResponse): SecretInfo {
  if (!s.Name || !s.ARN) throw new Error('Secrets Manager returned a secret without name or ARN');
  return {
    name: s.Name,
    arn: s.ARN,
    tags: toTags(s.Tags),
    deleted: s.DeletedDate !== undefined,
    // A secret created without a value has no versions at all (AWS and moto).
    hasValue: Object.values(s.VersionIdsToStages ?? {}).some((stages) =>
      stages.includes('AWSCURRENT'),
    ),
  };
}

export interface AwsSecretsOptions {
  /**
   * How long deleteSecret waits for a forced deletion to finish. AWS deletes asynchronously:
   * for a short while after DeleteSecret the name is still taken and CreateSecret of it fails.
   * moto 5.2.5 deletes at once, so there the first check already finds it gone.
   */
  deleteWaitMs: number;
  pollMs: number;
}

/**
 * Secret values pass through here and are never logged, put in an error message or returned
 * anywhere but from getSecretValue.
 */
export class AwsSecrets implements SecretsPort {
  private readonly options: AwsSecretsOptions;

  constructor(
    private readonly sm: SecretsManagerClient,
    options: Partial<AwsSecretsOptions> = {},
  ) {
    this.options = { deleteWaitMs: 30_000, pollMs: 1_000, ...options };
  }

  async describeSecret(name: string): Promise<SecretInfo | undefined> {
    try {
      return toInfo(await this.sm.send(new DescribeSecretCommand({ SecretId: name })));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async createSecret(input: {
    name: string;
    value: string;
    description: string;
    tags: Tags;
  }): Promise<SecretInfo> {
    const out = await this.sm.send(
      new CreateSecretCommand({
        Name: input.name,
        SecretString: input.value,
        Description: input.description,
        Tags: Object.entries(input.tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    if (!out.ARN) throw new Error(`CreateSecret ${input.name} returned no ARN`);
    return {
      name: out.Name ?? input.name,
      arn: out.ARN,
      tags: { ...input.tags },
      deleted: false,
      hasValue: true,
    };
  }

  /**
   * AWS refuses this on a secret scheduled for deletion (InvalidRequestException: restore it
   * first); moto 5.2.5 accepts it.
   */
  async putSecretValue(name: string, value: string): Promise<void> {
    await this.sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  }

  /** Restoring a secret that is not scheduled for deletion is a no-op (AWS and moto). */
  async restoreSecret(name: string): Promise<void> {
    await this.sm.send(new RestoreSecretCommand({ SecretId: name }));
  }

  /**
   * Undefined for an absent secret and for one without a current value (both
   * ResourceNotFoundException). A secret scheduled for deletion is not absent: reading it fails
   * with InvalidRequestException until it is restored. Only string values are read (this
   * adapter never writes binary ones).
   */
  async getSecretValue(name: string): Promise<string | undefined> {
    try {
      const out = await this.sm.send(new GetSecretValueCommand({ SecretId: name }));
      return out.SecretString;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * Forced deletion, then a bounded wait until the name is free (see AwsSecretsOptions). If the
   * deletion is still under way when the wait ends, this returns anyway: it was accepted.
   */
  async deleteSecret(name: string): Promise<void> {
    try {
      // For an absent name AWS (and moto) answer success with ForceDeleteWithoutRecovery;
      // ResourceNotFoundException is accepted too.
      await this.sm.send(
        new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const deadline = Date.now() + this.options.deleteWaitMs;
    while ((await this.describeSecret(name)) !== undefined && Date.now() < deadline) {
      await sleep(this.options.pollMs);
    }
  }
}

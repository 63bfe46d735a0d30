/**
 * The Secrets Manager calls of the aws target: the client host's SSH private key and the
 * ingest API's token live there and nowhere else (never in a workflow history, a log or the
 * inventory; activities return only the secret's name and ARN).
 */

import type { Tags } from './network';

export interface SecretInfo {
  name: string;
  arn: string;
  tags: Tags;
  /** Scheduled for deletion (still there, in its recovery window). */
  deleted: boolean;
  /** Whether the secret has a current value. */
  hasValue: boolean;
}

export interface SecretsPort {
  /** The secret, or undefined when there is none of that name. */
  describeSecret(name: string): Promise<SecretInfo | undefined>;
  createSecret(input: {
    name: string;
    value: string;
    description: string;
    tags: Tags;
  }): Promise<SecretInfo>;
  /** Sets a new current value of an existing secret. */
  putSecretValue(name: string, value: string): Promise<void>;
  /** Cancels a scheduled deletion. */
  restoreSecret(name: string): Promise<void>;
  /** The current value, or undefined when the secret or its value is absent. */
  getSecretValue(name: string): Promise<string | undefined>;
  /** Deletes at once, without a recovery window; an absent secret is not an error. */
  deleteSecret(name: string): Promise<void>;
}

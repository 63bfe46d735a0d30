import { ApplicationFailure } from '@temporalio/activity';
import type { ResourceRecord } from '../domain/provision-steps';

/** What the aws target's step activities share. */

export type Mode = 'apply' | 'plan';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const invalid = (message: string) =>
  ApplicationFailure.nonRetryable(message, 'InvalidConfig');

/**
 * IAM is eventually consistent: a Get may miss what a Create made a moment ago (this run's
 * earlier attempt), and the Create then says it exists. That is the state wanted.
 */
export async function alreadyExistsIsFine(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (err) {
    if ((err as { name?: string }).name !== 'EntityAlreadyExistsException') throw err;
  }
}

export function summaryOf(resources: ResourceRecord[]): string {
  return resources
    .map((r) => `${r.kind} ${r.id} ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`)
    .join('; ');
}

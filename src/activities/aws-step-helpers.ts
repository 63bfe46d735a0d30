import { ApplicationFailure } from '@temporalio/activity';
import { ownedBy } from '../domain/aws-resources';
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

/** A resource found under pinpipe's name must carry the pipeline's tag; else nothing is taken over. */
export function requireOwned(
  found: { tags: Record<string, string> } | undefined,
  what: string,
  pipelineId: string,
): void {
  if (found && !ownedBy(found.tags, pipelineId)) {
    throw invalid(`${what} exists but is not tagged for pipeline ${pipelineId}: remove it`);
  }
}

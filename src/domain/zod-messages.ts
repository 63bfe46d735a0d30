import type { z } from 'zod';

/**
 * zod issues as people read them: `path.to.field: message`, one per issue, in zod's order.
 * Pure: API errors, configuration errors, quarantine reasons and workflow input failures all
 * word their issues through here.
 */

export type ZodIssue = z.core.$ZodIssue;

export interface ZodMessageOptions {
  /** The name of the value itself, for an issue with an empty path: `input`, `body`, `record`. */
  root: string;
  /** At most this many issues, the first ones (default: all). */
  limit?: number;
  /** Between messages (default `; `). */
  separator?: string;
  /** How a path is written before its message (default: as is), e.g. with the value found there. */
  label?: (path: string, issue: ZodIssue) => string;
}

/** One `path: message` per issue (at most `limit`); a list, as for a multi-line report. */
export function zodIssueMessages(
  issues: readonly ZodIssue[],
  options: Omit<ZodMessageOptions, 'separator'>,
): string[] {
  const { root, limit = issues.length, label = (path) => path } = options;
  return issues.slice(0, Math.max(0, limit)).map((issue) => {
    const path = issue.path.length === 0 ? root : issue.path.map(String).join('.');
    return `${label(path, issue)}: ${issue.message}`;
  });
}

/** `path.to.field: message; other: message`: every issue (at most `limit`) on one line. */
export function formatZodIssues(issues: readonly ZodIssue[], options: ZodMessageOptions): string {
  return zodIssueMessages(issues, options).join(options.separator ?? '; ');
}

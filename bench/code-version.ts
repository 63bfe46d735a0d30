import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { repoRoot } from '../test/helpers/stack';

/**
 * The code a bench measured: HEAD and the source files that differed from it when the bench
 * started. Workers run the working tree through tsx, so an uncommitted edit is part of what
 * was measured, and two runs are only comparable when this matches.
 */
export interface CodeVersion {
  head: string;
  uncommitted: string[];
  /** Hash of `git diff HEAD -- src`: tells a further edit of an already modified file. */
  diffHash: string;
}

export function codeVersion(): CodeVersion {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
  try {
    return {
      head: git('rev-parse', '--short', 'HEAD'),
      uncommitted: git('status', '--porcelain', '--', 'src')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.slice(3)),
      diffHash: createHash('sha1')
        .update(git('diff', 'HEAD', '--', 'src'))
        .digest('hex')
        .slice(0, 10),
    };
  } catch {
    return { head: 'unknown (no git)', uncommitted: [], diffHash: '' };
  }
}

export const describeVersion = (v: CodeVersion): string =>
  v.head +
  (v.uncommitted.length > 0
    ? ` + uncommitted ${v.uncommitted.join(', ')} (diff ${v.diffHash})`
    : '');

import type { EmulatorSummary } from './run-emulator';
import type { EmulatorCounts } from './stats';

/**
 * 130 when interrupted (the shell's code for SIGINT), 1 when the run was aborted or any record
 * ended neither acknowledged nor rejected (it may not be in Kafka), else 0. Schema rejections
 * alone are not a failure: the API decided about each of those records and said so.
 */
export function exitCodeFor(summary: EmulatorSummary): number {
  if (summary.outcome === 'interrupted') return 130;
  if (summary.outcome === 'aborted' || summary.failed > 0) return 1;
  return 0;
}

const rate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** One line of progress: a bar (when `width` > 0), the counts and the event rate. */
export function formatProgress(
  counts: EmulatorCounts,
  total: number,
  elapsedMs: number,
  width = 20,
): string {
  const done = total > 0 ? Math.min(1, counts.events / total) : 1;
  const filled = Math.round(done * width);
  const bar = width > 0 ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
  const perSecond = elapsedMs > 0 ? (counts.events * 1000) / elapsedMs : 0;
  return (
    `${bar}${(done * 100).toFixed(0).padStart(3)}% ${counts.events}/${total} events` +
    ` | sent ${counts.sent} acked ${counts.acknowledged} rejected ${counts.rejected}` +
    ` errors ${counts.errors} failed ${counts.failed} | ${rate(perSecond)} events/s`
  );
}

/** The end-of-run summary for people (the --json summary is the object itself). */
export function formatSummary(s: EmulatorSummary): string {
  const outcome =
    s.outcome === 'completed'
      ? s.failed > 0
        ? 'completed with failures'
        : 'completed'
      : s.outcome === 'interrupted'
        ? 'interrupted'
        : `aborted: ${s.abortReason ?? ''}`;
  const rows: [string, string][] = [
    ['events', `${s.events} of ${s.count}`],
    ['records sent', String(s.sent)],
    ['acknowledged', String(s.acknowledged)],
    ['rejected', String(s.rejected)],
    ['retried', String(s.retried)],
    ['failed', String(s.failed)],
    ['requests', String(s.requests)],
    ['duration', `${(s.durationMs / 1000).toFixed(2)} s`],
    [
      'rate',
      `${rate(s.eventsPerSecond)} events/s (${rate(s.recordsPerSecond)} records/s acknowledged)`,
    ],
  ];
  const lines = [
    `pinpipe emulate: ${outcome}`,
    `  ${s.url} pipeline ${s.pipelineId} seed ${String(s.seed)}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(13)} ${v}`),
  ];
  if (s.topErrors.length > 0) {
    lines.push('  most frequent errors:');
    for (const e of s.topErrors) lines.push(`    ${String(e.count).padStart(6)} × ${e.message}`);
  }
  return lines.join('\n');
}

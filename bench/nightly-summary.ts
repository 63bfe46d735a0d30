import { TABLES } from '../src/domain/tables';
import type { SizeResult } from './nightly-bench';
import { BIG, REFERENCE, type NightlyOptions } from './nightly-options';
import type { NightlyFigures, NightlyOutcome } from './nightly-run';
import type { Baseline } from './plain-clean-baseline';

/** The nightly bench's printed report: a few lines per nightly as it ends, then the summary. */

const TARGET_BASELINE_SHARE = 0.5;
const TARGET_BIG_RATIO = 12;
const TARGET_RSS_MB = 1024;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const s1 = (n: number) => `${n.toFixed(1)} s`;
const x2 = (n: number) => `${n.toFixed(2)}×`;
const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;
const mb = (n: number) => `${n.toFixed(0)} MB`;
const maxOf = (xs: number[]) => Math.max(0, ...xs);

export function printRunSummary(
  run: NightlyOutcome,
  base: Baseline,
  quiet?: Baseline,
  s3?: Baseline,
): void {
  if (!run.ok) {
    console.log(`    FAILED on ${run.workers} worker(s), ${run.workflowId}: ${run.error}`);
    for (const line of run.seen) console.log(`      ${line.replaceAll('\n', '\n      ')}`);
    return;
  }
  const vsQuiet =
    (quiet ? `; ${x2(run.cleaningRowsPerSec / quiet.rowsPerSec)} the quiet baseline` : '') +
    (s3 ? `; ${x2(run.cleaningRowsPerSec / s3.rowsPerSec)} the baseline reading S3` : '');
  console.log(
    `    ${run.workers} worker(s): nightly wall ${s1(run.wallSeconds)} (to the last commit ${s1(run.cleaningSeconds)}, ` +
      `analytics ${s1(run.analyticsSeconds)}); cleaning ${int(run.cleaningRowsPerSec)} rows/s = ` +
      `${x2(run.cleaningRowsPerSec / base.rowsPerSec)} baseline (target >= ${TARGET_BASELINE_SHARE}${vsQuiet})`,
  );
  for (const t of TABLES) {
    const f = run.perTable[t];
    console.log(
      `      ${t.padEnd(4)} ${int(f.rawRecords)} raw → ${int(f.rowsOut)} rows, ${f.shards} shards, ` +
        `committed at ${s1(f.seconds)}: ${int(f.rowsPerSec)} rows/s = ${x2(f.rowsPerSec / base[t].rowsPerSec)} ` +
        `baseline ${t} (plan ${s1(f.planSeconds)}, shards Σ ${s1(f.shardActivitySeconds)}, commit ${s1(f.commitSeconds)})`,
    );
  }
  console.log(
    `      largest history ${run.largestHistory.workflowId} ${kb(run.largestHistory.bytes)} ` +
      `(${run.largestHistory.events} events); worker peak RSS ${run.peakRssMb.map(mb).join(' / ')} ` +
      `(after start-up ${run.idleRssMb.map(mb).join(' / ')}); worker CPU ` +
      `${run.workerCpuSeconds.map(s1).join(' / ')} over the ${s1(run.wallSeconds)} wall`,
  );
}

const ok = (runs: NightlyOutcome[]) => runs.filter((r): r is { ok: true } & NightlyFigures => r.ok);
const baselineLine = (b: Baseline) =>
  TABLES.map((t) => `${t} ${b[t].seconds.toFixed(2)} s`).join(' · ') +
  ` = ${int(b.rowsPerSec)} rows/s`;

/** Prints the summary and returns its figures (also written to the JSON result). */
export function printSizeSummary(sizes: SizeResult[], o: NightlyOptions, hog?: string) {
  console.log(`\n== nightly bench summary ==\nCPU hog: ${hog ?? 'none (--no-hog)'}`);
  const out: Record<string, unknown>[] = [];
  for (const s of sizes) {
    const rawMb = TABLES.reduce((n, t) => n + s.raw.bytes[t], 0) / 2 ** 20;
    console.log(
      `${int(s.events)} events (${s.raw.objects} objects × ${int(o.perObject)} records per table, ` +
        `${rawMb.toFixed(0)} MB raw), seeded in ${s1(s.seedSeconds)} (${o.parallelPuts} puts in flight)`,
    );
    console.log(
      `  baseline, plain DuckDB over local files (${s.baseline.memoryLimit}${hog ? ', beside the hog' : ''}): ${baselineLine(s.baseline)}`,
    );
    if (s.quietBaseline) console.log(`  baseline, hog paused: ${baselineLine(s.quietBaseline)}`);
    console.log(
      `  baseline reading the objects from S3 in place (httpfs${hog ? ', beside the hog' : ''}): ${baselineLine(s.s3Baseline)}`,
    );
    console.log(
      '  workers | nightly wall | to last commit | cleaning rows/s | × baseline | × quiet | × S3 baseline | largest history | peak RSS',
    );
    const quiet = (r: NightlyFigures) =>
      s.quietBaseline ? x2(r.cleaningRowsPerSec / s.quietBaseline.rowsPerSec) : '-';
    for (const r of s.nightlies) {
      if (!r.ok) {
        console.log(`  ${String(r.workers).padEnd(7)} | FAILED: ${r.error}`);
        continue;
      }
      console.log(
        `  ${String(r.workers).padEnd(7)} | ${s1(r.wallSeconds).padEnd(12)} | ${s1(r.cleaningSeconds).padEnd(14)} | ` +
          `${int(r.cleaningRowsPerSec).padEnd(15)} | ${x2(r.cleaningRowsPerSec / s.baseline.rowsPerSec).padEnd(10)} | ` +
          `${quiet(r).padEnd(7)} | ${x2(r.cleaningRowsPerSec / s.s3Baseline.rowsPerSec).padEnd(13)} | ` +
          `${kb(r.largestHistory.bytes).padEnd(15)} | ${mb(maxOf(r.peakRssMb))}`,
      );
    }
    console.log(
      `  (× baseline: cleaning rows/s over the baseline's${hog ? ' beside the hog' : ''}, target >= ${TARGET_BASELINE_SHARE}` +
        `${s.quietBaseline ? '; × quiet: over the baseline with the hog paused' : ''}` +
        '; × S3 baseline: over the same statement reading the objects from S3)',
    );
    const runs = ok(s.nightlies);
    const one = runs.find((r) => r.workers === 1);
    const three = runs.find((r) => r.workers === 3);
    const scaling = one && three ? three.wallSeconds / one.wallSeconds : undefined;
    if (one && three) {
      console.log(
        `  3 vs 1 workers: nightly wall ${x2(three.wallSeconds / one.wallSeconds)}, ` +
          `to last commit ${x2(three.cleaningSeconds / one.cleaningSeconds)}`,
      );
    }
    out.push({
      events: s.events,
      baselineRowsPerSec: s.baseline.rowsPerSec,
      quietBaselineRowsPerSec: s.quietBaseline?.rowsPerSec,
      s3BaselineRowsPerSec: s.s3Baseline.rowsPerSec,
      runs: runs.map((r) => ({
        workers: r.workers,
        wallSeconds: r.wallSeconds,
        cleaningSeconds: r.cleaningSeconds,
        shareOfBaseline: r.cleaningRowsPerSec / s.baseline.rowsPerSec,
        shareOfQuietBaseline: s.quietBaseline && r.cleaningRowsPerSec / s.quietBaseline.rowsPerSec,
        shareOfS3Baseline: r.cleaningRowsPerSec / s.s3Baseline.rowsPerSec,
        largestHistoryBytes: r.largestHistory.bytes,
        peakRssMb: maxOf(r.peakRssMb),
      })),
      failed: s.nightlies.filter((r) => !r.ok).length,
      wallRatio3vs1: scaling,
    });
  }
  const big = printBig(sizes, o);
  return { sizes: out, big };
}

/** --big: the 10M day against the 1M day, at the same worker count. */
function printBig(sizes: SizeResult[], o: NightlyOptions) {
  if (!o.big) return undefined;
  const workers = o.workers[0];
  const at = (events: number) =>
    ok(sizes.find((s) => s.events === events)?.nightlies ?? []).find((r) => r.workers === workers);
  const [ref, big] = [at(REFERENCE), at(BIG)];
  if (!ref || !big) {
    console.log(`10M vs 1M: not measured (a nightly failed or did not run)`);
    return undefined;
  }
  const ratio = big.wallSeconds / ref.wallSeconds;
  const rss = maxOf(big.peakRssMb);
  console.log(
    `10M vs 1M on ${workers} worker(s): nightly wall ${x2(ratio)} (target <= ${TARGET_BIG_RATIO}×); ` +
      `worker peak RSS at 10M ${mb(rss)} (target < ${TARGET_RSS_MB} MB)`,
  );
  return { workers, wallRatio: ratio, peakRssMb: rss };
}

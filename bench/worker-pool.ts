import { readFileSync } from 'node:fs';
import { startWorkerProcess, type Spawned } from '../test/helpers/processes';
import { rssMb } from './bench-context';

/**
 * N real worker processes (src/workers/main.ts) on one task queue, with each one's resident
 * memory sampled while a measurement runs. Sampling starts after start-up on purpose: the
 * workflow bundle is built at start-up, and that peak is not the nightly's.
 */
export interface WorkerPool {
  pids: number[];
  /** RSS of each worker right after start-up, MiB. */
  idleRssMb: number[];
  startSampling(): void;
  /** Peak RSS (MiB) and CPU seconds (user + system, DuckDB's threads included) of each worker. */
  stopSampling(): { peakRssMb: number[]; cpuSeconds: number[] };
  /** Output of the worker that exited or printed an error (for the report on a failure). */
  output(): string;
  stop(): Promise<void>;
}

/** 0 once the process has gone (/proc entry removed), rather than throwing mid-sample. */
function safeRss(pid: number): number {
  try {
    return rssMb(pid);
  } catch {
    return 0;
  }
}

/**
 * User + system CPU seconds of a process, all threads (/proc/<pid>/stat fields 14 and 15, in
 * clock ticks; USER_HZ is 100 on every Linux ABI Node runs on). Tells a CPU-bound nightly from
 * one that waits. NaN once the process has gone.
 */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export async function startWorkerPool(taskQueue: string, count: number): Promise<WorkerPool> {
  // One after another: two cores bundling three workflow bundles at once only slows each.
  const workers: Spawned[] = [];
  try {
    for (let i = 0; i < count; i++) workers.push(await startWorkerProcess(taskQueue));
  } catch (err) {
    await stopAll(workers);
    throw err;
  }
  const pids = workers.map((w) => w.child.pid!);
  const peaks = pids.map(() => 0);
  let cpuAtStart = pids.map(() => 0);
  let timer: NodeJS.Timeout | undefined;
  const sample = () => pids.forEach((pid, i) => (peaks[i] = Math.max(peaks[i]!, safeRss(pid))));
  return {
    pids,
    idleRssMb: pids.map(safeRss),
    startSampling() {
      peaks.fill(0);
      cpuAtStart = pids.map(cpuSeconds);
      sample();
      timer = setInterval(sample, 100);
    },
    stopSampling() {
      clearInterval(timer);
      sample();
      const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuAtStart[i]!);
      return { peakRssMb: [...peaks], cpuSeconds: cpu };
    },
    output: () =>
      workers.map((w, i) => `--- worker ${i + 1} (pid ${pids[i]}) ---\n${w.output()}`).join('\n'),
    stop: () => {
      clearInterval(timer);
      return stopAll(workers);
    },
  };
}

async function stopAll(workers: Spawned[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

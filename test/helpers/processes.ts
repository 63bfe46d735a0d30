import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { repoRoot, stackEnv } from './stack';

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Extra node flags for every child, e.g. PINPIPE_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p"
 * to profile the worker or API under a bench (NODE_OPTIONS refuses --cpu-prof).
 */
function childNodeArgs(): string[] {
  return (process.env['PINPIPE_CHILD_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
}

/** Runs a TypeScript entry point of ours (through tsx) as a real child process. */
export function spawnEntry(
  entry: string,
  env: Record<string, string | undefined>,
  args: string[] = [],
): Spawned {
  const child = spawn(
    process.execPath,
    [...childNodeArgs(), '--require', 'tsx/cjs', path.join(repoRoot, entry), ...args],
    {
      cwd: repoRoot,
      env: { ...env, NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the output is complete only once the pipes are drained.
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  return { child, output: () => out, exited };
}

export async function waitForOutput(
  p: Spawned,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(p.output())) {
    if (p.child.exitCode !== null) throw new Error(`process exited early:\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** A real worker process (`src/workers/main.ts`) on its own task queue against the local stack. */
export async function startWorkerProcess(
  taskQueue: string,
  env: Record<string, string | undefined> = {},
  entry = 'src/workers/main.ts',
): Promise<Spawned> {
  const w = spawnEntry(entry, {
    ...stackEnv(),
    ...env,
    TEMPORAL_TASK_QUEUE: taskQueue,
    PINPIPE_METRICS_PORT: String(await freePort()),
  });
  await waitForOutput(w, /pinpipe worker: task queue/);
  return w;
}

/** A worker that SIGKILLs itself while `activity` runs (see fault-worker.ts). */
export function startFaultWorker(taskQueue: string, activity: string): Promise<Spawned> {
  return startWorkerProcess(
    taskQueue,
    { PINPIPE_FAULT_ACTIVITY: activity },
    'test/helpers/fault-worker.ts',
  );
}

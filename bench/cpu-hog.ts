import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A CPU-hungry neighbour for the nightly bench: one child `node -e 'for(;;){}'`, a busy loop that
 * keeps one core at 100% for as long as it lives (on a 2-core machine, half of it). The nightly
 * has to complete beside it without heartbeat timeouts or stalls. It can be paused (SIGSTOP) for
 * a measurement that wants the quiet machine, and is killed with the bench even on a crash.
 */
export interface CpuHog {
  pid: number;
  description: string;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export function startCpuHog(): CpuHog {
  const child: ChildProcess = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the CPU hog (node -e busy loop)');
  const exited = once(child, 'exit');
  // Never outlive the bench: 'exit' handlers run on process.exit and normal ends alike.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  return {
    pid,
    description: `one \`node -e 'for(;;){}'\` busy loop (pid ${pid}), one core at 100%`,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Memory as the hostile-input tests measure it: V8's heap plus what lives outside it (Buffers),
 * after a full collection when one is wanted. `gc` is not exposed to mocha's process by default;
 * turning the flag on at run time and taking the function from a fresh context gives it anyway.
 */
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

export function collectGarbage(): void {
  gc();
}

/** Heap and external memory (Buffers count in external), in bytes. */
export function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/**
 * Runs `fn` while sampling memory every few milliseconds: the peak above what was in use at the
 * start, as a transient allocation (bytes buffered then dropped) counts as much as a kept one.
 */
export async function peakGrowthWhile<T>(
  fn: () => Promise<T>,
  everyMs = 5,
): Promise<{ value: T; peak: number }> {
  collectGarbage();
  const start = usedBytes();
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, usedBytes() - start);
  };
  const timer = setInterval(sample, everyMs);
  try {
    const value = await fn();
    sample();
    return { value, peak };
  } finally {
    clearInterval(timer);
  }
}

export const MiB = 1024 * 1024;

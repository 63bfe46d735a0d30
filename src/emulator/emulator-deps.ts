import type { FetchLike } from './rest-proxy-client';

/** Side effects the emulator needs, injectable so its logic can be tested without a network. */
export interface EmulatorDeps {
  fetch: FetchLike;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  now: () => number;
  random: () => number;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

export const realDeps: EmulatorDeps = {
  fetch: (url, init) => fetch(url, init),
  sleep: abortableSleep,
  now: () => performance.now(),
  random: Math.random,
};

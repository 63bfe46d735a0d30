/**
 * Failure injection for the in-memory fakes: queue an error for a method's next call(s), before
 * the call takes effect (nothing changed) or after (the change is made, the answer is lost: what
 * a crash between a write and its reply looks like to the caller).
 */

export type FaultPhase = 'before' | 'after';

interface Fault {
  error: () => Error;
  phase: FaultPhase;
  /** Calls that pass before this fault starts failing. */
  skip: number;
  remaining: number;
}

export class Faults<M extends string = string> {
  private readonly queued = new Map<M, Fault[]>();
  /** Calls per method, counted whether or not they failed. */
  readonly calls = new Map<M, number>();

  /**
   * The next `times` calls of `method` (after `skip` that pass) throw `error` (a fresh Error per
   * call when it is a function).
   */
  fail(
    method: M,
    error: Error | (() => Error),
    options: { phase?: FaultPhase; times?: number; skip?: number } = {},
  ): this {
    const list = this.queued.get(method) ?? [];
    list.push({
      error: typeof error === 'function' ? error : () => error,
      phase: options.phase ?? 'before',
      skip: options.skip ?? 0,
      remaining: options.times ?? 1,
    });
    this.queued.set(method, list);
    return this;
  }

  /** Called by a fake on entry: counts the call and throws a `before` fault if one is due. */
  enter(method: M): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    this.take(method, 'before');
  }

  /** Called by a fake once its change is made: throws an `after` fault if one is due. */
  leave(method: M): void {
    this.take(method, 'after');
  }

  /** A fake's call: counted, its faults applied, its result (or error) as a promise. */
  run<T>(method: M, body: () => T): Promise<T> {
    return new Promise<T>((resolve) => {
      this.enter(method);
      const result = body();
      this.leave(method);
      resolve(result);
    });
  }

  count(method: M): number {
    return this.calls.get(method) ?? 0;
  }

  private take(method: M, phase: FaultPhase): void {
    const list = this.queued.get(method);
    const fault = list?.find((f) => f.phase === phase);
    if (!list || !fault) return;
    if (fault.skip > 0) {
      fault.skip--;
      return;
    }
    if (--fault.remaining <= 0) list.splice(list.indexOf(fault), 1);
    throw fault.error();
  }
}

/** An error shaped like an AWS SDK one: `name` is what the code under test looks at. */
export function awsError(name: string, message = name): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** A copy of `value` without `keys` (what a fake keeps to itself: a secret, its counters). */
export function omit<T extends object, K extends keyof T>(value: T, ...keys: K[]): Omit<T, K> {
  const copy = { ...value };
  for (const k of keys) delete copy[k];
  return copy;
}

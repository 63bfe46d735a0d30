/**
 * A counting semaphore for one worker process. The cleaning of a day fans out over every worker
 * on the task queue; this caps how many shards ONE process runs through DuckDB at a time, so a
 * worker's memory stays bounded however many shard tasks it has accepted.
 */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new Error(`concurrency limit must be a positive integer, got ${limit}`);
    }
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((go) => this.waiting.push(go));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter (active stays the same), or free it.
      if (next) next();
      else this.active--;
    }
  }
}

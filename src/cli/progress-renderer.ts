import { formatProgress } from '../emulator/report';
import type { EmulatorCounts } from '../emulator/stats';

/**
 * Shows emulator progress on stderr: on a terminal, one line redrawn in place (at most every
 * 100 ms); otherwise (logs, CI) a plain line every `plainEveryMs`, so a log is not flooded.
 */
export class ProgressRenderer {
  private last = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly total: number,
    private readonly plainEveryMs = 5_000,
  ) {}

  update(counts: EmulatorCounts, elapsedMs: number, force = false): void {
    const tty = this.out.isTTY;
    const every = tty ? 100 : this.plainEveryMs;
    if (!force && elapsedMs - this.last < every) return;
    this.last = elapsedMs;
    if (tty) {
      const width = Math.max(0, Math.min(30, (this.out.columns ?? 100) - 100));
      this.out.write(`\r${formatProgress(counts, this.total, elapsedMs, width)}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${formatProgress(counts, this.total, elapsedMs, 0)}\n`);
    }
  }

  /** Draws the final state (terminal only) and ends the line so what follows starts fresh. */
  finish(counts: EmulatorCounts, elapsedMs: number): void {
    if (this.drawn) {
      this.update(counts, elapsedMs, true);
      this.out.write('\n');
    }
    this.drawn = false;
  }
}

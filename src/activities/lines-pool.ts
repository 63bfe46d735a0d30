/**
 * Buffers for the lines of signed runs, reused batch after batch. The sink frames ~3 MB of lines
 * per batch; allocating each anew counted as external memory to V8, whose pressure made the
 * young generation be collected every ~30 ms while a backlog drained (a fifth of the sink's main
 * thread). A buffer is taken for one batch and given back once every object of that batch is
 * written; one that is not given back (a failed write) is simply left to the collector.
 */
export class LinesPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(
    private readonly keep = 8,
    private readonly minBytes = 4 * 1024 * 1024,
  ) {}

  /** A view of `size` bytes at the start of a buffer no one else holds. */
  take(size: number): Uint8Array {
    const i = this.free.findIndex((b) => b.byteLength >= size);
    const buffer =
      i >= 0 ? this.free.splice(i, 1)[0]! : new ArrayBuffer(Math.max(size, this.minBytes));
    return new Uint8Array(buffer, 0, size);
  }

  /** Gives a buffer back; nothing may read or write it afterwards. */
  give(buffer: ArrayBufferLike): void {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return; // moved or shared
    if (this.free.includes(buffer)) return;
    if (this.free.length >= this.keep) this.free.shift();
    this.free.push(buffer);
  }
}

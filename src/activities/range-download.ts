import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { RangeCutter, streamStart, type ShardRange } from '../domain/clean-shards';
import type { ObjectStore } from '../ports/object-store';

/** A local file holding the whole lines a range owns, starting at byte `baseOffset` of `source`. */
export interface DownloadedRange {
  file: string;
  source: string;
  baseOffset: number;
  bytes: number;
}

/**
 * Streams each range of a shard from S3 into a local file of its own, cut to whole lines (see
 * RangeCutter): bytes only, never parsed here. `progress` counts bytes written, for heartbeats.
 * A range whose object vanished is an error naming it: the day's input list is fixed by the plan.
 */
export async function downloadRanges(
  store: ObjectStore,
  bucket: string,
  ranges: readonly ShardRange[],
  dir: string,
  progress: { bytes: number; range: number },
): Promise<DownloadedRange[]> {
  const out: DownloadedRange[] = [];
  for (const [i, range] of ranges.entries()) {
    progress.range = i;
    const file = path.join(dir, `range-${String(i).padStart(5, '0')}.ndjson`);
    const cutter = new RangeCutter(range);
    const sink = createWriteStream(file);
    let bytes = 0;
    try {
      if (range.end > range.start) {
        const body = await store.getStream({ bucket, key: range.key, start: streamStart(range) });
        if (!body) {
          throw new Error(`raw object s3://${bucket}/${range.key} is in the plan but gone`);
        }
        for await (const chunk of body) {
          const kept = cutter.push(chunk);
          if (kept.length > 0) {
            bytes += kept.length;
            progress.bytes += kept.length;
            if (!sink.write(kept)) await once(sink, 'drain');
          }
          if (cutter.done) break; // aborts the rest of the request
        }
      }
    } finally {
      sink.end();
      await once(sink, 'close');
    }
    out.push({ file, source: range.key, baseOffset: cutter.firstLineAt ?? range.start, bytes });
  }
  return out;
}

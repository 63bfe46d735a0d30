import { downloadObject } from '../src/activities/range-download';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { drawEvents, type SourceEvent } from '../src/domain/generator';
import { rawDayPrefix, rawObjectKey } from '../src/domain/raw-zone';
import { bucketFor, TABLES, topicFor, type Table } from '../src/domain/tables';
import type { ObjectStore } from '../src/ports/object-store';

/**
 * A bench's raw day: events generated straight into the raw zone (the sink's layout and
 * metadata, without Kafka in the way), and the same objects downloaded to local files for the
 * plain DuckDB baseline.
 */

export interface RawDay {
  pipelineId: string;
  bucket: string;
  day: string;
  events: number;
  /** Raw objects per table. */
  objects: number;
  bytes: Record<Table, number>;
}

/**
 * At most `limit` promises in flight. The generator is synchronous and fast, so without a bound
 * it would queue every object's body in memory before the first put finished.
 */
class InFlight {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  constructor(private readonly limit: number) {}

  async add(task: () => Promise<unknown>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
    const p: Promise<void> = task()
      .then(
        () => undefined,
        (error: unknown) => void (this.failure ??= { error }),
      )
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    this.check();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}

export async function seedRawDay(
  store: ObjectStore,
  o: { pipelineId: string; day: string; events: number; perObject: number; parallel: number },
): Promise<RawDay> {
  const bucket = bucketFor(o.pipelineId);
  await store.ensureBucket(bucket);
  const pool = new InFlight(o.parallel);
  const bytes: Record<Table, number> = { pin: 0, geo: 0, user: 0 };
  let objects = 0;
  let batch: SourceEvent[] = [];
  const flush = async () => {
    const first = objects * o.perObject;
    const records = batch;
    for (const table of TABLES) {
      // Built here (synchronously) so `records` can be dropped as soon as all three are queued.
      const body = `${records.map((e) => JSON.stringify(e[table])).join('\n')}\n`;
      bytes[table] += Buffer.byteLength(body);
      await pool.add(() =>
        store.put({
          bucket,
          key: rawObjectKey({
            topic: topicFor(o.pipelineId, table),
            partition: 0,
            startOffset: first,
            day: o.day,
          }),
          body,
          metadata: {
            'first-offset': String(first),
            'last-offset': String(first + records.length - 1),
            'record-count': String(records.length),
          },
        }),
      );
    }
    objects++;
    batch = [];
  };
  for (const e of drawEvents({ seed: `bench-${o.events}`, count: o.events })) {
    batch.push(e);
    if (batch.length === o.perObject) await flush();
  }
  if (batch.length > 0) await flush();
  await pool.drain();
  return { pipelineId: o.pipelineId, bucket, day: o.day, events: o.events, objects, bytes };
}

/** Every raw object of the day, per table, as `s3://bucket/key` URLs (for DuckDB's httpfs). */
export async function rawDayUrls(
  store: ObjectStore,
  raw: RawDay,
): Promise<Record<Table, string[]>> {
  const urls: Record<Table, string[]> = { pin: [], geo: [], user: [] };
  for (const table of TABLES) {
    const prefix = rawDayPrefix(topicFor(raw.pipelineId, table), raw.day);
    for await (const o of store.list({ bucket: raw.bucket, prefix })) {
      urls[table].push(`s3://${raw.bucket}/${o.key}`);
    }
  }
  return urls;
}

/** Every raw object of the day, per table, as local files under `dir/<table>/`. */
export async function downloadRawDay(
  store: ObjectStore,
  raw: RawDay,
  dir: string,
  parallel: number,
): Promise<Record<Table, string[]>> {
  const files: Record<Table, string[]> = { pin: [], geo: [], user: [] };
  const pool = new InFlight(parallel);
  for (const table of TABLES) {
    const into = path.join(dir, table);
    await mkdir(into, { recursive: true });
    const prefix = rawDayPrefix(topicFor(raw.pipelineId, table), raw.day);
    for await (const o of store.list({ bucket: raw.bucket, prefix })) {
      const file = path.join(into, path.basename(o.key));
      files[table].push(file);
      await pool.add(() => download(store, raw.bucket, o.key, file));
    }
  }
  await pool.drain();
  return files;
}

/** Streamed to disk: a 10M-event day does not fit the bench's heap. */
async function download(store: ObjectStore, bucket: string, key: string, file: string) {
  if (!(await downloadObject(store, bucket, key, file))) {
    throw new Error(`s3://${bucket}/${key} vanished during the bench`);
  }
}

/** Removes the bench's bucket and everything in it (raw, staging, clean, analytics). */
export async function dropBucket(store: ObjectStore, bucket: string): Promise<number> {
  const keys: string[] = [];
  for await (const o of store.list({ bucket, prefix: '' })) keys.push(o.key);
  for (let i = 0; i < keys.length; i += 1000) {
    await store.deleteMany(bucket, keys.slice(i, i + 1000));
  }
  await store.deleteBucket(bucket);
  return keys.length;
}

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createCleaningActivities,
  type CleanShardInput,
} from '../../src/activities/cleaning-activities';
import { duckDbS3OptionsFrom } from '../../src/activities/analytics-activities';
import { type DuckDbS3Options } from '../../src/analytics/duckdb-session';
import { createAdapters, type Adapters } from '../../src/adapters/create-adapters';
import { openDuckDb } from '../../src/analytics/duckdb-session';
import { parquetPathSql } from '../../src/analytics/sql-text';
import {
  cleanPlanKey,
  cleanShardPartKey,
  cleanShardQuarantineKey,
} from '../../src/domain/clean-zone';
import { rawObjectKey } from '../../src/domain/raw-zone';
import { bucketFor, topicFor } from '../../src/domain/tables';
import type { ObjectStore } from '../../src/ports/object-store';
import { activityAttempt } from '../fakes/activity-environment';
import { pinRecord, randomPipelineId } from '../helpers/ingest-fixtures';
import { stackConfig } from '../helpers/stack';

/**
 * The shards' two ways to their raw objects, on the real S3 server: DuckDB reading whole objects
 * in place (a first attempt with `readInPlace`), and the ranges downloaded to scratch (retries,
 * split objects, no `readInPlace`). Both must give the same part and the same quarantine.
 */
describe('activities/cleaning-activities: raw objects read in place (S3 server, DuckDB httpfs)', function () {
  this.timeout(120_000);
  const DAY = '2026-11-21';
  let adapters: Adapters;
  let pipelineId: string;
  let bucket: string;
  let dir: string;
  const gets: string[] = [];

  /** The real store, with every getStream (the download path) recorded. */
  const counting = (store: ObjectStore): ObjectStore =>
    new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'getStream') {
          return (ref: Parameters<ObjectStore['getStream']>[0]) => {
            gets.push(ref.key);
            return target.getStream(ref);
          };
        }
        return Reflect.get(target, name, receiver) as unknown;
      },
    });

  const key = (partition: number, startOffset: number) =>
    rawObjectKey({ topic: topicFor(pipelineId, 'pin'), partition, startOffset, day: DAY });

  before(async () => {
    adapters = createAdapters(stackConfig());
    pipelineId = randomPipelineId();
    bucket = bucketFor(pipelineId);
    await adapters.store.ensureBucket(bucket);
    const line = (seq: number) => JSON.stringify(pinRecord(seq));
    const objects: Buffer[] = [
      // Valid lines, a repeat, one that is not JSON, one with CRLF, one that is not UTF-8.
      Buffer.concat([
        Buffer.from(`${line(1)}\n${line(2)}\n${line(1)}\n{"index": 7, broken\n${line(3)}\r\n`),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
        Buffer.from(`${line(4)}\n`),
      ]),
      Buffer.from(`${line(5)}\n${JSON.stringify({ ...pinRecord(6), index: 'x' })}\n${line(5)}\n`),
      // Larger than the shard limit below: split into ranges, which are always downloaded.
      Buffer.from(`${Array.from({ length: 40 }, (_, i) => line(100 + i)).join('\n')}\n`),
    ];
    for (const [i, body] of objects.entries()) {
      await adapters.store.put({ bucket, key: key(0, i * 1000), body });
    }
  });

  after(async () => {
    for await (const o of adapters.store.list({ bucket, prefix: '' })) {
      await adapters.store.delete({ bucket, key: o.key });
    }
    await adapters.store.deleteBucket(bucket);
    await adapters.close();
  });

  beforeEach(async () => {
    gets.length = 0;
    dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-in-place-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Plans run `run` and cleans every shard; the parts' rows and the quarantines, sorted. */
  async function cleanDay(
    run: string,
    o: { inPlace: boolean; attempt?: number; s3?: Partial<DuckDbS3Options> },
  ) {
    const cleaning = createCleaningActivities({
      store: counting(adapters.store),
      scratchDir: dir,
      ...(o.inPlace ? { readInPlace: { ...duckDbS3OptionsFrom(stackConfig()), ...o.s3 } } : {}),
    });
    const plan = await activityAttempt().run(cleaning, 'planCleaning', {
      bucket,
      pipelineId,
      table: 'pin',
      date: DAY,
      run,
      limits: { maxShardBytes: 4_000 },
    });
    const counts = [];
    const warnings: string[] = [];
    const rows: string[] = [];
    const quarantine: string[] = [];
    for (let shard = 0; shard < plan.shards; shard++) {
      const input: CleanShardInput = {
        bucket,
        table: 'pin',
        date: DAY,
        run,
        planKey: cleanPlanKey('pin', DAY, run),
        shard,
      };
      const attempt = activityAttempt({ attempt: o.attempt ?? 1 });
      const r = await attempt.run(cleaning, 'cleanShard', input);
      warnings.push(...attempt.logger.messages('WARN'));
      counts.push({ rawRecords: r.rawRecords, rowsIn: r.rowsIn, quarantined: r.quarantined });
      rows.push(...(await partRows(cleanShardPartKey('pin', DAY, run, shard))));
      const q = await adapters.store.get({
        bucket,
        key: cleanShardQuarantineKey('pin', DAY, run, shard),
      });
      if (q) quarantine.push(...Buffer.from(q).toString('utf8').split('\n').filter(Boolean));
    }
    return {
      shards: plan.shards,
      counts,
      rows: rows.sort(),
      quarantine: quarantine.sort(),
      warnings,
    };
  }

  async function partRows(partKey: string): Promise<string[]> {
    const body = await adapters.store.get({ bucket, key: partKey });
    assert.ok(body, `${partKey} was staged`);
    const file = path.join(dir, 'part.parquet');
    await writeFile(file, body);
    const db = await openDuckDb();
    try {
      const reader = await db.connection.runAndReadAll(
        `SELECT * FROM read_parquet(${parquetPathSql(file)})`,
      );
      return reader.getRowObjectsJson().map((row) => JSON.stringify(row));
    } finally {
      db.close();
    }
  }

  it('reads whole objects in place, downloads split ones, and cleans exactly as the download path does', async () => {
    const inPlace = await cleanDay('runinplace01', { inPlace: true });
    const inPlaceGets = [...gets];
    gets.length = 0;
    const downloaded = await cleanDay('rundownload1', { inPlace: false });

    // The two whole objects were never streamed through the store; the split one was.
    assert.ok(
      !inPlaceGets.includes(key(0, 0)) && !inPlaceGets.includes(key(0, 1000)),
      inPlaceGets.join(),
    );
    assert.ok(inPlaceGets.includes(key(0, 2000)), 'the split object is downloaded in ranges');
    assert.ok(
      gets.includes(key(0, 0)) && gets.includes(key(0, 1000)),
      'without readInPlace all are',
    );

    assert.ok(inPlace.shards >= 3, `the big object is split (${inPlace.shards} shards)`);
    assert.deepEqual(inPlace.counts, downloaded.counts);
    assert.deepEqual(inPlace.rows, downloaded.rows);
    assert.deepEqual(inPlace.quarantine, downloaded.quarantine);
    // And they are right: 50 lines, of which 3 rejected (not JSON, not UTF-8, a bad index).
    const raw = inPlace.counts.reduce((n, c) => n + c.rawRecords, 0);
    assert.equal(raw, 50);
    const reasons = inPlace.quarantine.map(
      (l) => JSON.parse(l) as { reason: string; offset: number; source: string },
    );
    assert.equal(reasons.length, 3);
    const notUtf8 = reasons.find((r) => r.reason === 'not UTF-8');
    assert.ok(notUtf8, JSON.stringify(reasons));
    assert.equal(notUtf8.source, key(0, 0));
    const first = Buffer.from(`${JSON.stringify(pinRecord(1))}\n`).length;
    const second = Buffer.from(`${JSON.stringify(pinRecord(2))}\n`).length;
    const third = Buffer.from(`${JSON.stringify(pinRecord(3))}\r\n`).length;
    const broken = Buffer.from('{"index": 7, broken\n').length;
    assert.equal(notUtf8.offset, first * 2 + second + broken + third, 'byte offset in its object');
  });

  it('downloads instead when DuckDB cannot be given S3 access, and says why once', async () => {
    const { counts, warnings } = await cleanDay('runrefused01', {
      inPlace: true,
      s3: { httpfsExtension: path.join(dir, 'none') },
    });
    const raw = counts.reduce((n, c) => n + c.rawRecords, 0);
    assert.equal(raw, 50);
    assert.ok(gets.includes(key(0, 0)) && gets.includes(key(0, 1000)), gets.join());
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^shards download their raw objects: .*httpfs/);
  });

  it('a retried shard downloads its objects instead of reading them in place', async () => {
    const retried = await cleanDay('runretried01', { inPlace: true, attempt: 2 });
    assert.ok(gets.includes(key(0, 0)) && gets.includes(key(0, 1000)), gets.join());
    assert.equal(
      retried.counts.reduce((n, c) => n + c.rawRecords, 0),
      50,
    );
  });
});

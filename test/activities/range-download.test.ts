import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadRanges } from '../../src/activities/range-download';
import { planShards } from '../../src/domain/clean-shards';
import type { ObjectStore } from '../../src/ports/object-store';

/** Only what downloadRanges uses: getStream, served in uneven chunks from memory. */
function memoryStore(objects: Record<string, Buffer>): ObjectStore {
  return {
    getStream({ key, start = 0 }) {
      const body = objects[key];
      if (!body) return Promise.resolve(undefined);
      return Promise.resolve(
        (async function* () {
          for (let p = start, n = 1; p < body.length; p += 100_003 * n++) {
            yield await Promise.resolve(body.subarray(p, Math.min(body.length, p + 100_003 * n)));
          }
        })(),
      );
    },
  } as Partial<ObjectStore> as ObjectStore;
}

describe('downloadRanges', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'pinpipe-range-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes every line of every range once, in files of about 8 MiB that say where they start', async () => {
    const lines = Array.from(
      { length: 120_000 },
      (_, i) => `{"n":${i},"pad":"${'x'.repeat(i % 300)}"}`,
    );
    const objects = {
      a: Buffer.from(`${lines.slice(0, 100_000).join('\n')}\n`),
      b: Buffer.from(lines.slice(100_000).join('\n')), // no final newline
      empty: Buffer.alloc(0),
    };
    const refs = Object.entries(objects).map(([key, b]) => ({ key, size: b.length }));
    const shards = planShards(refs, { maxShardBytes: 12 * 1024 * 1024, maxObjectsPerShard: 5 });
    const seen: string[] = [];
    let files = 0;
    for (const ranges of shards) {
      const progress = { bytes: 0, range: 0 };
      const written = await downloadRanges(memoryStore(objects), 'bucket', ranges, dir, progress);
      files += written.length;
      for (const f of written) {
        const text = await readFile(f.file);
        assert.ok(f.bytes > 0 && f.bytes === text.length);
        assert.ok(f.bytes <= 8 * 1024 * 1024 + 400, `${f.file}: ${f.bytes} bytes`);
        const source = objects[f.source as keyof typeof objects];
        assert.ok(source.subarray(f.baseOffset, f.baseOffset + f.bytes).equals(text), 'offsets');
        assert.ok(f.baseOffset === 0 || source[f.baseOffset - 1] === 0x0a, 'starts at a line');
        seen.push(
          ...text
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
      }
      assert.equal(
        progress.bytes,
        written.reduce((n, f) => n + f.bytes, 0),
      );
    }
    assert.deepEqual(seen, lines);
    assert.ok(files > shards.flat().length, `ranges rolled over into more files (${files})`);
  });

  it('names the object that vanished', async () => {
    await assert.rejects(
      downloadRanges(memoryStore({}), 'bucket', [{ key: 'gone', start: 0, end: 10 }], dir, {
        bytes: 0,
        range: 0,
      }),
      /s3:\/\/bucket\/gone is in the plan but gone/,
    );
  });
});

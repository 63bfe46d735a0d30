import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCleanParquet } from './src/analytics/parquet-writer';
import { runAnalytics } from './src/analytics/run-analytics';
import { drawEvents } from './src/domain/generator';
import { parseAndClean } from './src/domain/cleaning';
import { TABLES, type Table } from './src/domain/tables';
const hwm = () => /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1];
async function main() {
  const total = Number(process.argv[2] ?? 1_000_000);
  const unique = process.argv[3] === 'unique';
  const parts = 5;
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const files: Record<Table, string[]> = { pin: [], geo: [], user: [] };
  const t0 = Date.now();
  for (let p = 0; p < parts; p++) {
    for (const table of TABLES) {
      const per = total / parts;
      function* rows() {
        let k = p * per;
        for (const ev of drawEvents({ seed: 42, count: per, start: p * per })) {
          k++;
          const r = parseAndClean(table, ev[table]);
          if (!r.ok) continue;
          const row = r.row as { ind: number };
          if (unique) row.ind = k;
          yield r.row;
        }
      }
      const f = join(dir, `${table}-${p}.parquet`);
      await writeCleanParquet(table, rows() as never, f);
      files[table].push(f);
    }
  }
  console.log('write', Date.now() - t0, 'ms hwm', hwm());
  const t1 = Date.now();
  const res = await runAnalytics(files, { memoryLimit: process.env.ML ?? '512MB' });
  console.log('analytics', Date.now() - t1, 'ms hwm', hwm());
  for (const r of res) console.log(r.title, r.rows.length, JSON.stringify(r.rows.slice(0, 3)));
  rmSync(dir, { recursive: true });
}
main().catch((e) => { console.error(e); process.exit(1); });

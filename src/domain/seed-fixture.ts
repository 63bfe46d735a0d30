/**
 * The known source rows (a copy of shared/fixtures/seed-rows.json, bundled as data): real raw
 * rows of the seed's source tables with their expected clean form. The generator places them
 * verbatim at their own indexes; tests compare the cleaning against them.
 */

import seed from './seed-rows.json';
import type { CleanRecordMap } from './cleaning';
import { parseRaw, type RawRecordMap } from './raw-schemas';
import { TABLES } from './tables';

export interface SeedRow {
  ind: number;
  raw: RawRecordMap;
  clean: CleanRecordMap;
}

function load(): readonly SeedRow[] {
  return seed.rows.map((row) => {
    for (const table of TABLES) {
      const parsed = parseRaw(table, row.raw[table]);
      if (!parsed.ok) {
        throw new Error(`seed-rows.json row ${row.ind} ${table} is invalid: ${parsed.reason}`);
      }
    }
    // Frozen: this is reference data; sourceRow hands out copies.
    return Object.freeze({
      ind: row.ind,
      raw: Object.freeze({
        pin: Object.freeze({ ...row.raw.pin }),
        geo: Object.freeze({ ...row.raw.geo }),
        user: Object.freeze({ ...row.raw.user }),
      }) as RawRecordMap,
      clean: row.clean as CleanRecordMap,
    });
  });
}

/** Fixture rows in file order. */
export const SEED_ROWS: readonly SeedRow[] = load();

/** Fixture rows by index. */
export const SEED_ROWS_BY_IND: ReadonlyMap<number, SeedRow> = new Map(
  SEED_ROWS.map((row) => [row.ind, row]),
);

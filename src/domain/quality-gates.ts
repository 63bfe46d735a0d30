/**
 * Quality gates of the nightly cleaning: each an expectation on a clean row with a policy —
 * `warn` (count and report), `drop` (move the row to quarantine with the reason) or `fail` (stop
 * the table, and so the analytics, when the failure rate exceeds the threshold). Pure.
 */

import type { CleanGeo, CleanPin, CleanRecordMap, CleanUser } from './cleaning';
import { CATEGORIES, type Table } from './tables';

export type GatePolicy = 'warn' | 'drop' | 'fail';

export interface Expectation<T extends Table> {
  name: string;
  description: string;
  policy: GatePolicy;
  /** For `fail` and `warn`: the share of rows allowed to fail before the gate trips (0 = none). */
  maxFailureRate: number;
  check(row: CleanRecordMap[T]): boolean;
}

export interface GateResult {
  name: string;
  description: string;
  policy: GatePolicy;
  checked: number;
  failed: number;
  /** pass: no trip; warned/dropped: tripped with that policy; failed: stops the table. */
  status: 'pass' | 'warned' | 'dropped' | 'failed';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const categories = new Set<string>(CATEGORIES);
const isTimestamp = (v: string) => !Number.isNaN(Date.parse(v));

const pinGates: Expectation<'pin'>[] = [
  {
    name: 'ind_is_integer',
    description: 'ind present and a non-negative integer',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanPin) => Number.isSafeInteger(r.ind) && r.ind >= 0,
  },
  {
    name: 'unique_id_is_uuid',
    description: 'unique_id is a UUID (or null)',
    policy: 'drop',
    maxFailureRate: 0,
    check: (r: CleanPin) => r.unique_id === null || UUID.test(r.unique_id),
  },
  {
    name: 'category_known',
    description: 'category is one of the 13 categories (or null)',
    policy: 'drop',
    maxFailureRate: 0,
    check: (r: CleanPin) => r.category === null || categories.has(r.category),
  },
  {
    name: 'follower_count_non_negative',
    description: 'follower_count is a non-negative integer or null',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanPin) =>
      r.follower_count === null ||
      (Number.isSafeInteger(r.follower_count) && r.follower_count >= 0),
  },
];

const geoGates: Expectation<'geo'>[] = [
  {
    name: 'ind_is_integer',
    description: 'ind present and a non-negative integer',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanGeo) => Number.isSafeInteger(r.ind) && r.ind >= 0,
  },
  {
    name: 'coordinates_in_range',
    description: 'latitude within ±90 and longitude within ±180',
    policy: 'drop',
    maxFailureRate: 0,
    check: (r: CleanGeo) => Math.abs(r.coordinates[0]) <= 90 && Math.abs(r.coordinates[1]) <= 180,
  },
  {
    name: 'timestamp_parseable',
    description: 'timestamp is a valid UTC timestamp',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanGeo) => isTimestamp(r.timestamp),
  },
  {
    name: 'country_present',
    description: 'country is not null',
    policy: 'warn',
    maxFailureRate: 0,
    check: (r: CleanGeo) => r.country !== null,
  },
];

const userGates: Expectation<'user'>[] = [
  {
    name: 'ind_is_integer',
    description: 'ind present and a non-negative integer',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanUser) => Number.isSafeInteger(r.ind) && r.ind >= 0,
  },
  {
    name: 'age_in_range',
    description: 'age within 13..120',
    policy: 'drop',
    maxFailureRate: 0,
    check: (r: CleanUser) => r.age >= 13 && r.age <= 120,
  },
  {
    name: 'date_joined_parseable',
    description: 'date_joined is a valid UTC timestamp',
    policy: 'fail',
    maxFailureRate: 0,
    check: (r: CleanUser) => isTimestamp(r.date_joined),
  },
];

export const DEFAULT_GATES: { [T in Table]: Expectation<T>[] } = {
  pin: pinGates,
  geo: geoGates,
  user: userGates,
};

/** Running counts for one table's gates over a stream of rows. */
export class GateTally<T extends Table> {
  private readonly failed: number[];
  private checked = 0;

  constructor(private readonly gates: readonly Expectation<T>[]) {
    this.failed = gates.map(() => 0);
  }

  /** Checks one row; returns the reasons it must be dropped (empty: keep it). */
  check(row: CleanRecordMap[T]): string[] {
    this.checked++;
    const drop: string[] = [];
    this.gates.forEach((g, i) => {
      if (g.check(row)) return;
      this.failed[i]!++;
      if (g.policy === 'drop') drop.push(`gate ${g.name}: ${g.description}`);
    });
    return drop;
  }

  /** Restores counts from a checkpoint (resuming a cleaning run). */
  restore(state: { checked: number; failed: number[] }): void {
    this.checked = state.checked;
    state.failed.forEach((f, i) => (this.failed[i] = f));
  }

  snapshot(): { checked: number; failed: number[] } {
    return { checked: this.checked, failed: [...this.failed] };
  }

  results(): GateResult[] {
    return this.gates.map((g, i) => {
      const failed = this.failed[i]!;
      const rate = this.checked === 0 ? 0 : failed / this.checked;
      const tripped = failed > 0 && rate > g.maxFailureRate;
      const status: GateResult['status'] = !tripped
        ? 'pass'
        : g.policy === 'fail'
          ? 'failed'
          : g.policy === 'drop'
            ? 'dropped'
            : 'warned';
      return {
        name: g.name,
        description: g.description,
        policy: g.policy,
        checked: this.checked,
        failed,
        status,
      };
    });
  }
}

/** The row-count reconciliation: every raw record is accounted for exactly once. */
export function rowCountGate(counts: {
  rawRecords: number;
  rowsOut: number;
  quarantined: number;
  duplicates: number;
}): GateResult {
  const accounted = counts.rowsOut + counts.quarantined + counts.duplicates;
  const failed = Math.abs(counts.rawRecords - accounted);
  return {
    name: 'row_counts_reconcile',
    description: `raw records (${counts.rawRecords}) = rows out (${counts.rowsOut}) + quarantined (${counts.quarantined}) + duplicates removed (${counts.duplicates})`,
    policy: 'fail',
    checked: counts.rawRecords,
    failed,
    status: failed === 0 ? 'pass' : 'failed',
  };
}

export interface CommitGates {
  /** Every gate of the table, the row-count reconciliation last. */
  gates: GateResult[];
  /** Why the commit must not happen; undefined when no `fail` gate failed. */
  failure?: string;
}

/**
 * The commit's decision: the shards' tallies restored, the row counts reconciled, and the
 * message naming each failed gate. One place, so the commit activity and the tests that stand in
 * for it decide alike.
 */
export function commitGates<T extends Table>(
  expectations: readonly Expectation<T>[],
  gateState: { checked: number; failed: number[] },
  counts: Parameters<typeof rowCountGate>[0],
  where: string,
): CommitGates {
  const tally = new GateTally(expectations);
  tally.restore(gateState);
  const gates = [...tally.results(), rowCountGate(counts)];
  const failed = gates.filter((g) => g.status === 'failed');
  if (failed.length === 0) return { gates };
  const named = failed.map((g) => `${g.name} (${g.failed} of ${g.checked} rows: ${g.description})`);
  return { gates, failure: `${where}: quality gate failed: ${named.join('; ')}` };
}

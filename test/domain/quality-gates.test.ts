import assert from 'node:assert/strict';
import type { CleanGeo, CleanPin, CleanUser } from '../../src/domain/cleaning';
import {
  DEFAULT_GATES,
  GateTally,
  commitGates,
  rowCountGate,
} from '../../src/domain/quality-gates';
import { SEED_ROWS } from '../../src/domain/seed-fixture';

const pin = (over: Partial<CleanPin>): CleanPin => ({ ...SEED_ROWS[0]!.clean.pin, ...over });
const geo = (over: Partial<CleanGeo>): CleanGeo => ({ ...SEED_ROWS[0]!.clean.geo, ...over });
const user = (over: Partial<CleanUser>): CleanUser => ({ ...SEED_ROWS[0]!.clean.user, ...over });

describe('quality gates', () => {
  it('pass every fixture row', () => {
    for (const r of SEED_ROWS) {
      assert.deepEqual(new GateTally(DEFAULT_GATES.pin).check(r.clean.pin), []);
      assert.deepEqual(new GateTally(DEFAULT_GATES.geo).check(r.clean.geo), []);
      assert.deepEqual(new GateTally(DEFAULT_GATES.user).check(r.clean.user), []);
    }
  });

  const drops: Array<[string, () => string[], RegExp]> = [
    [
      'a unique_id that is not a UUID',
      () => new GateTally(DEFAULT_GATES.pin).check(pin({ unique_id: 'nope' })),
      /unique_id_is_uuid/,
    ],
    [
      'an unknown category',
      () => new GateTally(DEFAULT_GATES.pin).check(pin({ category: 'cats' })),
      /category_known/,
    ],
    [
      'a latitude past 90',
      () => new GateTally(DEFAULT_GATES.geo).check(geo({ coordinates: [91, 0] })),
      /coordinates_in_range/,
    ],
    [
      'an age of 12',
      () => new GateTally(DEFAULT_GATES.user).check(user({ age: 12 })),
      /age_in_range/,
    ],
    [
      'an age of 121',
      () => new GateTally(DEFAULT_GATES.user).check(user({ age: 121 })),
      /age_in_range/,
    ],
  ];
  for (const [what, check, reason] of drops) {
    it(`drops ${what}, naming the gate`, () => {
      const reasons = check();
      assert.equal(reasons.length, 1);
      assert.match(reasons[0]!, reason);
    });
  }

  it('keeps boundary values: ages 13 and 120, null category and unique_id', () => {
    const users = new GateTally(DEFAULT_GATES.user);
    assert.deepEqual(users.check(user({ age: 13 })), []);
    assert.deepEqual(users.check(user({ age: 120 })), []);
    assert.deepEqual(
      new GateTally(DEFAULT_GATES.pin).check(pin({ category: null, unique_id: null })),
      [],
    );
  });

  it('reports status per policy: fail trips, drop reports dropped, warn reports warned', () => {
    const pins = new GateTally(DEFAULT_GATES.pin);
    pins.check(pin({ follower_count: -1 }));
    pins.check(pin({ category: 'cats' }));
    pins.check(pin({}));
    const byName = Object.fromEntries(pins.results().map((r) => [r.name, r]));
    assert.equal(byName.follower_count_non_negative!.status, 'failed');
    assert.equal(byName.follower_count_non_negative!.failed, 1);
    assert.equal(byName.category_known!.status, 'dropped');
    assert.equal(byName.unique_id_is_uuid!.status, 'pass');
    assert.equal(byName.ind_is_integer!.checked, 3);
    const geos = new GateTally(DEFAULT_GATES.geo);
    geos.check(geo({ country: null }));
    assert.equal(geos.results().find((r) => r.name === 'country_present')!.status, 'warned');
  });

  it('resumes its counts from a snapshot (a resumed cleaning run)', () => {
    const a = new GateTally(DEFAULT_GATES.user);
    a.check(user({ age: 5 }));
    const b = new GateTally(DEFAULT_GATES.user);
    b.restore(a.snapshot());
    b.check(user({}));
    assert.deepEqual(
      b.results().map((r) => [r.name, r.checked, r.failed]),
      [
        ['ind_is_integer', 2, 0],
        ['age_in_range', 2, 1],
        ['date_joined_parseable', 2, 0],
      ],
    );
  });

  const counts: Array<[string, Parameters<typeof rowCountGate>[0], 'pass' | 'failed']> = [
    ['reconciled', { rawRecords: 10, rowsOut: 7, quarantined: 2, duplicates: 1 }, 'pass'],
    ['a lost row', { rawRecords: 10, rowsOut: 6, quarantined: 2, duplicates: 1 }, 'failed'],
    ['an extra row', { rawRecords: 10, rowsOut: 8, quarantined: 2, duplicates: 1 }, 'failed'],
    ['an empty day', { rawRecords: 0, rowsOut: 0, quarantined: 0, duplicates: 0 }, 'pass'],
  ];
  for (const [what, c, status] of counts) {
    it(`row counts: ${what} → ${status}`, () => assert.equal(rowCountGate(c).status, status));
  }

  it('commitGates: reconciled counts and no failed rows commit; an unaccounted record names its gate', () => {
    const clean = { checked: 0, failed: DEFAULT_GATES.pin.map(() => 0) };
    const ok = commitGates(
      DEFAULT_GATES.pin,
      clean,
      { rawRecords: 3, rowsOut: 2, quarantined: 1, duplicates: 0 },
      'pin 2026-11-23',
    );
    assert.equal(ok.failure, undefined);
    assert.equal(ok.gates.at(-1)?.name, 'row_counts_reconcile');
    const lost = commitGates(
      DEFAULT_GATES.pin,
      clean,
      { rawRecords: 3, rowsOut: 1, quarantined: 1, duplicates: 0 },
      'pin 2026-11-23',
    );
    assert.match(
      lost.failure ?? '',
      /^pin 2026-11-23: quality gate failed: row_counts_reconcile \(1 of 3 rows: /,
    );
  });
});

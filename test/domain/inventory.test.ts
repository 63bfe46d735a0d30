import assert from 'node:assert/strict';
import {
  PIPELINE_TAG,
  holdsData,
  inventoryFromSteps,
  mergeWithPrior,
  ownershipOf,
  parseInventory,
  planTeardown,
  refusalByName,
  refusalByTags,
  remainingInventory,
  type Inventory,
  type InventoryEntry,
  type LegacyInventory,
} from '../../src/domain/inventory';
import {
  initialSteps,
  type ResourceKind,
  type ResourceRecord,
  type StepState,
} from '../../src/domain/provision-steps';

const P = '0a1b2c3d4e5f';
const head = {
  pipelineId: P,
  target: 'local' as const,
  region: 'us-east-1',
  bucket: `user-${P}-bucket`,
  recordedBy: 'provision-x/run',
};

function withResources(byStep: Partial<Record<StepState['step'], ResourceRecord[]>>): StepState[] {
  return initialSteps(5).map((s) => ({ ...s, resources: byStep[s.step] ?? [] }));
}

const rec = (
  kind: ResourceKind,
  id: string,
  outcome: ResourceRecord['outcome'],
  deleteHow: string | null = `delete ${id}`,
): ResourceRecord => ({ kind, id, outcome, ...(deleteHow !== null ? { deleteHow } : {}) });

const e = (kind: ResourceKind, id: string): InventoryEntry => ({ kind, id });
const ids = (entries: readonly InventoryEntry[]) => entries.map((x) => `${x.kind}:${x.id}`);

const v2 = (owned: InventoryEntry[], adopted: InventoryEntry[] = []): Inventory => ({
  version: 2,
  ...head,
  owned,
  adopted,
});

describe('domain/inventory', () => {
  it('holdsData follows the kind: topics and buckets, nothing else', () => {
    const kinds: ResourceKind[] = [
      'bucket',
      'topic',
      'instance',
      'endpoint',
      'workflow',
      'schedule',
    ];
    assert.deepEqual(
      kinds.filter((k) => holdsData(k)),
      ['bucket', 'topic'],
    );
  });

  describe('parseInventory', () => {
    it('accepts the second form and drops keys it does not know (a hand-added holdsData)', () => {
      const raw = {
        ...v2([{ kind: 'bucket', id: head.bucket, holdsData: false } as InventoryEntry]),
        extra: 1,
      };
      const r = parseInventory(raw);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.inventory, v2([e('bucket', head.bucket)]));
    });

    it('accepts the first form (no version), holdsData and all', () => {
      const legacy: LegacyInventory = {
        ...head,
        resources: [{ kind: 'topic', id: `${P}.pin`, deleteHow: 'x', holdsData: true }],
      };
      const r = parseInventory(legacy);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.inventory, legacy);
    });

    const bad: Array<[string, unknown, RegExp]> = [
      ['not an object', [1, 2], /inventory: /],
      ['another version', { ...v2([]), version: 3 }, /version: /],
      [
        'an unknown kind',
        v2([{ kind: 'database', id: 'x' } as unknown as InventoryEntry]),
        /owned\.0\.kind/,
      ],
      [
        'an instance id that is not one',
        v2([e('instance', 'i-; rm -rf')]),
        /owned\.0\.id: expected an EC2 instance id/,
      ],
      [
        'a bucket name that is not one',
        v2([], [e('bucket', 'Not_A_Bucket')]),
        /adopted\.0\.id: expected an S3 bucket name/,
      ],
      [
        'a topic name Kafka refuses',
        v2([e('topic', 'a topic')]),
        /owned\.0\.id: expected a Kafka topic name/,
      ],
      [
        'a workflow id with a newline',
        v2([e('workflow', 'a\nb')]),
        /owned\.0\.id: expected a workflow id/,
      ],
      [
        'a pipeline id that is not one',
        { ...v2([]), pipelineId: 'NOPE' },
        /pipelineId: expected 12 lowercase hex/,
      ],
      ['no adopted list', { ...v2([]), adopted: undefined }, /adopted: /],
      ['too many entries', v2(Array.from({ length: 1001 }, () => e('topic', 't'))), /owned: /],
    ];
    for (const [name, raw, reason] of bad) {
      it(`refuses ${name}, naming the field`, () => {
        const r = parseInventory(raw);
        assert.equal(r.ok, false);
        assert.match(r.ok ? '' : r.reason, reason);
      });
    }
  });

  it('ownershipOf: the first form did not tell created from adopted, so its data counts as adopted', () => {
    const legacy: LegacyInventory = {
      ...head,
      resources: [
        { kind: 'bucket', id: head.bucket, holdsData: false },
        { kind: 'topic', id: `${P}.pin`, holdsData: true },
        { kind: 'instance', id: 'i-0123456789abcdef0', holdsData: false },
      ],
    };
    const { owned, adopted } = ownershipOf(legacy);
    assert.deepEqual(ids(owned), ['instance:i-0123456789abcdef0']);
    assert.deepEqual(ids(adopted), [`bucket:${head.bucket}`, `topic:${P}.pin`]);
    assert.deepEqual(ownershipOf(null), { owned: [], adopted: [] });
  });

  describe('inventoryFromSteps', () => {
    it('owns what the run created; a topic or bucket found there is adopted', () => {
      const inv = inventoryFromSteps(
        withResources({
          bucket: [rec('bucket', head.bucket, 'exists')],
          topics: [rec('topic', `${P}.pin`, 'created'), rec('topic', `${P}.geo`, 'updated')],
          'client-host': [rec('instance', 'i-1', 'exists')],
          endpoint: [rec('endpoint', 'http://h', 'exists', null)],
          ingestion: [rec('workflow', `ingest-${P}-pin`, 'created')],
          schedule: [rec('schedule', `nightly-${P}`, 'updated')],
          inventory: [rec('topic', `${P}.pin`, 'exists')],
        }),
        head,
      );
      assert.equal(inv.version, 2);
      assert.deepEqual(ids(inv.owned), [
        `topic:${P}.pin`,
        'instance:i-1',
        `workflow:ingest-${P}-pin`,
        `schedule:nightly-${P}`,
      ]);
      assert.deepEqual(ids(inv.adopted), [`bucket:${head.bucket}`, `topic:${P}.geo`]);
      assert.match(inv.adopted[0]?.deleteHow ?? '', /--include-adopted user-/);
      assert.equal(inv.owned[0]?.deleteHow, `delete ${P}.pin`);
    });
  });

  describe('mergeWithPrior', () => {
    const found = v2([e('instance', 'i-1')], [e('bucket', head.bucket), e('topic', `${P}.pin`)]);
    it("keeps owned what the inventory on file owns (a rerun finds the first run's resources)", () => {
      const merged = mergeWithPrior(found, v2([e('topic', `${P}.pin`)]), new Set());
      assert.deepEqual(ids(merged.owned), ['instance:i-1', `topic:${P}.pin`]);
      assert.deepEqual(ids(merged.adopted), [`bucket:${head.bucket}`]);
    });
    it('keeps owned a bucket carrying the pipeline tag (pinpipe tags only buckets it made)', () => {
      const merged = mergeWithPrior(found, null, new Set([head.bucket]));
      assert.deepEqual(ids(merged.adopted), [`topic:${P}.pin`]);
    });
    it('a first-form inventory on file promotes nothing', () => {
      const legacy: LegacyInventory = { ...head, resources: [{ kind: 'topic', id: `${P}.pin` }] };
      assert.deepEqual(mergeWithPrior(found, legacy, new Set()), found);
    });
  });

  describe('ownership proofs', () => {
    const other = 'ffffffffffff';
    const cases: Array<[ResourceKind, string, RegExp | undefined]> = [
      ['topic', `${P}.pin`, undefined],
      ['topic', `${other}.pin`, new RegExp(`topic ${other}\\.pin is not named ${P}\\.<table>`)],
      ['topic', `${P}.pins`, /is not named/],
      ['workflow', `ingest-${P}-geo`, undefined],
      ['workflow', 'payments-daily', /not one of the pipeline's ingestion workflows/],
      ['schedule', `nightly-${P}`, undefined],
      ['schedule', `nightly-${other}`, /not the pipeline's nightly schedule/],
      // Only their tags can tell (refusalByTags), or nothing to remove (the endpoint).
      ['bucket', 'anything', undefined],
      ['instance', 'i-1', undefined],
      ['endpoint', 'http://h', undefined],
    ];
    for (const [kind, id, refusal] of cases) {
      it(`refusalByName ${kind} ${id}: ${refusal ? 'refused' : 'not by its name'}`, () => {
        const r = refusalByName(kind, id, P);
        if (refusal === undefined) assert.equal(r, undefined);
        else assert.match(r ?? '', refusal);
      });
    }

    it("refusalByTags: the pipeline tag proves; none, or another pipeline's, refuses", () => {
      assert.equal(refusalByTags('instance', 'i-1', P, { [PIPELINE_TAG]: P }), undefined);
      assert.match(
        refusalByTags('instance', 'i-1', P, { Name: 'x' }) ?? '',
        new RegExp(
          `instance i-1 does not carry the tag pinpipe:pipeline=${P} \\(it has no pinpipe:pipeline tag\\)`,
        ),
      );
      assert.match(
        refusalByTags('bucket', 'b-x', P, { [PIPELINE_TAG]: other }) ?? '',
        new RegExp(
          `bucket b-x is neither named user-${P}-bucket nor tagged pinpipe:pipeline=${P} \\(it is tagged pinpipe:pipeline=${other}\\)`,
        ),
      );
    });
  });

  describe('planTeardown', () => {
    const inv = {
      owned: [e('workflow', 'w'), e('topic', 't'), e('bucket', 'b'), e('instance', 'i-1')],
      adopted: [e('bucket', 'a'), e('topic', 'at')],
    };
    it('without deleteData: data kept, adopted left, the rest removed', () => {
      const plan = planTeardown(inv, { deleteData: false, includeAdopted: [] });
      assert.deepEqual(ids(plan.remove), ['workflow:w', 'instance:i-1']);
      assert.deepEqual(ids(plan.kept), ['topic:t', 'bucket:b']);
      assert.deepEqual(ids(plan.adopted), ['bucket:a', 'topic:at']);
      assert.deepEqual(plan.unmatched, []);
    });
    it('with deleteData: owned data removed, adopted still left unless named', () => {
      const plan = planTeardown(inv, { deleteData: true, includeAdopted: ['topic:at', 'nope'] });
      assert.deepEqual(ids(plan.remove), [
        'workflow:w',
        'topic:t',
        'bucket:b',
        'instance:i-1',
        'topic:at',
      ]);
      assert.deepEqual(ids(plan.adopted), ['bucket:a']);
      assert.deepEqual(plan.unmatched, ['nope']);
    });
    it('a named adopted topic or bucket still needs deleteData', () => {
      const plan = planTeardown(inv, { deleteData: false, includeAdopted: ['a'] });
      assert.deepEqual(ids(plan.adopted), ['bucket:a', 'topic:at']);
      assert.deepEqual(plan.unmatched, []);
    });
    it('remainingInventory: kept stays owned, adopted stays adopted', () => {
      const plan = planTeardown(inv, { deleteData: false, includeAdopted: [] });
      const rest = remainingInventory(v2(inv.owned, inv.adopted), plan);
      assert.deepEqual(ids(rest.owned), ['topic:t', 'bucket:b']);
      assert.deepEqual(ids(rest.adopted), ['bucket:a', 'topic:at']);
      assert.equal(rest.version, 2);
    });
  });
});

import assert from 'node:assert/strict';
import {
  PROVISION_STEPS,
  checklistMarkdown,
  createdByRun,
  initialSteps,
  isProvisionStep,
  teardownOrder,
  type ResourceKind,
  type ResourceRecord,
  type StepState,
} from '../../src/domain/provision-steps';

/** The steps with the given resources on the named ones (the rest have none). */
function withResources(byStep: Partial<Record<StepState['step'], ResourceRecord[]>>): StepState[] {
  return initialSteps(5).map((s) => ({ ...s, resources: byStep[s.step] ?? [] }));
}

const rec = (
  kind: ResourceKind,
  id: string,
  outcome: ResourceRecord['outcome'],
  /** null: nothing to delete (as for the endpoint). */
  deleteHow: string | null = `delete ${id}`,
): ResourceRecord => ({ kind, id, outcome, ...(deleteHow !== null ? { deleteHow } : {}) });

describe('domain/provision-steps', () => {
  it('initialSteps: every step pending, no attempt yet, in order', () => {
    const steps = initialSteps(7);
    assert.deepEqual(
      steps.map((s) => s.step),
      [...PROVISION_STEPS],
    );
    assert.ok(steps.every((s) => s.status === 'pending' && s.attempt === 0 && s.maxAttempts === 7));
    assert.equal(isProvisionStep('client-host'), true);
    assert.equal(isProvisionStep('clienthost'), false);
  });

  describe('createdByRun', () => {
    const cases: Array<{ name: string; steps: StepState[]; expected: string[] }> = [
      { name: 'nothing created', steps: withResources({}), expected: [] },
      {
        name: 'only created, newest first',
        steps: withResources({
          bucket: [rec('bucket', 'b', 'created')],
          topics: [
            rec('topic', 't.pin', 'created'),
            rec('topic', 't.geo', 'exists'),
            rec('topic', 't.user', 'created'),
          ],
          'client-host': [rec('instance', 'i-1', 'updated')],
          ingestion: [rec('workflow', 'w', 'created')],
        }),
        expected: ['w', 't.user', 't.pin', 'b'],
      },
      {
        name: 'plan outcomes (create, differs) are not creations',
        steps: withResources({
          bucket: [rec('bucket', 'b', 'create')],
          topics: [rec('topic', 't', 'differs')],
        }),
        expected: [],
      },
    ];
    for (const c of cases) {
      it(c.name, () =>
        assert.deepEqual(
          createdByRun(c.steps).map((r) => r.id),
          c.expected,
        ),
      );
    }

    it('does not reorder the steps it was given', () => {
      const steps = withResources({
        bucket: [rec('bucket', 'b', 'created')],
        topics: [rec('topic', 't', 'created')],
      });
      createdByRun(steps);
      assert.deepEqual(
        steps.flatMap((s) => s.resources.map((r) => r.id)),
        ['b', 't'],
      );
    });
  });

  describe('teardownOrder', () => {
    const cases: Array<[ResourceKind[], ResourceKind[]]> = [
      [[], []],
      [
        ['bucket', 'topic', 'instance', 'schedule', 'workflow', 'endpoint'],
        ['workflow', 'schedule', 'instance', 'endpoint', 'topic', 'bucket'],
      ],
      [
        ['bucket', 'workflow', 'topic', 'workflow'],
        ['workflow', 'workflow', 'topic', 'bucket'],
      ],
    ];
    for (const [input, expected] of cases) {
      it(`${input.join(',') || '(none)'} → ${expected.join(',') || '(none)'}`, () => {
        const items = input.map((kind, i) => ({ kind, i }));
        assert.deepEqual(
          teardownOrder(items).map((x) => x.kind),
          expected,
        );
        assert.deepEqual(
          items.map((x) => x.kind),
          input,
          'the input is not sorted in place',
        );
      });
    }

    it('keeps the order within a kind (a stable sort)', () => {
      const items = [
        { kind: 'topic' as const, id: 'a' },
        { kind: 'workflow' as const, id: 'w' },
        { kind: 'topic' as const, id: 'b' },
        { kind: 'topic' as const, id: 'c' },
      ];
      assert.deepEqual(
        teardownOrder(items).map((x) => x.id),
        ['w', 'a', 'b', 'c'],
      );
    });
  });

  describe('checklistMarkdown', () => {
    const row = (md: string, title: string) => md.split('\n').find((l) => l.includes(title)) ?? '';
    const cases: Array<{ name: string; step: Partial<StepState>; row: string }> = [
      {
        name: 'pending: no attempt shown',
        step: {},
        row: '| [ ] | Ensure bucket | pending |  |  |',
      },
      {
        name: 'done: attempt n/max and the summary',
        step: { status: 'done', attempt: 2, summary: 'b created' },
        row: '| [x] | Ensure bucket | done | 2/5 | b created |',
      },
      {
        name: 'running after a failure: the error as retrying',
        step: { status: 'running', attempt: 3, error: 'S3 down' },
        row: '| [~] | Ensure bucket | running | 3/5 | retrying: S3 down |',
      },
      {
        name: 'awaiting correction: the error in bold',
        step: { status: 'awaiting-correction', attempt: 5, error: 'access denied' },
        row: '| [?] | Ensure bucket | awaiting-correction | 5/5 | **access denied** |',
      },
      {
        name: 'failed without an error message',
        step: { status: 'failed', attempt: 1 },
        row: '| [!] | Ensure bucket | failed | 1/5 | **failed** |',
      },
      {
        name: '| is escaped and newlines flattened, so the table holds',
        step: { status: 'done', attempt: 1, summary: 'a | b\nc' },
        row: '| [x] | Ensure bucket | done | 1/5 | a \\| b c |',
      },
      {
        name: '| in an error is escaped inside the bold',
        step: { status: 'awaiting-correction', attempt: 1, error: 'x|y' },
        row: '| [?] | Ensure bucket | awaiting-correction | 1/5 | **x\\|y** |',
      },
      {
        name: 'skipped: the reason, no attempt',
        step: { status: 'skipped', summary: 'off' },
        row: '| [-] | Ensure bucket | skipped |  | off |',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const steps = initialSteps(5).map((s) => (s.step === 'bucket' ? { ...s, ...c.step } : s));
        assert.equal(row(checklistMarkdown('Heading', steps), 'Ensure bucket'), c.row);
      });
    }

    it('has the heading, the header rows, one row per step and the footer', () => {
      const md = checklistMarkdown('Provisioning of x', initialSteps(5), 'Parked at **y**.');
      const lines = md.split('\n');
      assert.equal(lines[0], '### Provisioning of x');
      assert.equal(lines[2], '| | step | status | attempt | result |');
      assert.equal(lines[3], '| --- | --- | --- | --- | --- |');
      assert.equal(lines.filter((l) => l.startsWith('| [ ]')).length, PROVISION_STEPS.length);
      assert.deepEqual(lines.slice(-2), ['', 'Parked at **y**.']);
      assert.ok(!checklistMarkdown('h', initialSteps(5)).includes('Parked'));
    });
  });
});

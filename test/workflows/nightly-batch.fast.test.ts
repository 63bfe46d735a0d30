/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, defineSearchAttributeKey } from '@temporalio/common';
import type { RunAnalyticsInput } from '../../src/activities/analytics-activities';
import type { PlanCleaningInput } from '../../src/activities/cleaning-activities';
import {
  QUALITY_GATE_FAILED,
  type CommitPartitionInput,
} from '../../src/activities/commit-partition';
import type { NightlyActivities } from '../../src/activities/nightly-activities';
import { bucketFor, TABLES, type Table } from '../../src/domain/tables';
import { nightlyBatch, type NightlyBatchInput } from '../../src/workflows/nightly-batch';
import {
  executeMocked,
  invalidInput,
  useTimeSkippingEnv,
  workflowFailure,
} from '../helpers/time-skipping';

type Mocks = Pick<
  NightlyActivities,
  'planCleaning' | 'cleanShard' | 'commitPartition' | 'runAnalytics'
>;

/** What a Temporal schedule sets on each run it starts: the run's nominal time. */
const ScheduledStart = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

/** A day of one shard per table; commitPartition may fail a table's quality gate. */
function nightlyMocks(options: { gateFails?: Table } = {}) {
  const plans: (PlanCleaningInput & { workflowId: string })[] = [];
  const commits: CommitPartitionInput[] = [];
  const analytics: RunAnalyticsInput[] = [];
  const activities: Mocks = {
    async planCleaning(input) {
      plans.push({ ...input, workflowId: Context.current().info.workflowExecution!.workflowId });
      return { planKey: `plan/${input.table}`, objects: 1, bytes: 10, shards: 1 };
    },
    async cleanShard(input) {
      return {
        shard: input.shard,
        bytes: 10,
        resumed: false,
        rawRecords: 4,
        rowsIn: 3,
        quarantined: 1,
        gateState: { checked: 3, failed: [0, 0, 0, 0] },
      };
    },
    async commitPartition(input) {
      commits.push(input);
      if (options.gateFails === input.table) {
        throw ApplicationFailure.create({
          type: QUALITY_GATE_FAILED,
          nonRetryable: true,
          message: `${input.table} ${input.date}: quality gate failed: ind_is_integer (1 of 3 rows: ind present and a non-negative integer)`,
          details: [[]],
        });
      }
      return {
        manifestKey: `clean/${input.table}/${input.date}/_manifest.json`,
        files: [{ key: `clean/${input.table}/${input.date}/part.parquet`, rows: 3, bytes: 10 }],
        counts: { rawRecords: 4, rowsOut: 3, quarantined: 1, duplicates: 0 },
        gates: [],
        replaced: 0,
      };
    },
    async runAnalytics(input) {
      analytics.push(input);
      return {
        manifestKey: `analytics/${input.date}/_manifest.json`,
        reportKey: `analytics/${input.date}/report.html`,
        queries: [],
        partitions: { pin: 1, geo: 1, user: 1 },
      };
    },
  };
  return { activities, plans, commits, analytics };
}

describe('nightlyBatch workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  const newPipelineId = () => randomBytes(6).toString('hex');

  /** A run as the schedule starts it (no date; its nominal time as a search attribute). */
  const run = (activities: Mocks, input: NightlyBatchInput, scheduledAt?: Date) =>
    executeMocked(env(), activities, nightlyBatch, {
      workflowId: `nightly-${input.pipelineId}-${randomUUID()}`,
      args: [input],
      ...(scheduledAt
        ? { typedSearchAttributes: [{ key: ScheduledStart, value: scheduledAt }] }
        : {}),
    });

  const scheduled: [string, string][] = [
    ['2026-11-25T02:00:00Z', '2026-11-24'],
    // Just after midnight UTC, and across a month and a year: the previous UTC day.
    ['2026-03-01T00:30:00Z', '2026-02-28'],
    ['2027-01-01T00:00:00Z', '2026-12-31'],
  ];
  for (const [nominal, day] of scheduled) {
    it(`a scheduled run at ${nominal} (no date) cleans and analyses ${day}`, async () => {
      const pipelineId = newPipelineId();
      const m = nightlyMocks();
      const r = await run(m.activities, { pipelineId }, new Date(nominal));
      assert.equal(r.date, day);
      assert.deepEqual(
        m.plans.map((p) => [p.table, p.date]).sort(),
        TABLES.map((t) => [t, day]).sort(),
      );
      assert.deepEqual(m.analytics, [{ bucket: bucketFor(pipelineId), pipelineId, date: day }]);
    });
  }

  it('a run given a date cleans that day, each table in its own child, then the analytics', async () => {
    const pipelineId = newPipelineId();
    const m = nightlyMocks();
    const r = await run(
      m.activities,
      { pipelineId, date: '2026-06-30' },
      new Date('2026-11-25T02:00:00Z'),
    );
    assert.equal(r.date, '2026-06-30', 'a date given wins over the nominal time');
    assert.deepEqual(Object.keys(r.tables).sort(), [...TABLES].sort());
    // One child per table, named after the parent, all with the same run tag.
    const children = m.plans.map((p) => p.workflowId);
    assert.equal(new Set(children).size, 3);
    for (const t of TABLES)
      assert.ok(
        children.some((id) => id.endsWith(`-${t}`)),
        t,
      );
    assert.equal(new Set(m.plans.map((p) => p.run)).size, 1);
    assert.equal(r.tables.pin?.counts.rowsOut, 3);
    assert.equal(r.analytics?.reportKey, 'analytics/2026-06-30/report.html');
  });

  it('a run with no date outside the schedule, or an ill-formed one, fails at once', async () => {
    const m = nightlyMocks();
    await assert.rejects(
      run(m.activities, { pipelineId: newPipelineId() }),
      invalidInput(/date: required for a run that is not started by the schedule/),
    );
    await assert.rejects(
      run(m.activities, { pipelineId: newPipelineId(), date: '2026-11-31' }),
      invalidInput(/date: expected YYYY-MM-DD, got 2026-11-31/),
    );
    assert.equal(m.plans.length, 0);
  });

  it('a table failing its quality gate fails the night: the others commit, the analytics are skipped', async () => {
    const m = nightlyMocks({ gateFails: 'geo' });
    await assert.rejects(
      run(m.activities, { pipelineId: newPipelineId(), date: '2026-11-24' }),
      (err: unknown) => {
        const failure = workflowFailure(err, 'NightlyTableFailed');
        assert.equal(
          failure.message,
          'nightly 2026-11-24: analytics skipped because geo: geo 2026-11-24: quality gate failed: ind_is_integer (1 of 3 rows: ind present and a non-negative integer)',
        );
        const [{ tables }] = failure.details as [{ tables: Record<string, unknown> }];
        assert.deepEqual(Object.keys(tables).sort(), ['pin', 'user']);
        return true;
      },
    );
    assert.equal(m.commits.length, 3, 'every table tried to commit, the gate not retried');
    assert.equal(m.analytics.length, 0);
  });
});

/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { QUALITY_GATE_FAILED } from '../../src/activities/commit-partition';
import type { NightlyActivities } from '../../src/activities/nightly-activities';
import { bucketFor } from '../../src/domain/tables';
import { backfill, type BackfillInput, type BackfillResult } from '../../src/workflows/backfill';
import { invalidInput, useTimeSkippingEnv, withMockedWorker } from '../helpers/time-skipping';

type Mocks = Pick<
  NightlyActivities,
  'dayFinished' | 'planCleaning' | 'cleanShard' | 'commitPartition' | 'runAnalytics'
>;

/**
 * Each day's nightly as mocks: no shards, a commit that fails the pin gate on `gateFailsOn`,
 * analytics recorded per day. `finished` are the days whose analytics exist already.
 */
function dayMocks(options: { finished?: string[]; gateFailsOn?: string } = {}) {
  const asked: { date: string; runId: string }[] = [];
  const analysed: string[] = [];
  const buckets = new Set<string>();
  const activities: Mocks = {
    async dayFinished(input) {
      asked.push({ date: input.date, runId: Context.current().info.workflowExecution!.runId });
      return (options.finished ?? []).includes(input.date);
    },
    async planCleaning(input) {
      return { planKey: `plan/${input.table}/${input.date}`, objects: 0, bytes: 0, shards: 0 };
    },
    async cleanShard() {
      throw new Error('no shard expected');
    },
    async commitPartition(input) {
      if (input.date === options.gateFailsOn && input.table === 'pin') {
        throw ApplicationFailure.create({
          type: QUALITY_GATE_FAILED,
          nonRetryable: true,
          message: `pin ${input.date}: quality gate failed: ind_is_integer (1 of 1 rows: ind present and a non-negative integer)`,
        });
      }
      return {
        manifestKey: `clean/${input.table}/${input.date}/_manifest.json`,
        files: [],
        counts: { rawRecords: 0, rowsOut: 0, quarantined: 0, duplicates: 0 },
        gates: [],
        replaced: 0,
      };
    },
    async runAnalytics(input) {
      analysed.push(input.date);
      buckets.add(input.bucket);
      return {
        manifestKey: `analytics/${input.date}/_manifest.json`,
        reportKey: `analytics/${input.date}/report.html`,
        queries: [],
        partitions: { pin: 0, geo: 0, user: 0 },
      };
    },
  };
  return { activities, asked, analysed, buckets };
}

describe('backfill workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  const start = (
    taskQueue: string,
    input: Omit<BackfillInput, 'pipelineId'>,
    pipelineId?: string,
  ) =>
    env().client.workflow.execute(backfill, {
      taskQueue,
      workflowId: `backfill-${randomUUID()}`,
      args: [{ pipelineId: pipelineId ?? randomBytes(6).toString('hex'), ...input }],
    });
  const run = (activities: Mocks, input: Omit<BackfillInput, 'pipelineId'>, pipelineId?: string) =>
    withMockedWorker(env(), activities, (taskQueue) => start(taskQueue, input, pipelineId));

  it('runs every day from..to once, continuing as new every daysPerRun days with the days carried', async () => {
    const m = dayMocks({ finished: ['2026-10-31'], gateFailsOn: '2026-11-02' });
    const pipelineId = randomBytes(6).toString('hex');
    const r: BackfillResult = await run(
      m.activities,
      { from: '2026-10-30', to: '2026-11-03', daysPerRun: 2 },
      pipelineId,
    );

    // Every day in date order, across the month end, with its outcome (carried or not).
    assert.deepEqual(r.days, [
      { date: '2026-10-30', status: 'done' },
      { date: '2026-10-31', status: 'skipped' },
      {
        date: '2026-11-01',
        status: 'done',
      },
      {
        date: '2026-11-02',
        status: 'failed',
        reason:
          'nightly 2026-11-02: analytics skipped because pin: pin 2026-11-02: quality gate failed: ind_is_integer (1 of 1 rows: ind present and a non-negative integer)',
      },
      { date: '2026-11-03', status: 'done' },
    ]);
    // Two days per run: three runs, each looking at its own days only.
    const runs = [...new Set(m.asked.map((a) => a.runId))];
    assert.deepEqual(
      runs.map((id) =>
        m.asked
          .filter((a) => a.runId === id)
          .map((a) => a.date)
          .sort(),
      ),
      [['2026-10-30', '2026-10-31'], ['2026-11-01', '2026-11-02'], ['2026-11-03']],
    );
    // The nightly ran (analytics included) once for each day not finished nor failed.
    assert.deepEqual(m.analysed.sort(), ['2026-10-30', '2026-11-01', '2026-11-03']);
    assert.deepEqual([...m.buckets], [bucketFor(pipelineId)]);
  });

  it('force redoes finished days without asking', async () => {
    const m = dayMocks({ finished: ['2026-05-01', '2026-05-02'] });
    const r = await run(m.activities, { from: '2026-05-01', to: '2026-05-02', force: true });
    assert.deepEqual(
      r.days.map((d) => d.status),
      ['done', 'done'],
    );
    assert.equal(m.asked.length, 0);
    assert.deepEqual(m.analysed.sort(), ['2026-05-01', '2026-05-02']);
  });

  it('a single day (from = to) is one day', async () => {
    const m = dayMocks();
    const r = await run(m.activities, { from: '2028-02-29', to: '2028-02-29' });
    assert.deepEqual(r.days, [{ date: '2028-02-29', status: 'done' }]);
  });

  it('refuses bounds that are not days, reversed, or longer than ten years, before any day', async () => {
    const m = dayMocks();
    await withMockedWorker(env(), m.activities, async (taskQueue) => {
      const refused = (input: Omit<BackfillInput, 'pipelineId'>, pattern: RegExp, id?: string) =>
        assert.rejects(start(taskQueue, input, id), invalidInput(pattern));
      // One after the other: concurrent waits on results upset the test server's time skipping.
      await refused(
        { from: '2026-11-03', to: '2026-11-02' },
        /from\/to: expected YYYY-MM-DD with from <= to, got 2026-11-03\.\.2026-11-02/,
      );
      await refused({ from: '2027-02-29', to: '2027-03-01' }, /from\/to: expected YYYY-MM-DD/);
      await refused({ from: '2026-11-01', to: '2026-11' }, /from\/to: expected YYYY-MM-DD/);
      await refused(
        { from: '2016-01-01', to: '2026-01-10' },
        /from\/to: at most ten years at once/,
      );
      await refused(
        { from: '2026-11-01', to: '2026-11-01' },
        /pipelineId: expected 12 lowercase hex characters/,
        'NOT-A-PIPELINE',
      );
    });
    assert.equal(m.asked.length, 0);
    assert.equal(m.analysed.length, 0);
  });
});

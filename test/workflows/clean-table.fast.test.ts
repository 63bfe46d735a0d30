/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  CleanShardInput,
  CleanShardResult,
  PlanCleaningInput,
} from '../../src/activities/cleaning-activities';
import {
  QUALITY_GATE_FAILED,
  type CommitPartitionInput,
  type CommitPartitionResult,
} from '../../src/activities/commit-partition';
import type { NightlyActivities } from '../../src/activities/nightly-activities';
import type { CleanGeo, CleanPin, CleanRecordMap } from '../../src/domain/cleaning';
import { DEFAULT_GATES, GateTally, commitGates } from '../../src/domain/quality-gates';
import { bucketFor, type Table } from '../../src/domain/tables';
import { shardTaskQueue } from '../../src/domain/workflow-ids';
import {
  cleanTable,
  type CleanTableInput,
  type CleanTableResult,
} from '../../src/workflows/clean-table';
import {
  executeMocked,
  invalidInput,
  useTimeSkippingEnv,
  workflowFailure,
} from '../helpers/time-skipping';

type CleaningMocks = Pick<NightlyActivities, 'planCleaning' | 'cleanShard' | 'commitPartition'>;

const DATE = '2026-11-24';

const pin = (ind: number, over: Partial<CleanPin> = {}): CleanPin => ({
  ind,
  unique_id: `0000000${ind}-aaaa-4bbb-8ccc-dddddddddddd`.slice(-36),
  title: `title ${ind}`,
  description: null,
  follower_count: 100 + ind,
  poster_name: 'someone',
  tag_list: null,
  is_image_or_video: 'image',
  image_src: null,
  save_location: null,
  category: 'finance',
  ...over,
});
const geo = (ind: number, over: Partial<CleanGeo> = {}): CleanGeo => ({
  ind,
  country: 'Chile',
  coordinates: [-33.4, -70.6],
  timestamp: '2026-11-24T10:00:00Z',
  ...over,
});

/**
 * The cleaning activities as a day of hand-made clean rows, one array per shard. cleanShard
 * checks each row with the domain's gates (GateTally, as the SQL cleaning reports them): a row
 * failing a `drop` gate is quarantined. commitPartition decides as commit-partition.ts does:
 * the distinct kept rows, the summed gate state restored into a GateTally, the row-count
 * reconciliation, and QualityGateFailed (non-retryable) when a gate fails.
 */
function cleaningDay<T extends Table>(table: T, shards: CleanRecordMap[T][][]) {
  const plans: PlanCleaningInput[] = [];
  const cleaned: (CleanShardInput & { taskQueue: string; runId: string })[] = [];
  const commits: CommitPartitionInput[] = [];
  const staged = new Map<number, CleanRecordMap[T][]>();
  const activities: CleaningMocks = {
    async planCleaning(input) {
      plans.push(input);
      return {
        planKey: `plan/${input.table}/${input.date}/${input.run}`,
        objects: shards.length * 2,
        bytes: 1000,
        shards: shards.length,
      };
    },
    async cleanShard(input): Promise<CleanShardResult> {
      const { info } = Context.current();
      cleaned.push({ ...input, taskQueue: info.taskQueue, runId: info.workflowExecution!.runId });
      const rows = shards[input.shard]!;
      const tally = new GateTally(DEFAULT_GATES[table]);
      const kept: CleanRecordMap[T][] = [];
      let quarantined = 0;
      for (const row of rows) {
        if (tally.check(row).length > 0) quarantined++;
        else kept.push(row);
      }
      staged.set(input.shard, kept);
      return {
        shard: input.shard,
        bytes: 100,
        resumed: false,
        rawRecords: rows.length,
        rowsIn: kept.length,
        quarantined,
        gateState: tally.snapshot(),
      };
    },
    async commitPartition(input): Promise<CommitPartitionResult> {
      commits.push(input);
      const distinct = new Set<string>();
      for (let s = 0; s < input.shards; s++) {
        for (const row of staged.get(s) ?? []) distinct.add(JSON.stringify(row));
      }
      const counts = {
        rawRecords: input.counts.rawRecords,
        rowsOut: distinct.size,
        quarantined: input.counts.quarantined,
        duplicates: input.counts.rowsIn - distinct.size,
      };
      const { gates, failure } = commitGates(
        DEFAULT_GATES[input.table],
        input.gateState,
        counts,
        `${input.table} ${input.date}`,
      );
      if (failure !== undefined) {
        throw ApplicationFailure.create({
          type: QUALITY_GATE_FAILED,
          nonRetryable: true,
          message: failure,
          details: [gates],
        });
      }
      const key = `clean/${input.table}/${input.date}/${input.run}-0.parquet`;
      return {
        manifestKey: `clean/${input.table}/${input.date}/_manifest.json`,
        files: [{ key, rows: distinct.size, bytes: 10 }],
        counts,
        gates,
        replaced: 0,
      };
    },
  };
  return { activities, plans, cleaned, commits };
}

describe('cleanTable workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  const input = (table: Table, over: Partial<CleanTableInput> = {}): CleanTableInput => {
    const pipelineId = randomBytes(6).toString('hex');
    return {
      pipelineId,
      bucket: bucketFor(pipelineId),
      table,
      date: DATE,
      run: randomBytes(6).toString('hex'),
      ...over,
    };
  };
  const run = (activities: CleaningMocks, args: CleanTableInput): Promise<CleanTableResult> =>
    executeMocked(env(), activities, cleanTable, {
      workflowId: `clean-${args.table}-${randomUUID()}`,
      args: [args],
    });

  it('cleans every shard once on the companion queue and commits their summed counts', async () => {
    const day = cleaningDay('pin', [
      [pin(1), pin(2)],
      [pin(3), pin(1)], // pin(1) again: a duplicate across shards
      [pin(4)],
      [pin(5), pin(6), pin(7)],
      [],
    ]);
    const args = input('pin', { cleaning: { shardWindow: 2 } });
    const r = await run(day.activities, args);

    assert.equal(day.plans.length, 1);
    assert.deepEqual(
      day.cleaned.map((c) => c.shard).sort(),
      [0, 1, 2, 3, 4],
      'each shard exactly once',
    );
    const queues = new Set(day.cleaned.map((c) => c.taskQueue));
    assert.equal(queues.size, 1);
    const [queue] = queues;
    assert.equal(queue, shardTaskQueue(queue!.replace(/-shards$/, '')), 'the shard queue');
    assert.ok(day.cleaned.every((c) => c.planKey === `plan/pin/${DATE}/${args.run}`));
    assert.equal(day.commits.length, 1);
    assert.deepEqual(day.commits[0]!.counts, { rawRecords: 8, rowsIn: 8, quarantined: 0 });
    assert.equal(day.commits[0]!.gateState.checked, 8);
    assert.equal(day.commits[0]!.shards, 5);
    assert.deepEqual(r.counts, { rawRecords: 8, rowsOut: 7, quarantined: 0, duplicates: 1 });
    assert.ok(r.gates.every((g) => g.status === 'pass'));
    assert.equal(r.shards, 5);
    assert.equal(r.inputs, 10);
    assert.equal(r.table, 'pin');
    assert.equal(r.date, DATE);
  });

  it('continues as new every shardsPerRun shards, carrying the plan and the totals', async () => {
    const day = cleaningDay('geo', [[geo(1)], [geo(2)], [geo(3), geo(4)], [geo(5)], [geo(6)]]);
    const r = await run(day.activities, input('geo', { cleaning: { shardsPerRun: 2 } }));

    assert.equal(day.plans.length, 1, 'planned once, in the first run');
    assert.deepEqual(
      day.cleaned.map((c) => c.shard).sort(),
      [0, 1, 2, 3, 4],
      'no shard cleaned twice or skipped across runs',
    );
    // Shards 0-1, 2-3 and 4: three runs of the workflow, in shard order.
    const runs = [...new Set(day.cleaned.map((c) => c.runId))];
    assert.equal(runs.length, 3);
    assert.deepEqual(
      runs.map((id) =>
        day.cleaned
          .filter((c) => c.runId === id)
          .map((c) => c.shard)
          .sort(),
      ),
      [[0, 1], [2, 3], [4]],
    );
    assert.deepEqual(day.commits[0]!.counts, { rawRecords: 6, rowsIn: 6, quarantined: 0 });
    assert.equal(day.commits[0]!.gateState.checked, 6);
    assert.equal(r.counts.rowsOut, 6);
  });

  it('a failing drop gate quarantines the row and the table commits (gate dropped)', async () => {
    const day = cleaningDay('pin', [[pin(1), pin(2, { category: 'not-a-category' })], [pin(3)]]);
    const r = await run(day.activities, input('pin'));
    assert.deepEqual(r.counts, { rawRecords: 3, rowsOut: 2, quarantined: 1, duplicates: 0 });
    const gate = r.gates.find((g) => g.name === 'category_known')!;
    assert.deepEqual(
      [gate.policy, gate.failed, gate.checked, gate.status],
      ['drop', 1, 3, 'dropped'],
    );
    assert.equal(r.gates.find((g) => g.name === 'row_counts_reconcile')!.status, 'pass');
  });

  it('a failing warn gate keeps the row and the table commits (gate warned)', async () => {
    const day = cleaningDay('geo', [[geo(1, { country: null }), geo(2)]]);
    const r = await run(day.activities, input('geo'));
    assert.deepEqual(r.counts, { rawRecords: 2, rowsOut: 2, quarantined: 0, duplicates: 0 });
    const gate = r.gates.find((g) => g.name === 'country_present')!;
    assert.deepEqual([gate.policy, gate.failed, gate.status], ['warn', 1, 'warned']);
  });

  it('a failing fail gate fails the table with the gate and its counts, once', async () => {
    const day = cleaningDay('pin', [[pin(1), pin(2, { follower_count: -5 })], [pin(3)]]);
    await assert.rejects(run(day.activities, input('pin')), (err: unknown) => {
      const failure = workflowFailure(err, QUALITY_GATE_FAILED);
      assert.equal(
        failure.message,
        `pin ${DATE}: quality gate failed: follower_count_non_negative (1 of 3 rows: follower_count is a non-negative integer or null)`,
      );
      const [gates] = failure.details as [{ name: string; status: string }[]];
      assert.equal(gates.find((g) => g.name === 'follower_count_non_negative')?.status, 'failed');
      return true;
    });
    assert.equal(day.commits.length, 1, 'a failed gate is not retried');
  });

  it('a shard that keeps failing fails the table, naming it, after five attempts; nothing commits', async () => {
    const day = cleaningDay('geo', [[geo(1)], [geo(2)]]);
    let attempts = 0;
    const activities: CleaningMocks = {
      ...day.activities,
      async cleanShard(input) {
        if (input.shard === 1) {
          attempts++;
          throw new Error('raw/geo/x.json from byte 4096: unexpected end of data');
        }
        return day.activities.cleanShard(input);
      },
    };
    await assert.rejects(run(activities, input('geo')), (err: unknown) => {
      assert.equal(
        workflowFailure(err, 'ShardFailed').message,
        `geo ${DATE}: cleaning failed: shard 2 of 2: raw/geo/x.json from byte 4096: unexpected end of data (gave up after 5 attempts)`,
      );
      return true;
    });
    assert.equal(attempts, 5);
    assert.equal(day.commits.length, 0);
  });

  it('refuses a date that is not YYYY-MM-DD before doing anything', async () => {
    const day = cleaningDay('user', []);
    await assert.rejects(
      run(day.activities, input('user', { date: '2026-02-30' })),
      invalidInput(),
    );
    assert.equal(day.plans.length, 0);
  });
});

/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type {
  CommitIngestOffsetsInput,
  PrepareIngestResult,
  SinkActivities,
  SinkBatchInput,
  SinkBatchResult,
} from '../../src/activities/sink-activities';
import { topicFor } from '../../src/domain/tables';
import { ingestGroupId } from '../../src/domain/workflow-ids';
import { ingestTopic, stopSignal, type IngestTopicInput } from '../../src/workflows/ingest-topic';
import { createTimeSkippingEnv, executeMocked } from '../helpers/time-skipping';

/** The partitions' offsets: far ahead, so every batch leaves a backlog to drain. */
const HIGH_WATERMARK = 1_000_000;

interface Batch extends SinkBatchInput {
  /** Which run of the workflow (continue-as-new) asked: 0, 1, … */
  run: number;
  /** The n-th batch of this partition, over all runs (1-based). */
  nth: number;
}

/**
 * The sink's activities as a scripted topic of two partitions: every batch writes ten records,
 * except a few that say what the real sink reports in rarer cases (offsets lost to retention, an
 * object adopted from an earlier attempt, a stale result behind the ledger). The mock keeps its
 * own tally of what the ledger must say, and stops the workflow a few batches into its second run.
 */
function scriptedSink(options: { stopAfterBatchesInRun: { run: number; batches: number } }) {
  const runIds: string[] = [];
  const batches: Batch[] = [];
  const commits: CommitIngestOffsetsInput[] = [];
  const prepared: { run: number; result: PrepareIngestResult }[] = [];
  /** What the ledger must hold, per partition, from the results the workflow was given. */
  const expected = new Map<
    number,
    { nextOffset: number; recordsWritten: number; objectsWritten: number; lost: number }
  >();
  let ledgerAtRunStart: Record<number, number> = {};
  let stopped = false;

  const runOf = () => {
    const { runId } = Context.current().info.workflowExecution!;
    if (!runIds.includes(runId)) runIds.push(runId);
    return runIds.indexOf(runId);
  };

  const activities: SinkActivities = {
    async prepareIngest() {
      const run = runOf();
      ledgerAtRunStart = Object.fromEntries([...expected].map(([p, e]) => [p, e.nextOffset]));
      // First run: the group has an offset for partition 1 only (it seeds the empty ledger).
      // Second: what the first run committed, except partition 0, reset by someone to 7.
      const last = commits.at(-1);
      const committed =
        run === 0
          ? [{ partition: 1, offset: 40 }]
          : last!.offsets.map((o) => (o.partition === 0 ? { partition: 0, offset: 7 } : o));
      const result = { partitions: 2, committed };
      prepared.push({ run, result });
      return result;
    },

    async sinkBatch(input) {
      const run = runOf();
      const p = input.partition;
      const nth = batches.filter((b) => b.partition === p).length + 1;
      batches.push({ ...input, run, nth });
      const e = (expected.get(p) ??
        expected.set(p, { nextOffset: 0, recordsWritten: 0, objectsWritten: 0, lost: 0 }).get(p))!;
      const base: SinkBatchResult = {
        flushed: true,
        nextOffset: input.fromOffset + 10,
        highWatermark: HIGH_WATERMARK,
        pending: 0,
        recordsWritten: 10,
        quarantined: 0,
        objectsWritten: 1,
        objectsAdopted: 0,
        bytesWritten: 1000,
        skipped: 0,
        sampleKeys: [],
      };
      let r = base;
      if (p === 1 && nth === 2) {
        // A stale result (an older attempt's view): behind the ledger, nothing flushed.
        r = { ...base, flushed: false, nextOffset: input.fromOffset - 5, recordsWritten: 0 };
        r.objectsWritten = 0;
      } else if (p === 0 && nth === 3) {
        // Retention deleted five offsets before they were read: ten records after them.
        r = { ...base, nextOffset: input.fromOffset + 15, skipped: 5 };
      } else if (p === 0 && nth === 4) {
        // The object was there already, written by an attempt whose result was lost.
        r = { ...base, objectsWritten: 0, objectsAdopted: 1 };
      }
      e.nextOffset = Math.max(e.nextOffset, r.nextOffset);
      e.lost += r.skipped;
      if (r.flushed) {
        e.recordsWritten += r.recordsWritten;
        e.objectsWritten += r.objectsWritten + r.objectsAdopted;
      }
      const stop = options.stopAfterBatchesInRun;
      if (
        !stopped &&
        run === stop.run &&
        batches.filter((b) => b.run === run).length >= stop.batches
      ) {
        stopped = true;
        const { workflowId } = Context.current().info.workflowExecution!;
        await env().client.workflow.getHandle(workflowId).signal(stopSignal);
      }
      return r;
    },

    async commitIngestOffsets(input) {
      commits.push(input);
    },
  };
  return {
    activities,
    runIds,
    batches,
    commits,
    prepared,
    expected,
    ledgerAtRunStart: () => ledgerAtRunStart,
  };
}

let currentEnv: TestWorkflowEnvironment | undefined;
const env = () => currentEnv!;

describe('ingestTopic workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);

  before(async () => {
    currentEnv = await createTimeSkippingEnv();
  });
  after(async () => {
    await currentEnv?.teardown();
  });

  it('continues as new when its history is full, carrying the ledger: offsets, counts, lost records', async () => {
    const pipelineId = randomBytes(6).toString('hex');
    const sink = scriptedSink({ stopAfterBatchesInRun: { run: 1, batches: 6 } });
    const input: IngestTopicInput = { pipelineId, table: 'pin', maxHistoryEvents: 200 };
    const result = await executeMocked(env(), sink.activities, ingestTopic, {
      workflowId: `ingest-${pipelineId}-${randomUUID()}`,
      args: [input],
    });

    // One continue-as-new (history reached 200 events), then stopped in the second run.
    assert.equal(sink.runIds.length, 2);
    assert.equal(result.run, 2);
    const firstRun = sink.batches.filter((b) => b.run === 0);
    const secondRun = sink.batches.filter((b) => b.run === 1);
    assert.ok(firstRun.length >= 20, `${firstRun.length} batches before continuing as new`);
    assert.ok(secondRun.length >= 6);
    assert.ok(sink.batches.every((b) => b.topic === topicFor(pipelineId, 'pin')));

    // The first run: an empty ledger starts where the group is, or at 0.
    assert.equal(firstRun.find((b) => b.partition === 0)!.fromOffset, 0);
    assert.equal(firstRun.find((b) => b.partition === 1)!.fromOffset, 40);

    // Before continuing as new, the offsets went to the group; the second run resumes from the
    // carried ledger, not from the group (reset to 7 for partition 0), and says they differ.
    const carried = sink.ledgerAtRunStart();
    const lastCommitOfRun0 = sink.commits.filter(
      (c) => c.groupId === ingestGroupId(topicFor(pipelineId, 'pin')),
    );
    assert.ok(lastCommitOfRun0.length > 0);
    for (const p of [0, 1]) {
      assert.equal(
        secondRun.find((b) => b.partition === p)!.fromOffset,
        carried[p],
        `partition ${p}`,
      );
    }
    assert.deepEqual(
      sink.prepared[1]!.result.committed.find((c) => c.partition === 1)?.offset,
      carried[1],
    );
    assert.deepEqual(result.groupDifferences, [
      { partition: 0, ledgerOffset: carried[0], groupOffset: 7 },
    ]);

    // Offsets only move forward: the stale result of partition 1 did not move it back.
    for (const p of [0, 1]) {
      const from = sink.batches.filter((b) => b.partition === p).map((b) => b.fromOffset);
      assert.ok(
        from.every((f, i) => i === 0 || f >= from[i - 1]!),
        `partition ${p} went back: ${from.join(',')}`,
      );
    }
    const p1 = sink.batches.filter((b) => b.partition === 1);
    assert.equal(
      p1[2]!.fromOffset,
      p1[1]!.fromOffset,
      'after a stale result, the same offset again',
    );

    // The ledger, carried across the run: nothing counted twice or lost.
    for (const p of [0, 1]) {
      const row = result.partitions.find((r) => r.partition === p)!;
      const e = sink.expected.get(p)!;
      assert.equal(row.nextOffset, e.nextOffset, `partition ${p} nextOffset`);
      assert.equal(row.recordsWritten, e.recordsWritten, `partition ${p} recordsWritten`);
      assert.equal(row.objectsWritten, e.objectsWritten, `partition ${p} objectsWritten`);
      assert.equal(row.lostToRetention, e.lost, `partition ${p} lostToRetention`);
      assert.equal(row.highWatermark, HIGH_WATERMARK);
      assert.equal(row.lag, HIGH_WATERMARK - e.nextOffset);
    }
    assert.equal(result.totals.lostToRetention, 5, 'the five offsets lost, counted once, carried');
    assert.equal(
      result.totals.recordsWritten,
      sink.expected.get(0)!.recordsWritten + sink.expected.get(1)!.recordsWritten,
    );
    // The records written in the first run are in the total (carried, not restarted at 0).
    assert.ok(result.totals.recordsWritten > secondRun.length * 10);
    // The last commit (on stop) holds the final ledger.
    assert.deepEqual(
      sink.commits.at(-1)!.offsets,
      [0, 1].map((p) => ({ partition: p, offset: sink.expected.get(p)!.nextOffset })),
    );
  });
});

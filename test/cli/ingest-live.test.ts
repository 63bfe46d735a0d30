import assert from 'node:assert/strict';
import { liveFigures } from '../../src/cli/ingest-live';
import type { IngestProgress } from '../../src/workflows/ingest-topic';

describe('ingest status: live figures', () => {
  const readAt = new Date('2026-11-25T10:00:00Z');
  const ledger = (partition: number, nextOffset: number, highWatermark: number) => ({
    partition,
    nextOffset,
    highWatermark,
    lag: highWatermark - nextOffset,
    recordsWritten: nextOffset,
    objectsWritten: 1,
    quarantined: 0,
    lostToRetention: 0,
    lastFlushAt: null,
  });
  const progress: IngestProgress = {
    pipelineId: '5eedcafe0001',
    table: 'pin',
    topic: '5eedcafe0001.pin',
    bucket: 'user-5eedcafe0001-bucket',
    // The workflow last saw high 10 on partition 0: 5 more records wait in an open batch.
    partitions: [ledger(0, 10, 10), ledger(1, 7, 7)],
    totals: { lag: 0, recordsWritten: 17, objectsWritten: 2, quarantined: 0, lostToRetention: 0 },
    run: 1,
  };

  it("lag is Kafka's high watermark now minus the ledger's next offset", () => {
    const live = liveFigures(
      progress.topic,
      progress,
      [
        { partition: 0, low: 0, high: 15 },
        { partition: 1, low: 0, high: 7 },
      ],
      [],
      readAt,
    );
    assert.deepEqual(live, {
      topic: '5eedcafe0001.pin',
      readAt: '2026-11-25T10:00:00.000Z',
      lag: 5,
      partitions: [
        { partition: 0, highWatermark: 15, nextOffset: 10, nextOffsetFrom: 'workflow', lag: 5 },
        { partition: 1, highWatermark: 7, nextOffset: 7, nextOffsetFrom: 'workflow', lag: 0 },
      ],
    });
  });

  it('a partition outside the ledger counts from the consumer group, else from 0', () => {
    const marks = [
      { partition: 0, low: 0, high: 12 },
      { partition: 1, low: 0, high: 9 },
      { partition: 2, low: 0, high: 4 },
    ];
    const committed = [{ partition: 2, offset: 3 }];
    const withLedger = liveFigures(progress.topic, progress, marks, committed, readAt);
    assert.deepEqual(
      withLedger.partitions.map((p) => [p.nextOffset, p.nextOffsetFrom, p.lag]),
      [
        [10, 'workflow', 2],
        [7, 'workflow', 2],
        [3, 'group', 1],
      ],
    );
    const noWorkflow = liveFigures(progress.topic, undefined, marks, committed, readAt);
    assert.deepEqual(
      noWorkflow.partitions.map((p) => [p.nextOffset, p.nextOffsetFrom, p.lag]),
      [
        [0, 'group', 12],
        [0, 'group', 9],
        [3, 'group', 1],
      ],
    );
    assert.equal(noWorkflow.lag, 22);
  });
});

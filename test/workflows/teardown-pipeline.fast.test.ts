/* eslint-disable @typescript-eslint/require-await -- mocked activities are async like the real ones, most only return */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  RecordInventoryInput,
  RemoveResourceInput,
  TeardownActivities,
} from '../../src/activities/teardown-activities';
import type { Inventory, InventoryEntry } from '../../src/domain/inventory';
import type { ResourceKind } from '../../src/domain/provision-steps';
import { TABLES, bucketFor, topicFor } from '../../src/domain/tables';
import { ingestWorkflowId, nightlyScheduleId } from '../../src/domain/workflow-ids';
import {
  teardownPipeline,
  type TeardownInput,
  type TeardownResult,
} from '../../src/workflows/teardown-pipeline';
import { executeMocked, invalidInput, useTimeSkippingEnv } from '../helpers/time-skipping';

const INSTANCE = 'i-0123456789abcdef0';
const STRANGER = 'i-0fedcba987654321f';
const MSK = 'b-1.msk.example:9098';

/**
 * A local pipeline as provisioning records it: ingestion, schedule, client host and endpoint,
 * two topics and the bucket it created, and the pin topic it found already there (adopted).
 * With `aws`, its topics live on MSK.
 */
function inventoryOf(pipelineId: string, options: { aws?: boolean } = {}): Inventory {
  const [pin, geo, user] = TABLES.map((t) => topicFor(pipelineId, t));
  const e = (kind: ResourceKind, id: string): InventoryEntry => ({ kind, id });
  return {
    version: 2,
    pipelineId,
    target: options.aws ? 'aws' : 'local',
    region: 'us-east-1',
    bucket: bucketFor(pipelineId),
    recordedBy: 'provision-x/run-y',
    ...(options.aws ? { kafkaBrokers: MSK } : {}),
    owned: [
      e('bucket', bucketFor(pipelineId)),
      e('topic', geo!),
      e('topic', user!),
      e('instance', INSTANCE),
      e('endpoint', 'http://127.0.0.1:8082'),
      ...TABLES.map((t) => e('workflow', ingestWorkflowId(pipelineId, t))),
      e('schedule', nightlyScheduleId(pipelineId)),
      // Edited in by hand: not the pipeline's, as its own tags will say.
      e('instance', STRANGER),
    ],
    adopted: [e('topic', pin!)],
  };
}

/** Teardown's activities over an inventory; the stranger instance refuses removal. */
function teardownMocks(inventory: Inventory | null, swept: string[] = []) {
  const removals: RemoveResourceInput[] = [];
  const recorded: RecordInventoryInput[] = [];
  const activities: Pick<
    TeardownActivities,
    'loadInventory' | 'removeResource' | 'sweepClientHosts' | 'recordInventory'
  > = {
    async loadInventory() {
      return inventory;
    },
    async removeResource(input) {
      removals.push(input);
      if (input.id === STRANGER) {
        return {
          kind: input.kind,
          id: input.id,
          result: 'refused',
          reason: `instance ${STRANGER} does not carry the tag pinpipe:pipeline=${input.pipelineId}`,
        };
      }
      const result =
        input.kind === 'workflow'
          ? 'stopped'
          : input.kind === 'instance'
            ? 'terminated'
            : input.kind === 'endpoint'
              ? 'nothing-to-do'
              : 'deleted';
      return { kind: input.kind, id: input.id, result };
    },
    async sweepClientHosts() {
      return swept;
    },
    async recordInventory(input) {
      recorded.push(input);
      return { resources: [], summary: 'recorded' };
    },
  };
  return { activities, removals, recorded };
}

/** The kinds in the order they were removed (each kind's removals run together). */
const kindOrder = (removals: RemoveResourceInput[]) =>
  removals.map((r) => r.kind).filter((k, i, all) => i === 0 || all[i - 1] !== k);

describe('teardownPipeline workflow (time-skipping, mocked activities)', function () {
  this.timeout(60_000);
  const env = useTimeSkippingEnv();

  const run = (
    activities: ReturnType<typeof teardownMocks>['activities'],
    input: TeardownInput,
  ): Promise<TeardownResult> =>
    executeMocked(env(), activities, teardownPipeline, {
      workflowId: `teardown-${input.pipelineId}-${randomUUID()}`,
      args: [input],
    });
  const newPipelineId = () => randomBytes(6).toString('hex');

  it('without deleteData: removes the owned resources in order, keeps the data, refuses what is not provably the pipeline’s', async () => {
    const pipelineId = newPipelineId();
    const inventory = inventoryOf(pipelineId);
    const m = teardownMocks(inventory, ['i-0aaaaaaaaaaaaaaaa']);
    const r = await run(m.activities, { pipelineId });

    assert.equal(r.inventoryFound, true);
    // Ingestion first, then the schedule, the host, the endpoint; never a topic or the bucket.
    assert.deepEqual(kindOrder(m.removals), ['workflow', 'schedule', 'instance', 'endpoint']);
    assert.ok(m.removals.every((x) => x.pipelineId === pipelineId && x.deleteData === false));
    assert.deepEqual(r.removed.map((x) => `${x.kind} ${x.result}`).sort(), [
      'endpoint nothing-to-do',
      'instance terminated',
      'schedule deleted',
      'workflow stopped',
      'workflow stopped',
      'workflow stopped',
    ]);
    // Refused: reported with the reason, not counted as removed.
    assert.deepEqual(
      r.refused.map((x) => [x.kind, x.id]),
      [['instance', STRANGER]],
    );
    assert.match(r.refused[0]!.reason, /does not carry the tag/);
    assert.ok(!r.removed.some((x) => x.id === STRANGER));
    // The data the run created stays, and so does the adopted topic; both stay on record.
    assert.deepEqual(
      r.kept.map((x) => x.id),
      [bucketFor(pipelineId), topicFor(pipelineId, 'geo'), topicFor(pipelineId, 'user')],
    );
    assert.deepEqual(
      r.adopted.map((x) => x.id),
      [topicFor(pipelineId, 'pin')],
    );
    assert.equal(m.recorded.length, 1);
    const left = m.recorded[0]!.inventory as Inventory;
    assert.deepEqual(left.owned, r.kept);
    assert.deepEqual(left.adopted, r.adopted);
    assert.deepEqual(r.sweptInstances, ['i-0aaaaaaaaaaaaaaaa']);
  });

  it('with deleteData: also deletes its topics and, last, its bucket; nothing is left to record', async () => {
    const pipelineId = newPipelineId();
    const m = teardownMocks(inventoryOf(pipelineId, { aws: true }));
    const r = await run(m.activities, { pipelineId, deleteData: true });

    assert.deepEqual(kindOrder(m.removals), [
      'workflow',
      'schedule',
      'instance',
      'endpoint',
      'topic',
      'bucket',
    ]);
    assert.ok(m.removals.every((x) => x.deleteData === true));
    // The aws target's topics are deleted on its MSK cluster; nothing else is sent there.
    const topics = m.removals.filter((x) => x.kind === 'topic');
    assert.deepEqual(topics.map((x) => x.id).sort(), [
      topicFor(pipelineId, 'geo'),
      topicFor(pipelineId, 'user'),
    ]);
    assert.ok(topics.every((x) => x.brokers === MSK));
    assert.ok(m.removals.filter((x) => x.kind !== 'topic').every((x) => x.brokers === undefined));
    assert.deepEqual(r.kept, []);
    // The adopted topic stays, even with deleteData, unless named.
    assert.deepEqual(
      r.adopted.map((x) => x.id),
      [topicFor(pipelineId, 'pin')],
    );
    assert.ok(!m.removals.some((x) => x.id === topicFor(pipelineId, 'pin')));
    assert.equal(m.recorded.length, 0, 'the bucket (where the record lives) is gone');
  });

  it('removes an adopted topic only when named and with deleteData; names not on record are reported', async () => {
    const pipelineId = newPipelineId();
    const pin = topicFor(pipelineId, 'pin');
    const withoutData = teardownMocks(inventoryOf(pipelineId));
    const kept = await run(withoutData.activities, { pipelineId, includeAdopted: [pin] });
    assert.ok(!withoutData.removals.some((x) => x.id === pin), 'data needs deleteData too');
    assert.deepEqual(
      kept.adopted.map((x) => x.id),
      [pin],
    );

    const withData = teardownMocks(inventoryOf(pipelineId));
    const r = await run(withData.activities, {
      pipelineId,
      deleteData: true,
      includeAdopted: [`topic:${pin}`, 'no-such-thing'],
    });
    assert.deepEqual(
      withData.removals.filter((x) => x.id === pin).map((x) => x.deleteData),
      [true],
    );
    assert.deepEqual(r.adopted, []);
    assert.deepEqual(r.unmatched, ['no-such-thing']);
  });

  it('without an inventory: removes nothing but still sweeps the pipeline’s tagged hosts', async () => {
    const m = teardownMocks(null, [INSTANCE]);
    const r = await run(m.activities, { pipelineId: newPipelineId(), deleteData: true });
    assert.equal(r.inventoryFound, false);
    assert.equal(m.removals.length, 0);
    assert.deepEqual(r.sweptInstances, [INSTANCE]);
    assert.equal(m.recorded.length, 0);
  });

  it('refuses an ill-formed pipeline id before loading anything', async () => {
    const m = teardownMocks(inventoryOf(newPipelineId()));
    await assert.rejects(
      run(m.activities, { pipelineId: '../etc' }),
      invalidInput(/pipelineId: expected 12 lowercase hex characters/),
    );
    assert.equal(m.removals.length, 0);
  });
});

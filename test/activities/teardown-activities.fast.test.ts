import assert from 'node:assert/strict';
import { CLIENT_ROLE, ROLE_TAG } from '../../src/activities/client-host-activity';
import {
  createTeardownActivities,
  type RemoveResourceInput,
} from '../../src/activities/teardown-activities';
import {
  INVENTORY_KEY,
  INVENTORY_MAX_BYTES,
  PIPELINE_TAG,
  type Inventory,
} from '../../src/domain/inventory';
import { topicFor } from '../../src/domain/tables';
import { ingestWorkflowId, nightlyScheduleId } from '../../src/domain/workflow-ids';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { MemoryKafka } from '../fakes/memory-kafka';
import { memoryPorts } from '../fakes/memory-ports';

const PIPELINE = '0a1b2c3d4e5f';
const OTHER = 'ffffffffffff';
const BUCKET = `user-${PIPELINE}-bucket`;
const TOPIC = topicFor(PIPELINE, 'pin');

function fixture() {
  const ports = memoryPorts({ buckets: [BUCKET] });
  const cluster = new MemoryKafka();
  const teardown = createTeardownActivities({ ...ports, kafkaAt: () => cluster });
  return { ...ports, cluster, teardown };
}

function inventory(overrides: Partial<Inventory> = {}): Inventory {
  return {
    version: 2,
    pipelineId: PIPELINE,
    target: 'local',
    region: 'us-east-1',
    bucket: BUCKET,
    recordedBy: 'provision-run-1',
    owned: [{ kind: 'schedule', id: nightlyScheduleId(PIPELINE), deleteHow: 'by hand' }],
    adopted: [],
    ...overrides,
  };
}

describe('activities/teardown-activities (fast: in-memory ports)', () => {
  describe('recordInventory and loadInventory', () => {
    it('writes the inventory once: a second identical record writes nothing', async () => {
      const f = fixture();
      const first = await activityAttempt().run(f.teardown, 'recordInventory', {
        bucket: BUCKET,
        inventory: inventory(),
      });
      assert.match(first.summary, /1 owned, 0 adopted .* \(created\)/);
      assert.deepEqual(JSON.parse(f.store.text(BUCKET, INVENTORY_KEY)!), inventory());
      const puts = f.store.faults.count('put');
      const second = await activityAttempt().run(f.teardown, 'recordInventory', {
        bucket: BUCKET,
        inventory: inventory({ recordedBy: 'provision-run-2' }),
      });
      assert.match(second.summary, /\(unchanged\)/);
      assert.equal(f.store.faults.count('put'), puts);
    });

    it('records nothing when the bucket is gone', async () => {
      const f = fixture();
      const result = await activityAttempt().run(f.teardown, 'recordInventory', {
        bucket: 'gone-bucket',
        inventory: inventory({ bucket: 'gone-bucket' }),
      });
      assert.match(result.summary, /the bucket is gone, nothing recorded/);
      assert.equal(f.store.faults.count('put'), 0);
    });

    it('merging keeps owned what the file owned, and a bucket carrying the pipeline tag', async () => {
      const f = fixture();
      await f.store.ensureBucket('tagged-bucket');
      await f.store.ensureBucket('found-bucket');
      await f.bucketTags.add('tagged-bucket', { [PIPELINE_TAG]: PIPELINE });
      const topic = { kind: 'topic' as const, id: TOPIC, deleteHow: 'x' };
      await activityAttempt().run(f.teardown, 'recordInventory', {
        bucket: BUCKET,
        inventory: inventory({ owned: [topic] }),
      });
      // A rerun finds the topic the first run made, and two buckets it did not record.
      const rerun = await activityAttempt().run(f.teardown, 'recordInventory', {
        bucket: BUCKET,
        merge: true,
        inventory: inventory({
          owned: [],
          adopted: [
            topic,
            { kind: 'bucket', id: 'tagged-bucket' },
            { kind: 'bucket', id: 'found-bucket' },
          ],
        }),
      });
      const merged = rerun.inventory!;
      assert.deepEqual(
        merged.owned.map((e) => e.id),
        [TOPIC, 'tagged-bucket'],
      );
      assert.deepEqual(
        merged.adopted.map((e) => e.id),
        ['found-bucket'],
      );
      assert.deepEqual(JSON.parse(f.store.text(BUCKET, INVENTORY_KEY)!), merged);
    });

    it('loads null when there is no bucket or no file, and the file as validated otherwise', async () => {
      const f = fixture();
      assert.equal(
        await activityAttempt().run(f.teardown, 'loadInventory', { bucket: 'nope' }),
        null,
      );
      assert.equal(
        await activityAttempt().run(f.teardown, 'loadInventory', { bucket: BUCKET }),
        null,
      );
      const withExtra = {
        ...inventory(),
        owned: [{ kind: 'topic', id: TOPIC, holdsData: false }],
      };
      await f.store.put({ bucket: BUCKET, key: INVENTORY_KEY, body: JSON.stringify(withExtra) });
      const loaded = await activityAttempt().run(f.teardown, 'loadInventory', {
        bucket: BUCKET,
        pipelineId: PIPELINE,
      });
      assert.deepEqual(
        (loaded as Inventory).owned,
        [{ kind: 'topic', id: TOPIC }],
        'unknown keys dropped',
      );
    });

    for (const [what, body, reason] of [
      ['not JSON', '{"version": 2,', /not JSON/],
      [
        'of the wrong shape',
        JSON.stringify({ ...inventory(), owned: [{ kind: 'instance', id: 'vm-1' }] }),
        /owned\.0\.id: expected an EC2 instance id/,
      ],
      ['too large', `${' '.repeat(INVENTORY_MAX_BYTES)}{}`, /more than/],
      [
        "another pipeline's",
        JSON.stringify(inventory({ pipelineId: OTHER })),
        new RegExp(`inventory of pipeline ${OTHER}, not ${PIPELINE}`),
      ],
    ] as const) {
      it(`refuses for good an inventory ${what}`, async () => {
        const f = fixture();
        await f.store.put({ bucket: BUCKET, key: INVENTORY_KEY, body });
        const failure = await failureOf(
          activityAttempt().run(f.teardown, 'loadInventory', {
            bucket: BUCKET,
            pipelineId: PIPELINE,
          }),
        );
        assert.equal(failure.type, 'InvalidInventory');
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, reason);
      });
    }
  });

  describe('removeResource', () => {
    const remove = (f: ReturnType<typeof fixture>, input: RemoveResourceInput) =>
      activityAttempt().run(f.teardown, 'removeResource', input);

    it('refuses anything without a pipeline id to prove it by', async () => {
      const f = fixture();
      const id = ingestWorkflowId(PIPELINE, 'pin');
      f.control.workflows.set(id, { presence: 'running', starts: 1 });
      const r = await remove(f, { kind: 'workflow', id });
      assert.equal(r.result, 'refused');
      assert.match(r.reason!, /no pipeline id/);
      assert.equal(f.control.workflows.get(id)!.presence, 'running');
    });

    it('removes topics only with deleteData, and only those named for the pipeline', async () => {
      const f = fixture();
      const theirs = topicFor(OTHER, 'pin');
      await f.kafka.ensureTopics([
        { name: TOPIC, partitions: 1 },
        { name: theirs, partitions: 1 },
      ]);
      const kept = await remove(f, { kind: 'topic', id: TOPIC, pipelineId: PIPELINE });
      assert.equal(kept.result, 'refused');
      assert.match(kept.reason!, /holds data: removed only with deleteData/);
      const notOurs = await remove(f, {
        kind: 'topic',
        id: theirs,
        pipelineId: PIPELINE,
        deleteData: true,
      });
      assert.equal(notOurs.result, 'refused');
      assert.match(notOurs.reason!, /is not named 0a1b2c3d4e5f\.<table>/);
      assert.deepEqual(await f.kafka.listTopics(), [TOPIC, theirs].sort());

      const input = { kind: 'topic' as const, id: TOPIC, pipelineId: PIPELINE, deleteData: true };
      assert.equal((await remove(f, input)).result, 'deleted');
      assert.deepEqual(await f.kafka.listTopics(), [theirs]);
      assert.equal((await remove(f, input)).result, 'absent', 'a second removal is a no-op');
    });

    it("removes a topic on the cluster's brokers when the inventory names them", async () => {
      const f = fixture();
      await f.cluster.ensureTopics([{ name: TOPIC, partitions: 1 }]);
      await f.kafka.ensureTopics([{ name: TOPIC, partitions: 1 }]);
      const r = await remove(f, {
        kind: 'topic',
        id: TOPIC,
        pipelineId: PIPELINE,
        deleteData: true,
        brokers: 'b-1:9098',
      });
      assert.equal(r.result, 'deleted');
      assert.deepEqual(await f.cluster.listTopics(), []);
      assert.deepEqual(await f.kafka.listTopics(), [TOPIC], "the worker's own Kafka untouched");
      assert.equal(f.cluster.disconnected, 1);
    });

    it('stops ingestion workflows (terminating one that will not stop) and deletes the schedule', async () => {
      const f = fixture();
      const pin = ingestWorkflowId(PIPELINE, 'pin');
      const geo = ingestWorkflowId(PIPELINE, 'geo');
      f.control.workflows.set(pin, { presence: 'running', starts: 1 });
      f.control.workflows.set(geo, { presence: 'running', starts: 1 });
      f.control.stubborn.add(geo);
      assert.equal(
        (await remove(f, { kind: 'workflow', id: pin, pipelineId: PIPELINE })).result,
        'stopped',
      );
      assert.equal(
        (await remove(f, { kind: 'workflow', id: geo, pipelineId: PIPELINE })).result,
        'terminated',
      );
      assert.equal(
        (await remove(f, { kind: 'workflow', id: pin, pipelineId: PIPELINE })).result,
        'absent',
      );
      const foreign = ingestWorkflowId(OTHER, 'pin');
      f.control.workflows.set(foreign, { presence: 'running', starts: 1 });
      assert.equal(
        (await remove(f, { kind: 'workflow', id: foreign, pipelineId: PIPELINE })).result,
        'refused',
      );
      assert.equal(f.control.workflows.get(foreign)!.presence, 'running');

      const schedule = nightlyScheduleId(PIPELINE);
      await f.control.upsertSchedule({
        scheduleId: schedule,
        pipelineId: PIPELINE,
        taskQueue: 'q',
        cron: '0 2 * * *',
        timezone: 'UTC',
        paused: false,
      });
      assert.equal(
        (await remove(f, { kind: 'schedule', id: schedule, pipelineId: PIPELINE })).result,
        'deleted',
      );
      assert.equal(
        (await remove(f, { kind: 'schedule', id: schedule, pipelineId: PIPELINE })).result,
        'absent',
      );
      assert.equal(
        (await remove(f, { kind: 'schedule', id: nightlyScheduleId(OTHER), pipelineId: PIPELINE }))
          .result,
        'refused',
      );
    });

    it('terminates an instance only when it carries the pipeline tag', async () => {
      const f = fixture();
      const ours = f.ec2.addInstance({ [PIPELINE_TAG]: PIPELINE });
      const theirs = f.ec2.addInstance({ [PIPELINE_TAG]: OTHER });
      const refused = await remove(f, {
        kind: 'instance',
        id: theirs.instanceId,
        pipelineId: PIPELINE,
      });
      assert.equal(refused.result, 'refused');
      assert.match(refused.reason!, new RegExp(`tagged ${PIPELINE_TAG}=${OTHER}`));
      assert.equal(f.ec2.instances.get(theirs.instanceId)!.state, 'running');
      const input = { kind: 'instance' as const, id: ours.instanceId, pipelineId: PIPELINE };
      assert.equal((await remove(f, input)).result, 'terminated');
      assert.equal((await remove(f, input)).result, 'absent');
      assert.equal(
        (await remove(f, { kind: 'instance', id: 'i-00000000000000099', pipelineId: PIPELINE }))
          .result,
        'absent',
      );
    });

    it('empties and deletes the bucket named for the pipeline, heartbeating per thousand objects', async () => {
      const f = fixture();
      for (let i = 0; i < 2500; i++)
        await f.store.put({ bucket: BUCKET, key: `k/${i}`, body: 'x' });
      const kept = await remove(f, { kind: 'bucket', id: BUCKET, pipelineId: PIPELINE });
      assert.equal(kept.result, 'refused', 'data, without deleteData');
      assert.equal(f.store.keys(BUCKET).length, 2500);

      const attempt = activityAttempt();
      const r = await attempt.run(f.teardown, 'removeResource', {
        kind: 'bucket',
        id: BUCKET,
        pipelineId: PIPELINE,
        deleteData: true,
      });
      assert.equal(r.result, 'deleted');
      assert.equal(await f.store.bucketExists(BUCKET), false);
      assert.deepEqual(attempt.heartbeats.slice(1), [{ removed: 1000 }, { removed: 2000 }]);
      assert.equal(
        (await remove(f, { kind: 'bucket', id: BUCKET, pipelineId: PIPELINE, deleteData: true }))
          .result,
        'absent',
      );
    });

    it('deletes a bucket under another name only when it carries the pipeline tag', async () => {
      const f = fixture();
      await f.store.ensureBucket('custom-bucket');
      await f.store.put({ bucket: 'custom-bucket', key: 'a', body: 'keep me' });
      const input = {
        kind: 'bucket' as const,
        id: 'custom-bucket',
        pipelineId: PIPELINE,
        deleteData: true,
      };
      const refused = await remove(f, input);
      assert.equal(refused.result, 'refused');
      assert.match(refused.reason!, /neither named user-0a1b2c3d4e5f-bucket nor tagged/);
      assert.equal(f.store.text('custom-bucket', 'a'), 'keep me');

      await f.bucketTags.add('custom-bucket', { [PIPELINE_TAG]: PIPELINE });
      assert.equal((await remove(f, input)).result, 'deleted');
      assert.equal(await f.store.bucketExists('custom-bucket'), false);
    });

    it('has nothing to do for an endpoint, and refuses aws kinds on a worker without aws clients', async () => {
      const f = fixture();
      assert.equal(
        (await remove(f, { kind: 'endpoint', id: 'http://127.0.0.1:8082', pipelineId: PIPELINE }))
          .result,
        'nothing-to-do',
      );
      const failure = await failureOf(
        remove(f, { kind: 'security-group', id: 'sg-0123456789abcdef0', pipelineId: PIPELINE }),
      );
      assert.equal(failure.type, 'InvalidConfig');
      assert.equal(failure.nonRetryable, true);
    });
  });

  it('sweepClientHosts terminates every client host tagged for the pipeline, nothing else', async () => {
    const f = fixture();
    const hosts = [
      f.ec2.addInstance({ [PIPELINE_TAG]: PIPELINE, [ROLE_TAG]: CLIENT_ROLE }),
      f.ec2.addInstance({ [PIPELINE_TAG]: PIPELINE, [ROLE_TAG]: CLIENT_ROLE }, 'stopped'),
    ];
    const other = f.ec2.addInstance({ [PIPELINE_TAG]: OTHER, [ROLE_TAG]: CLIENT_ROLE });
    const notClient = f.ec2.addInstance({ [PIPELINE_TAG]: PIPELINE });
    const swept = await activityAttempt().run(f.teardown, 'sweepClientHosts', {
      pipelineId: PIPELINE,
    });
    assert.deepEqual(swept.sort(), hosts.map((h) => h.instanceId).sort());
    assert.ok(hosts.every((h) => f.ec2.instances.get(h.instanceId)!.state === 'terminated'));
    assert.equal(f.ec2.instances.get(other.instanceId)!.state, 'running');
    assert.equal(f.ec2.instances.get(notClient.instanceId)!.state, 'running');
  });
});

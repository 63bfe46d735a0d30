import assert from 'node:assert/strict';
import { createProbeActivities, PROBE_MISMATCH } from '../../src/activities/probe-activities';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { memoryPorts } from '../fakes/memory-ports';

function fixture() {
  const ports = memoryPorts();
  return { ...ports, probes: createProbeActivities(ports) };
}

describe('activities/probe-activities (fast: in-memory ports)', () => {
  const object = { bucket: 'probe-bucket', key: 'probe/1.txt', body: 'héllo probe' };

  it('probeObjectStore writes once, reads back, and a retry finds its own object', async () => {
    const f = fixture();
    const first = await activityAttempt().run(f.probes, 'probeObjectStore', object);
    assert.deepEqual(first, {
      bucket: object.bucket,
      key: object.key,
      bytes: Buffer.byteLength(object.body),
      created: true,
    });
    assert.equal(
      f.store.object(object.bucket, object.key)!.metadata['written-by'],
      'pinpipe-probe',
    );
    const retry = await activityAttempt({ attempt: 2 }).run(f.probes, 'probeObjectStore', object);
    assert.equal(retry.created, false);
  });

  it('probeObjectStore fails for good when what it reads back is not what it wrote', async () => {
    const f = fixture();
    await f.store.ensureBucket(object.bucket);
    await f.store.put({ bucket: object.bucket, key: object.key, body: 'someone else' });
    const failure = await failureOf(activityAttempt().run(f.probes, 'probeObjectStore', object));
    assert.equal(failure.type, PROBE_MISMATCH);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /read back "someone else"/);
    assert.equal(f.store.text(object.bucket, object.key), 'someone else', 'not overwritten');
  });

  it('probeKafka creates the topic, produces and reads the record back at its offset', async () => {
    const f = fixture();
    await f.kafka.ensureTopics([{ name: 'probe', partitions: 1 }]);
    f.kafka.append('probe', 0, [{ value: 'earlier' }]);
    const result = await activityAttempt().run(f.probes, 'probeKafka', {
      topic: 'probe',
      value: 'ping',
    });
    assert.deepEqual(result, { topic: 'probe', partition: 0, offset: 1 });
    const fresh = await activityAttempt().run(f.probes, 'probeKafka', {
      topic: 'new-probe',
      value: 'ping',
    });
    assert.deepEqual(fresh, { topic: 'new-probe', partition: 0, offset: 0 });
    assert.equal(await f.kafka.partitionCount('new-probe'), 1);
  });

  it('probeKafka fails for good when the record read back differs', async () => {
    const f = fixture();
    const read = f.kafka.readPartition.bind(f.kafka);
    f.kafka.readPartition = async (input) => {
      const r = await read(input);
      return { ...r, records: r.records.map((x) => ({ ...x, value: Buffer.from('pong') })) };
    };
    const failure = await failureOf(
      activityAttempt().run(f.probes, 'probeKafka', { topic: 'probe', value: 'ping' }),
    );
    assert.equal(failure.type, PROBE_MISMATCH);
    assert.match(failure.message, /"pong" at probe\/0@0/);
  });

  it('probeEc2 counts the regions, and fails for good on none', async () => {
    const f = fixture();
    assert.deepEqual(await activityAttempt().run(f.probes, 'probeEc2'), { regions: 2 });
    f.ec2.regions = [];
    const failure = await failureOf(activityAttempt().run(f.probes, 'probeEc2'));
    assert.equal(failure.type, PROBE_MISMATCH);
    assert.equal(failure.nonRetryable, true);
  });
});

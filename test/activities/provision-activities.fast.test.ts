import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { CONDITIONAL_WRITES_UNSUPPORTED } from '../../src/activities/conditional-write-guard';
import {
  createProvisionActivities,
  type EnsureBucketInput,
  type EnsureTopicsInput,
  type ProvisionPorts,
} from '../../src/activities/provision-activities';
import { PIPELINE_TAG } from '../../src/domain/inventory';
import { TABLES, topicFor } from '../../src/domain/tables';
import { ingestWorkflowId, nightlyScheduleId } from '../../src/domain/workflow-ids';
import { activityAttempt, failureOf } from '../fakes/activity-environment';
import { MemoryKafka } from '../fakes/memory-kafka';
import { memoryPorts } from '../fakes/memory-ports';

const PIPELINE = '0a1b2c3d4e5f';
const BUCKET = `user-${PIPELINE}-bucket`;
const TOPICS = TABLES.map((t) => topicFor(PIPELINE, t));

function fixture(overrides: Partial<ProvisionPorts> = {}) {
  const ports = memoryPorts();
  const provision = createProvisionActivities({ ...ports, ...overrides });
  /** Everything the activities could change, for "plan changed nothing". */
  const state = () =>
    JSON.stringify({
      store: ports.store.snapshot(),
      tags: [...ports.bucketTags.tags],
      topics: [...ports.kafka.topics.entries()].map(([n, t]) => [n, t.spec]),
      workflows: [...ports.control.workflows],
      schedules: [...ports.control.schedules],
    });
  return { ...ports, provision, state };
}

const outcomes = (r: { resources: { id: string; outcome: string }[] }) =>
  Object.fromEntries(r.resources.map((x) => [x.id, x.outcome]));

describe('activities/provision-activities (fast: in-memory ports)', () => {
  describe('validateTarget', () => {
    it('refuses for good a region the worker does not call, before any request', async () => {
      const f = fixture({ awsRegion: 'eu-west-1' });
      const failure = await failureOf(
        activityAttempt().run(f.provision, 'validateTarget', {
          target: 'aws',
          region: 'us-east-1',
          bucket: BUCKET,
        }),
      );
      assert.equal(failure.type, 'InvalidConfig');
      assert.equal(failure.nonRetryable, true);
      assert.equal(f.ec2.faults.count('describeRegions'), 0);
    });

    it('refuses for good a region EC2 does not offer, naming those it does', async () => {
      const f = fixture();
      const failure = await failureOf(
        activityAttempt().run(f.provision, 'validateTarget', {
          target: 'local',
          region: 'mars-north-1',
          bucket: BUCKET,
        }),
      );
      assert.equal(failure.type, 'InvalidConfig');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /us-east-1, eu-west-1/);
    });

    it("records which of the pipeline's data resources exist before the run", async () => {
      const f = fixture();
      await f.kafka.ensureTopics([{ name: TOPICS[1]!, partitions: 1 }]);
      await f.store.ensureBucket(BUCKET);
      const result = await activityAttempt().run(f.provision, 'validateTarget', {
        target: 'local',
        region: 'us-east-1',
        bucket: BUCKET,
        pipelineId: PIPELINE,
      });
      assert.deepEqual(result.preexisting, [
        { kind: 'bucket', id: BUCKET, exists: true },
        { kind: 'topic', id: TOPICS[0], exists: false },
        { kind: 'topic', id: TOPICS[1], exists: true },
        { kind: 'topic', id: TOPICS[2], exists: false },
      ]);
      assert.deepEqual(result.resources, []);
    });

    it("does not ask the worker's Kafka when told not to (the aws target's cluster is not there yet)", async () => {
      const f = fixture();
      f.kafka.faults.fail('listTopics', new Error('unreachable'), { times: 99 });
      const result = await activityAttempt().run(f.provision, 'validateTarget', {
        target: 'aws',
        region: 'us-east-1',
        bucket: BUCKET,
        pipelineId: PIPELINE,
        checkKafka: false,
      });
      assert.equal(f.kafka.faults.count('listTopics'), 0);
      assert.ok(result.preexisting!.filter((p) => p.kind === 'topic').every((p) => !p.exists));
    });

    it('lets an unreachable service fail the attempt (retryable)', async () => {
      const f = fixture();
      f.kafka.faults.fail('listTopics', new Error('ECONNREFUSED'));
      await assert.rejects(
        activityAttempt().run(f.provision, 'validateTarget', {
          target: 'local',
          region: 'us-east-1',
          bucket: BUCKET,
        }),
        (e: Error) => !(e instanceof ApplicationFailure) && /ECONNREFUSED/.test(e.message),
      );
    });
  });

  describe('ensureBucket', () => {
    const input = (overrides: Partial<EnsureBucketInput> = {}): EnsureBucketInput => ({
      bucket: BUCKET,
      encryption: true,
      blockPublicAccess: true,
      mode: 'apply',
      pipelineId: PIPELINE,
      ...overrides,
    });

    it('creates, secures, proves and tags the bucket; a second call finds it as it is', async () => {
      const f = fixture();
      const first = await activityAttempt().run(f.provision, 'ensureBucket', input());
      assert.equal(first.resources[0]!.outcome, 'created');
      assert.match(first.resources[0]!.detail!, /encryption on, public access block on/);
      assert.match(first.resources[0]!.detail!, /conditional writes proven/);
      assert.deepEqual(await f.bucketTags.get(BUCKET), { [PIPELINE_TAG]: PIPELINE });
      assert.deepEqual(await f.store.bucketSecurity(BUCKET), {
        encryption: 'on',
        publicAccessBlock: 'on',
      });
      assert.deepEqual(f.store.keys(BUCKET), [], 'the probe leaves nothing behind');

      const before = f.state();
      const second = await activityAttempt().run(f.provision, 'ensureBucket', input());
      assert.equal(second.resources[0]!.outcome, 'exists');
      assert.equal(f.state(), before);
    });

    it('calls a bucket an earlier attempt of the run made "created", and tags it', async () => {
      const f = fixture();
      await f.store.ensureBucket(BUCKET);
      const result = await activityAttempt().run(
        f.provision,
        'ensureBucket',
        input({ existedBeforeRun: false }),
      );
      assert.equal(result.resources[0]!.outcome, 'created');
      assert.equal((await f.bucketTags.get(BUCKET))[PIPELINE_TAG], PIPELINE);
    });

    it('secures a bucket found without encryption ("updated") and does not tag what it adopts', async () => {
      const f = fixture();
      await f.store.ensureBucket(BUCKET);
      const result = await activityAttempt().run(
        f.provision,
        'ensureBucket',
        input({ existedBeforeRun: true }),
      );
      assert.equal(result.resources[0]!.outcome, 'updated');
      assert.deepEqual(await f.bucketTags.get(BUCKET), {});
    });

    it('plan mode only looks: "create" for a missing bucket, "differs" for an unsecured one', async () => {
      const f = fixture();
      const before = f.state();
      const missing = await activityAttempt().run(
        f.provision,
        'ensureBucket',
        input({ mode: 'plan' }),
      );
      assert.equal(missing.resources[0]!.outcome, 'create');
      assert.equal(f.state(), before);
      assert.equal(f.store.faults.count('probeConditionalWrites'), 0, 'plan writes no probe');

      await f.store.ensureBucket(BUCKET);
      const unsecured = f.state();
      const differs = await activityAttempt().run(
        f.provision,
        'ensureBucket',
        input({ mode: 'plan' }),
      );
      assert.equal(differs.resources[0]!.outcome, 'differs');
      assert.match(
        differs.resources[0]!.detail!,
        /default encryption is off; public access not blocked/,
      );
      assert.equal(f.state(), unsecured);
    });

    it('refuses for good a server that ignores If-None-Match, removing the bucket it made for the probe', async () => {
      const f = fixture();
      f.store.conditionalWrites = 'ignored';
      const failure = await failureOf(activityAttempt().run(f.provision, 'ensureBucket', input()));
      assert.equal(failure.type, CONDITIONAL_WRITES_UNSUPPORTED);
      assert.equal(failure.nonRetryable, true);
      assert.equal(await f.store.bucketExists(BUCKET), false);
      assert.equal(f.bucketTags.tags.size, 0);
    });

    it('leaves a bucket it did not make when the probe refuses', async () => {
      const f = fixture();
      await f.store.ensureBucket(BUCKET);
      f.store.conditionalWrites = 'refused';
      const failure = await failureOf(activityAttempt().run(f.provision, 'ensureBucket', input()));
      assert.equal(failure.type, CONDITIONAL_WRITES_UNSUPPORTED);
      assert.equal(await f.store.bucketExists(BUCKET), true);
    });

    it('retries when the probe gets no verdict', async () => {
      const f = fixture();
      f.store.conditionalWrites = 'unreachable';
      await assert.rejects(
        activityAttempt().run(f.provision, 'ensureBucket', input()),
        (e: Error) => !(e instanceof ApplicationFailure) && /could not probe/.test(e.message),
      );
    });

    it('says so when the server cannot tag buckets', async () => {
      const f = fixture();
      f.bucketTags.supported = false;
      const result = await activityAttempt().run(f.provision, 'ensureBucket', input());
      assert.equal(result.resources[0]!.outcome, 'created');
      assert.match(result.resources[0]!.detail!, /bucket tagging unsupported/);
    });
  });

  describe('ensureTopics', () => {
    const input = (overrides: Partial<EnsureTopicsInput> = {}): EnsureTopicsInput => ({
      pipelineId: PIPELINE,
      partitions: 3,
      replicationFactor: 1,
      retentionMs: 86_400_000,
      mode: 'apply',
      ...overrides,
    });

    it('creates the three topics with their partitions and retention; a second call finds them', async () => {
      const f = fixture();
      const first = await activityAttempt().run(f.provision, 'ensureTopics', input());
      assert.deepEqual(outcomes(first), Object.fromEntries(TOPICS.map((t) => [t, 'created'])));
      for (const t of TOPICS) {
        assert.deepEqual(f.kafka.topics.get(t)!.spec, {
          name: t,
          partitions: 3,
          replicationFactor: 1,
          configs: { 'retention.ms': '86400000' },
        });
      }
      const before = f.state();
      const second = await activityAttempt().run(f.provision, 'ensureTopics', input());
      assert.deepEqual(outcomes(second), Object.fromEntries(TOPICS.map((t) => [t, 'exists'])));
      assert.equal(f.state(), before);
    });

    it('raises a partition count that is too low, and never lowers one', async () => {
      const f = fixture();
      await f.kafka.ensureTopics([
        { name: TOPICS[0]!, partitions: 1 },
        { name: TOPICS[1]!, partitions: 6 },
      ]);
      const result = await activityAttempt().run(f.provision, 'ensureTopics', input());
      assert.deepEqual(outcomes(result), {
        [TOPICS[0]!]: 'updated',
        [TOPICS[1]!]: 'exists',
        [TOPICS[2]!]: 'created',
      });
      assert.equal(await f.kafka.partitionCount(TOPICS[0]!), 3);
      assert.equal(await f.kafka.partitionCount(TOPICS[1]!), 6);
      assert.match(result.resources[1]!.detail!, /Kafka cannot shrink/);
    });

    it('calls a topic missing when the run began "created" (an earlier attempt made it)', async () => {
      const f = fixture();
      await f.kafka.ensureTopics([{ name: TOPICS[0]!, partitions: 3 }]);
      const result = await activityAttempt().run(
        f.provision,
        'ensureTopics',
        input({ existingBeforeRun: [] }),
      );
      assert.equal(outcomes(result)[TOPICS[0]!], 'created');
    });

    it('plan mode only looks', async () => {
      const f = fixture();
      await f.kafka.ensureTopics([{ name: TOPICS[0]!, partitions: 1 }]);
      const before = f.state();
      const result = await activityAttempt().run(
        f.provision,
        'ensureTopics',
        input({ mode: 'plan' }),
      );
      assert.deepEqual(outcomes(result), {
        [TOPICS[0]!]: 'differs',
        [TOPICS[1]!]: 'create',
        [TOPICS[2]!]: 'create',
      });
      assert.equal(f.state(), before);
    });

    it("creates the topics on the cluster's brokers when given, and disconnects from it", async () => {
      const cluster = new MemoryKafka();
      const asked: string[][] = [];
      const f = fixture({
        kafkaAt: (brokers) => {
          asked.push(brokers);
          return cluster;
        },
      });
      await activityAttempt().run(
        f.provision,
        'ensureTopics',
        input({ brokers: 'b-1:9098,b-2:9098' }),
      );
      assert.deepEqual(asked, [['b-1:9098', 'b-2:9098']]);
      assert.deepEqual(await cluster.listTopics(), [...TOPICS].sort());
      assert.deepEqual(await f.kafka.listTopics(), [], "the worker's own Kafka untouched");
      assert.equal(cluster.disconnected, 1);

      cluster.faults.fail('partitionCount', new Error('SASL authentication failed'));
      await assert.rejects(
        activityAttempt().run(f.provision, 'ensureTopics', input({ brokers: 'b-1:9098' })),
        /SASL/,
      );
      assert.equal(cluster.disconnected, 2, 'disconnected after a failure too');
    });

    it('fails when brokers are given to a worker that cannot reach other clusters', async () => {
      const f = fixture();
      await assert.rejects(
        activityAttempt().run(f.provision, 'ensureTopics', input({ brokers: 'b-1:9098' })),
        /no kafkaAt/,
      );
    });
  });

  describe('checkEndpoint', () => {
    const statuses = (answers: (number | Error)[]) => {
      const asked: string[] = [];
      const httpStatus = (url: string) => {
        asked.push(url);
        const a = answers.length > 1 ? answers.shift()! : answers[0]!;
        return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
      };
      return { asked, httpStatus };
    };

    it("answers exists once /healthz (relative to the URL's path) says 200", async () => {
      const s = statuses([503, 200]);
      const f = fixture({ httpStatus: s.httpStatus });
      const result = await activityAttempt().run(f.provision, 'checkEndpoint', {
        url: 'https://abc.execute-api.us-east-1.amazonaws.com/v1',
        readyTimeoutSeconds: 10,
        mode: 'apply',
      });
      assert.equal(result.resources[0]!.outcome, 'exists');
      assert.deepEqual(s.asked, [
        'https://abc.execute-api.us-east-1.amazonaws.com/v1/healthz',
        'https://abc.execute-api.us-east-1.amazonaws.com/v1/healthz',
      ]);
    });

    it('asks the direct URL while the stage URL cannot be reached at all, and says so', async () => {
      const s = statuses([new Error('ENOTFOUND'), 200]);
      const f = fixture({ httpStatus: s.httpStatus });
      const result = await activityAttempt().run(f.provision, 'checkEndpoint', {
        url: 'https://abc.example/v1',
        fallbackUrl: 'http://203.0.113.7:8082',
        readyTimeoutSeconds: 10,
        mode: 'apply',
      });
      assert.equal(s.asked[1], 'http://203.0.113.7:8082/healthz');
      assert.match(result.resources[0]!.detail!, /cannot be reached from this worker/);
    });

    it('fails the attempt (retryable) with the last answer when the wait runs out', async () => {
      const f = fixture({ httpStatus: statuses([502]).httpStatus });
      await assert.rejects(
        activityAttempt().run(f.provision, 'checkEndpoint', {
          url: 'http://127.0.0.1:8082',
          readyTimeoutSeconds: 0,
          mode: 'apply',
        }),
        (e: Error) => !(e instanceof ApplicationFailure) && /answered 502/.test(e.message),
      );
    });

    it('plan mode asks once and reports "create" with what it got', async () => {
      const s = statuses([new Error('ECONNREFUSED')]);
      const f = fixture({ httpStatus: s.httpStatus });
      const result = await activityAttempt().run(f.provision, 'checkEndpoint', {
        url: 'http://127.0.0.1:8082',
        readyTimeoutSeconds: 600,
        mode: 'plan',
      });
      assert.equal(result.resources[0]!.outcome, 'create');
      assert.match(result.resources[0]!.detail!, /ECONNREFUSED/);
      assert.equal(s.asked.length, 1);
    });
  });

  describe('ensureIngestion', () => {
    it('starts one workflow per table with its tunables; a second call starts none', async () => {
      const f = fixture();
      const input = {
        pipelineId: PIPELINE,
        taskQueue: 'pinpipe-host',
        maxRecords: 500,
        mode: 'apply' as const,
      };
      const first = await activityAttempt().run(f.provision, 'ensureIngestion', input);
      const ids = TABLES.map((t) => ingestWorkflowId(PIPELINE, t));
      assert.deepEqual(outcomes(first), Object.fromEntries(ids.map((id) => [id, 'created'])));
      const pin = f.control.workflows.get(ids[0]!)!;
      assert.equal(pin.taskQueue, 'pinpipe-host');
      assert.deepEqual(pin.input, { pipelineId: PIPELINE, table: 'pin', maxRecords: 500 });

      const second = await activityAttempt().run(f.provision, 'ensureIngestion', input);
      assert.deepEqual(outcomes(second), Object.fromEntries(ids.map((id) => [id, 'exists'])));
      assert.ok([...f.control.workflows.values()].every((w) => w.starts === 1));
    });

    it('plan mode only looks', async () => {
      const f = fixture();
      f.control.workflows.set(ingestWorkflowId(PIPELINE, 'geo'), {
        presence: 'running',
        starts: 1,
      });
      const before = f.state();
      const result = await activityAttempt().run(f.provision, 'ensureIngestion', {
        pipelineId: PIPELINE,
        taskQueue: 'q',
        mode: 'plan',
      });
      assert.deepEqual(Object.values(outcomes(result)), ['create', 'exists', 'create']);
      assert.equal(f.state(), before);
    });
  });

  describe('ensureSchedule', () => {
    const input = {
      pipelineId: PIPELINE,
      taskQueue: 'pinpipe',
      cron: '0 2 * * *',
      timezone: 'UTC',
      paused: false,
      mode: 'apply' as const,
    };

    it('creates the schedule, finds it unchanged, and brings a changed one in line', async () => {
      const f = fixture();
      const id = nightlyScheduleId(PIPELINE);
      assert.equal(
        outcomes(await activityAttempt().run(f.provision, 'ensureSchedule', input))[id],
        'created',
      );
      assert.equal(
        outcomes(await activityAttempt().run(f.provision, 'ensureSchedule', input))[id],
        'exists',
      );
      const updated = await activityAttempt().run(f.provision, 'ensureSchedule', {
        ...input,
        cron: '0 3 * * *',
      });
      assert.equal(outcomes(updated)[id], 'updated');
      assert.equal(f.control.schedules.get(id)!.cron, '0 3 * * *');
    });

    it('plan mode names each difference and changes nothing', async () => {
      const f = fixture();
      await activityAttempt().run(f.provision, 'ensureSchedule', input);
      const before = f.state();
      const result = await activityAttempt().run(f.provision, 'ensureSchedule', {
        ...input,
        timezone: 'Europe/Paris',
        paused: true,
        mode: 'plan',
      });
      assert.equal(result.resources[0]!.outcome, 'differs');
      assert.match(
        result.resources[0]!.detail!,
        /timezone "UTC" → "Europe\/Paris"; paused false → true/,
      );
      assert.equal(f.state(), before);
    });
  });
});

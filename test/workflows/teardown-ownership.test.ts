import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Adapters } from '../../src/adapters/create-adapters';
import type { TemporalControl } from '../../src/adapters/temporal-control';
import { INVENTORY_KEY } from '../../src/domain/inventory';
import type { ProvisionInput } from '../../src/domain/provision-input';
import { TABLES, bucketFor, topicFor } from '../../src/domain/tables';
import type { createActivities } from '../../src/workers/create-activities';
import { provisionPipeline } from '../../src/workflows/provision-pipeline';
import { teardownPipeline, type TeardownInput } from '../../src/workflows/teardown-pipeline';
import { randomPipelineId } from '../helpers/ingest-fixtures';
import { auditPipeline, fullyProvisioned, nothingLeft } from '../helpers/provision-audit';
import {
  saveHistory,
  startProvisionStack,
  tearDownPipelines,
  type ProvisionStack,
} from '../helpers/provision-stack';
import { uniqueName } from '../helpers/stack';
import { withTestWorker } from '../helpers/temporal';

/**
 * Teardown removes only what is provably the pipeline's own, on the real stack (moto for EC2,
 * versitygw for S3, Kafka): an inventory edited by hand to name a foreign instance, topic or
 * bucket, a tampered `holdsData`, an adopted bucket. Every claim is checked in the services.
 */
describe('teardownPipeline removes only what is provably its own (real stack)', function () {
  this.timeout(300_000);
  let provisioning: ProvisionStack | undefined;
  let env: TestWorkflowEnvironment;
  let adapters: Adapters;
  let control: TemporalControl;
  let activities: ReturnType<typeof createActivities>;
  const foreign = { instances: [] as string[], topics: [] as string[], buckets: [] as string[] };

  before(async () => {
    provisioning = await startProvisionStack();
    ({ env, adapters, control } = provisioning);
    activities = provisioning.activities();
  });

  after(async () => {
    if (provisioning) {
      // Adopted ones too, should a failed test have left any.
      await tearDownPipelines(env, activities, provisioning.pipelines, (pipelineId) => ({
        includeAdopted: [bucketFor(pipelineId), ...TABLES.map((t) => topicFor(pipelineId, t))],
      }));
      // What the tests made as foreign resources, removed directly.
      await adapters.ec2.terminateInstances(foreign.instances).catch(() => undefined);
      await adapters.kafka.deleteTopics(foreign.topics).catch(() => undefined);
      for (const b of foreign.buckets) await emptyAndDelete(b).catch(() => undefined);
    }
    await provisioning?.close();
  });

  async function emptyAndDelete(bucket: string): Promise<void> {
    if (!(await adapters.store.bucketExists(bucket))) return;
    const keys: string[] = [];
    for await (const o of adapters.store.list({ bucket, prefix: '' })) keys.push(o.key);
    await adapters.store.deleteMany(bucket, keys);
    await adapters.store.deleteBucket(bucket);
  }

  const newPipeline = () => provisioning!.newPipeline();

  const input = (pipelineId: string, extra: Partial<ProvisionInput> = {}): ProvisionInput => ({
    pipelineId,
    target: 'local',
    endpoint: { url: provisioning!.apiUrl },
    ingestion: { rotateIntervalMs: 2_000 },
    ...extra,
  });

  async function provision(taskQueue: string, pi: ProvisionInput) {
    const result = await env.client.workflow.execute(provisionPipeline, {
      taskQueue,
      workflowId: `provision-${pi.pipelineId}-${Date.now()}`,
      args: [pi],
    });
    assert.equal(result.status, 'completed', JSON.stringify(result.steps));
    return result;
  }

  /** With PINPIPE_SAVE_HISTORIES=1, `saveAs` keeps the run's history as a replay fixture. */
  async function teardown(taskQueue: string, args: TeardownInput, saveAs?: string) {
    const workflowId = `teardown-${args.pipelineId}-${Date.now()}`;
    const result = await env.client.workflow.execute(teardownPipeline, {
      taskQueue,
      workflowId,
      args: [args],
    });
    if (saveAs) await saveHistory(env.client, workflowId, saveAs);
    return result;
  }

  type Json = Record<string, unknown> & { owned?: unknown[]; resources?: unknown[] };

  async function readInventory(bucket: string): Promise<Json> {
    const bytes = await adapters.store.get({ bucket, key: INVENTORY_KEY });
    assert.ok(bytes, `no inventory in ${bucket}`);
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Json;
  }

  /** An edit by hand: the file is rewritten as a person with write access would. */
  async function editInventory(bucket: string, edit: (inv: Json) => void): Promise<void> {
    const inv = await readInventory(bucket);
    edit(inv);
    await adapters.store.put({
      bucket,
      key: INVENTORY_KEY,
      body: JSON.stringify(inv, null, 2),
      contentType: 'application/json',
    });
  }

  /** The list teardown removes from: `owned` now (`resources` in the inventory's first form). */
  const ownedList = (inv: Json) => (inv.owned ?? inv.resources) as Array<Record<string, unknown>>;

  it('refuses a foreign instance, topic and bucket named in the inventory, with reasons, and removes its own', async () => {
    const pipelineId = newPipeline();
    const other = randomPipelineId();
    await withTestWorker(env, activities, async (taskQueue) => {
      await provision(taskQueue, input(pipelineId));

      // An instance without the pipeline's tag, another pipeline's topic, a bucket named otherwise.
      const instance = await adapters.ec2.runInstance({
        imageId: 'ami-03c3da4cfa8e8943a',
        instanceType: 't3.micro',
        tags: { Name: 'not-pinpipe' },
      });
      foreign.instances.push(instance.instanceId);
      const topic = topicFor(other, 'pin');
      await adapters.kafka.ensureTopics([{ name: topic, partitions: 1 }]);
      foreign.topics.push(topic);
      const bucket = uniqueName('foreign').toLowerCase();
      await adapters.store.ensureBucket(bucket);
      await adapters.store.put({ bucket, key: 'precious.txt', body: 'keep me' });
      foreign.buckets.push(bucket);

      await editInventory(bucketFor(pipelineId), (inv) => {
        ownedList(inv).push(
          { kind: 'instance', id: instance.instanceId, deleteHow: 'x', holdsData: false },
          { kind: 'topic', id: topic, deleteHow: 'x', holdsData: false },
          { kind: 'bucket', id: bucket, deleteHow: 'x', holdsData: false },
        );
      });

      const down = await teardown(
        taskQueue,
        { pipelineId, deleteData: true },
        'teardown-pipeline-refusals',
      );
      const refused = Object.fromEntries((down.refused ?? []).map((r) => [r.kind, r]));
      assert.deepEqual(Object.keys(refused).sort(), ['bucket', 'instance', 'topic']);
      assert.equal(refused.instance?.id, instance.instanceId);
      assert.match(refused.instance?.reason ?? '', /does not carry the tag pinpipe:pipeline=/);
      assert.match(refused.topic?.reason ?? '', new RegExp(`not named ${pipelineId}\\.<table>`));
      assert.match(
        refused.bucket?.reason ?? '',
        new RegExp(`neither named user-${pipelineId}-bucket nor tagged pinpipe:pipeline=`),
      );

      // The foreign resources are untouched...
      assert.equal((await adapters.ec2.describeInstance(instance.instanceId))?.state, 'running');
      assert.equal(await adapters.kafka.partitionCount(topic), 1);
      assert.ok(
        await adapters.store.head({ bucket, key: 'precious.txt' }),
        'foreign bucket emptied',
      );
      // ...and the pipeline's own are gone.
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('a tampered holdsData: false on the bucket does not make teardown without deleteData empty it', async () => {
    const pipelineId = newPipeline();
    const bucket = bucketFor(pipelineId);
    await withTestWorker(env, activities, async (taskQueue) => {
      await provision(taskQueue, input(pipelineId, { schedule: { enabled: false } }));
      await adapters.store.put({ bucket, key: 'topics/data.json', body: '{"ind":1}\n' });
      await editInventory(bucket, (inv) => {
        for (const r of ownedList(inv)) r.holdsData = false;
      });

      const down = await teardown(taskQueue, { pipelineId });
      assert.deepEqual(down.kept.map((k) => k.kind).sort(), ['bucket', 'topic', 'topic', 'topic']);
      assert.deepEqual(down.refused ?? [], []);
      assert.ok(await adapters.store.head({ bucket, key: 'topics/data.json' }), 'bucket emptied');
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.deepEqual(
        { bucket: audit.bucket, topics: audit.topics, instances: audit.instances },
        {
          bucket: true,
          topics: fullyProvisioned(pipelineId).topics,
          instances: [],
        },
      );
      // The kept data stays on record: a later deleteData teardown removes it.
      const all = await teardown(taskQueue, { pipelineId, deleteData: true });
      assert.deepEqual(all.removed.map((r) => r.kind).sort(), [
        'bucket',
        'topic',
        'topic',
        'topic',
      ]);
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('an adopted bucket (there before provisioning) is listed apart and left alone unless named', async () => {
    const pipelineId = newPipeline();
    const bucket = bucketFor(pipelineId);
    await withTestWorker(env, activities, async (taskQueue) => {
      await adapters.store.ensureBucket(bucket);
      await adapters.store.put({ bucket, key: 'theirs/keep.txt', body: 'not pinpipe data' });

      const result = await provision(taskQueue, input(pipelineId));
      const inv = result.inventory;
      assert.ok(inv, 'the run returns its inventory');
      assert.deepEqual(
        inv.adopted.map((r) => `${r.kind}:${r.id}`),
        [`bucket:${bucket}`],
      );
      assert.ok(!inv.owned.some((r) => r.kind === 'bucket'), JSON.stringify(inv.owned));
      assert.deepEqual(
        inv.owned.filter((r) => r.kind === 'topic').map((r) => r.id),
        TABLES.map((t) => topicFor(pipelineId, t)),
      );
      const onFile = await readInventory(bucket);
      assert.deepEqual(onFile.adopted, inv.adopted);

      const down = await teardown(
        taskQueue,
        { pipelineId, deleteData: true },
        'teardown-pipeline-adopted',
      );
      assert.deepEqual(
        down.adopted.map((r) => `${r.kind}:${r.id}`),
        [`bucket:${bucket}`],
      );
      assert.ok(!down.removed.some((r) => r.kind === 'bucket'), JSON.stringify(down.removed));
      assert.ok(await adapters.store.head({ bucket, key: 'theirs/keep.txt' }), 'adopted emptied');
      const audit = await auditPipeline(adapters, control, pipelineId);
      assert.deepEqual(
        { ...audit, bucket: undefined, inventory: undefined },
        { ...nothingLeft(pipelineId), bucket: undefined, inventory: undefined },
      );
      assert.equal(audit.bucket, true);

      // Named, it goes (deleteData still required for a resource that holds data).
      const named = await teardown(taskQueue, {
        pipelineId,
        deleteData: true,
        includeAdopted: [bucket],
      });
      assert.deepEqual(
        named.removed.map((r) => `${r.kind}:${r.id}:${r.result}`),
        [`bucket:${bucket}:deleted`],
      );
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('a topic or bucket made by an attempt that died before reporting it is still recorded as owned', async () => {
    const pipelineId = newPipeline();
    // Each step's first attempt does its work, then fails as a killed worker would: the retry
    // finds the bucket and topics there, and must not take them for adopted ones.
    const died = new Set<string>();
    const dieOnce =
      <A extends unknown[], R>(name: string, real: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const r = await real(...args);
        if (died.has(name)) return r;
        died.add(name);
        throw new Error(`${name}: the worker died before reporting`);
      };
    const flaky = {
      ...activities,
      ensureBucket: dieOnce('ensureBucket', activities.ensureBucket),
      ensureTopics: dieOnce('ensureTopics', activities.ensureTopics),
    };
    await withTestWorker(env, flaky, async (taskQueue) => {
      const result = await provision(
        taskQueue,
        input(pipelineId, { schedule: { enabled: false } }),
      );
      assert.deepEqual([...died].sort(), ['ensureBucket', 'ensureTopics']);
      const byStep = (step: string) => result.steps.find((x) => x.step === step)!;
      assert.equal(byStep('bucket').attempt, 2);
      assert.equal(byStep('topics').attempt, 2);
      assert.deepEqual(
        result.resources
          .filter((r) => r.kind === 'bucket' || r.kind === 'topic')
          .map((r) => r.outcome),
        ['created', 'created', 'created', 'created'],
      );
      assert.deepEqual(result.inventory?.adopted, []);
      const tags = await adapters.bucketTags.get(bucketFor(pipelineId));
      assert.equal(tags['pinpipe:pipeline'], pipelineId);
      const down = await teardown(taskQueue, { pipelineId, deleteData: true });
      assert.deepEqual(down.adopted, []);
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });

  it('a bucket under another name is deleted when it carries the pipeline tag provisioning set', async () => {
    const pipelineId = newPipeline();
    const bucket = uniqueName('pinpipe-custom').toLowerCase();
    foreign.buckets.push(bucket);
    await withTestWorker(env, activities, async (taskQueue) => {
      const result = await provision(
        taskQueue,
        // Ingestion off: the ingestion workflows write to user-<id>-bucket whatever the name.
        input(pipelineId, {
          bucket: { name: bucket },
          schedule: { enabled: false },
          ingestion: { start: false },
        }),
      );
      assert.ok(result.inventory?.owned.some((r) => r.kind === 'bucket' && r.id === bucket));
      const down = await teardown(taskQueue, { pipelineId, deleteData: true, bucket });
      assert.deepEqual(down.refused, []);
      assert.ok(down.removed.some((r) => r.kind === 'bucket' && r.result === 'deleted'));
      assert.equal(await adapters.store.bucketExists(bucket), false);
      assert.deepEqual(await auditPipeline(adapters, control, pipelineId), nothingLeft(pipelineId));
    });
  });
});

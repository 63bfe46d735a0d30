import { ApplicationFailure } from '@temporalio/activity';
import type { Ec2Port } from '../ports/ec2';
import type { KafkaAdmin, KafkaProducer, KafkaReader } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';

/** Activities that prove each service answers real requests: the worker's end-to-end check. */

export interface ProbeObjectStoreInput {
  bucket: string;
  key: string;
  body: string;
}
export interface ProbeObjectStoreResult {
  bucket: string;
  key: string;
  bytes: number;
  /** False when a retry found the object already written by an earlier attempt. */
  created: boolean;
}

export interface ProbeKafkaInput {
  topic: string;
  value: string;
}
export interface ProbeKafkaResult {
  topic: string;
  partition: number;
  offset: number;
}

export interface ProbeEc2Result {
  regions: number;
}

export const PROBE_MISMATCH = 'ProbeMismatch';

export function createProbeActivities(deps: {
  store: ObjectStore;
  kafka: KafkaAdmin & KafkaProducer & KafkaReader;
  ec2: Ec2Port;
}) {
  return {
    async probeObjectStore(input: ProbeObjectStoreInput): Promise<ProbeObjectStoreResult> {
      await deps.store.ensureBucket(input.bucket);
      const put = await deps.store.putIfAbsent({
        bucket: input.bucket,
        key: input.key,
        body: input.body,
        contentType: 'text/plain; charset=utf-8',
        metadata: { 'written-by': 'pinpipe-probe' },
      });
      const read = await deps.store.get({ bucket: input.bucket, key: input.key });
      const text = read ? Buffer.from(read).toString('utf8') : undefined;
      if (text !== input.body) {
        throw ApplicationFailure.nonRetryable(
          `read back ${JSON.stringify(text)} from s3://${input.bucket}/${input.key}, wrote ${JSON.stringify(input.body)}`,
          PROBE_MISMATCH,
        );
      }
      return {
        bucket: input.bucket,
        key: input.key,
        bytes: Buffer.byteLength(text),
        created: put.status === 'created',
      };
    },

    async probeKafka(input: ProbeKafkaInput): Promise<ProbeKafkaResult> {
      await deps.kafka.ensureTopics([{ name: input.topic, partitions: 1 }]);
      const [produced] = await deps.kafka.produce(input.topic, [{ value: input.value }]);
      if (!produced) throw new Error(`producing to ${input.topic} returned no offset`);
      const read = await deps.kafka.readPartition({
        topic: input.topic,
        partition: produced.partition,
        fromOffset: produced.offset,
        maxRecords: 1,
        maxWaitMs: 10_000,
      });
      const value = read.records[0]?.value;
      const text = value ? Buffer.from(value).toString('utf8') : undefined;
      if (text !== input.value) {
        throw ApplicationFailure.nonRetryable(
          `read back ${JSON.stringify(text)} at ${input.topic}/${produced.partition}@${produced.offset}`,
          PROBE_MISMATCH,
        );
      }
      return { topic: input.topic, ...produced };
    },

    async probeEc2(): Promise<ProbeEc2Result> {
      const regions = await deps.ec2.describeRegions();
      if (regions.length === 0) {
        throw ApplicationFailure.nonRetryable(
          'EC2 DescribeRegions returned no region',
          PROBE_MISMATCH,
        );
      }
      return { regions: regions.length };
    },
  };
}

export type ProbeActivities = ReturnType<typeof createProbeActivities>;

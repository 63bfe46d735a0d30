import type { Config } from '../config';
import type { BucketTags } from '../ports/bucket-tags';
import type { Ec2Port } from '../ports/ec2';
import type { KafkaPort } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import { AwsEc2, createEc2Client } from './ec2-client';
import { KafkajsKafka } from './kafkajs-kafka';
import { S3BucketTags } from './s3-bucket-tags';
import { createS3Client, S3ObjectStore } from './s3-object-store';

export interface Adapters {
  store: ObjectStore;
  kafka: KafkaPort;
  ec2: Ec2Port;
  bucketTags: BucketTags;
  close(): Promise<void>;
}

/** Builds the real adapters from config. Process edges call this once and pass ports down. */
export function createAdapters(config: Config): Adapters {
  const s3 = createS3Client(config.aws);
  const ec2Client = createEc2Client(config.aws);
  const kafka = KafkajsKafka.fromOptions(config.kafka);
  return {
    store: new S3ObjectStore(s3),
    kafka,
    ec2: new AwsEc2(ec2Client),
    bucketTags: new S3BucketTags(s3),
    async close() {
      await kafka.disconnect();
      s3.destroy();
      ec2Client.destroy();
    },
  };
}

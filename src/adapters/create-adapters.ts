import type { Config } from '../config';
import type { AwsProvisionPorts } from '../activities/aws-provision-activities';
import type { BucketTags } from '../ports/bucket-tags';
import type { Ec2Port } from '../ports/ec2';
import type { KafkaAdmin, KafkaPort } from '../ports/kafka';
import type { ObjectStore } from '../ports/object-store';
import { AwsApiGateway, createApiGatewayClient } from './aws-api-gateway';
import { AwsIam, createIamClient } from './aws-iam';
import { AwsMsk, createMskClient } from './aws-msk';
import { AwsNetwork } from './aws-network';
import { AwsSecrets, createSecretsClient } from './aws-secrets';
import { AwsEc2, createEc2Client } from './ec2-client';
import { KafkajsKafka } from './kafkajs-kafka';
import type { RecordSignature } from '../ports/record-signature';
import { threadedRecordSignature } from './record-signature';
import { S3BucketTags } from './s3-bucket-tags';
import { createS3Client, S3ObjectStore } from './s3-object-store';

export interface Adapters {
  store: ObjectStore;
  kafka: KafkaPort;
  ec2: Ec2Port;
  bucketTags: BucketTags;
  /** Verifies what the ingest API signed (PINPIPE_SIGNING_KEY); unset, the sink validates all. */
  signature?: RecordSignature;
  /** The region the AWS clients call (AWS_REGION). */
  awsRegion: string;
  /** The aws target's control plane (moto on the local stack). Clients connect on first use. */
  aws: AwsProvisionPorts;
  /**
   * A Kafka client for an MSK cluster's TLS + IAM bootstrap servers (the aws target's topics),
   * signing with the AWS credential chain whatever this process's own Kafka settings are.
   */
  kafkaAt(brokers: string[]): KafkaAdmin & { disconnect(): Promise<void> };
  close(): Promise<void>;
}

/** Builds the real adapters from config. Process edges call this once and pass ports down. */
export function createAdapters(config: Config): Adapters {
  const s3 = createS3Client(config.aws);
  const ec2Client = createEc2Client(config.aws);
  const kafka = KafkajsKafka.fromOptions(config.kafka);
  // The sink verifies signed runs on a thread of its own (the API's producer signs in place).
  const key = config.kafka.signingKey;
  const signature = key === undefined ? undefined : threadedRecordSignature(key);
  const clients = {
    iam: createIamClient(config.aws),
    secrets: createSecretsClient(config.aws),
    msk: createMskClient(config.aws),
    apiGateway: createApiGatewayClient(config.aws),
  };
  return {
    store: new S3ObjectStore(s3),
    kafka,
    ...(signature ? { signature } : {}),
    ec2: new AwsEc2(ec2Client),
    bucketTags: new S3BucketTags(s3),
    awsRegion: config.aws.region,
    aws: {
      network: new AwsNetwork(ec2Client),
      iam: new AwsIam(clients.iam),
      secrets: new AwsSecrets(clients.secrets),
      msk: new AwsMsk(clients.msk),
      apiGateway: new AwsApiGateway(clients.apiGateway),
    },
    kafkaAt: (brokers) =>
      KafkajsKafka.fromOptions({
        ...config.kafka,
        brokers,
        security: { ssl: true, saslMechanism: 'aws-msk-iam' },
      }),
    async close() {
      await kafka.disconnect();
      await signature?.close();
      s3.destroy();
      ec2Client.destroy();
      for (const c of Object.values(clients)) c.destroy();
    },
  };
}

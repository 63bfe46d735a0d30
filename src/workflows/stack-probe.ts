import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ProbeActivities } from '../activities/probe-activities';
import { activityProfiles } from './activity-profiles';

export interface StackProbeInput {
  /** Bucket the probe writes to; created if missing. */
  bucket?: string;
  /** Topic the probe produces to; created if missing. */
  topic?: string;
}

export interface StackProbeResult {
  s3: { bucket: string; key: string; bytes: number };
  kafka: { topic: string; partition: number; offset: number };
  ec2: { regions: number };
}

const { probeObjectStore, probeKafka } = proxyActivities<ProbeActivities>(activityProfiles.quickIo);
const { probeEc2 } = proxyActivities<ProbeActivities>(activityProfiles.controlPlane);

/** Touches every service once, in parallel: S3 write+read, Kafka produce+read, EC2 describe. */
export async function stackProbe(input: StackProbeInput = {}): Promise<StackProbeResult> {
  const { workflowId, runId } = workflowInfo();
  const bucket = input.bucket ?? 'pinpipe-probe';
  const topic = input.topic ?? 'pinpipe.probe';
  const body = `probe ${workflowId} ${runId}`;
  const [s3, kafka, ec2] = await Promise.all([
    probeObjectStore({ bucket, key: `probe/${workflowId}/${runId}.txt`, body }),
    probeKafka({ topic, value: body }),
    probeEc2(),
  ]);
  return { s3: { bucket: s3.bucket, key: s3.key, bytes: s3.bytes }, kafka, ec2 };
}

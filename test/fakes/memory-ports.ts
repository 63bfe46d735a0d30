import { MemoryBucketTags } from './memory-bucket-tags';
import { MemoryControl } from './memory-control';
import { MemoryEc2 } from './memory-ec2';
import { MemoryKafka } from './memory-kafka';
import { MemoryObjectStore } from './memory-object-store';

/** Every port of the local target in memory (S3 with `buckets` made), for activities' fixtures. */
export function memoryPorts(options: { buckets?: string[] } = {}) {
  return {
    store: new MemoryObjectStore(options.buckets ? { buckets: options.buckets } : {}),
    bucketTags: new MemoryBucketTags(),
    kafka: new MemoryKafka(),
    ec2: new MemoryEc2(),
    control: new MemoryControl(),
  };
}

// The worker's workflowsPath: every workflow type the task queue serves is exported here.
export { stackProbe } from './stack-probe';
export { ingestTopic } from './ingest-topic';
export { cleanTable } from './clean-table';
export { nightlyBatch } from './nightly-batch';
export { backfill } from './backfill';
export { provisionPipeline } from './provision-pipeline';
export { teardownPipeline } from './teardown-pipeline';

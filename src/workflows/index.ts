// The worker's workflowsPath: every workflow type the task queue serves is exported here.
export { stackProbe } from './stack-probe';
export { ingestTopic } from './ingest-topic';

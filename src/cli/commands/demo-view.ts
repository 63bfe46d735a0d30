import type { Client } from '@temporalio/client';

/** True when some worker has polled the task queue's workflow tasks recently. */
export async function hasWorker(
  client: Client,
  namespace: string,
  taskQueue: string,
): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).length > 0;
}

/** `ingested 12,345 / 15,000 records [#######   ] lag 321` */
export function lagBar(done: number, target: number, lag: number, width = 30): string {
  const ratio = target > 0 ? Math.min(1, done / target) : 1;
  const filled = Math.round(ratio * width);
  const n = (x: number) => x.toLocaleString('en-US');
  return `ingested ${n(done)} / ${n(target)} records [${'#'.repeat(filled)}${' '.repeat(width - filled)}] lag ${n(lag)}`;
}

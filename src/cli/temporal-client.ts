import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

/** A Temporal client for one CLI command; call close() when done. */
export async function connectTemporal(
  config: Config,
): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect(config.temporal.connect.connectionOptions);
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return { client, close: () => connection.close() };
}

/** Where a person can watch a workflow (the local Web UI; Cloud users have their own). */
export function webUiLink(config: Config, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

import type { ServerResponse } from 'node:http';
import type { ApiContext } from './context';
import { sendJson } from './errors';
import { describeError } from './kafka-errors';
import { withTimeout } from './with-timeout';

/** `GET /healthz`: ok only when Kafka answers a metadata request within the health timeout. */
export async function handleHealth(ctx: ApiContext, res: ServerResponse): Promise<void> {
  try {
    await withTimeout(ctx.kafka.listTopics(), ctx.healthTimeoutMs, 'Kafka');
    sendJson(res, 200, { status: 'ok', kafka: 'ok' }, {}, 'application/json');
  } catch (err) {
    sendJson(
      res,
      503,
      { status: 'unavailable', kafka: describeError(err) },
      {},
      'application/json',
    );
  }
}
